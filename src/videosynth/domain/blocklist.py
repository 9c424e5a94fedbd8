"""An operator's prompt blocklist: terms, one a line, matched anywhere in a prompt, case- and width-insensitively.

Substring matching, not words: Chinese and Japanese prompts have no spaces between words, and a listed term is
meant to be refused wherever it appears. NFKC folding makes full-width letters and ligatures match their plain
forms, so ｂａｄ or ＢＡＤ cannot slip past "bad".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

COMMENT = "#"


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Blocklist:
    terms: tuple[str, ...]  # folded, blank lines and comments dropped

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Blocklist:
        """Terms from a file's lines; blank lines and lines starting with ``#`` are skipped."""
        terms = (_folded(line.strip()) for line in lines)
        return cls(tuple(dict.fromkeys(term for term in terms if term and not term.startswith(COMMENT))))

    def first_hit(self, *texts: str | None) -> str | None:
        """The first listed term found in any of ``texts`` (None entries skipped), or None."""
        folded = [_folded(text) for text in texts if text]
        for term in self.terms:
            if any(term in text for text in folded):
                return term
        return None
