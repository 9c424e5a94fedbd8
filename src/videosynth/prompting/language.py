"""Which language a prompt is written in, as far as choosing the rewrite's language goes. Pure.

Chinese prompts are rewritten in Chinese, everything else in English (the languages Wan is trained on).
A prompt counts as Chinese when Han characters make up at least ``CHINESE_SHARE`` of its *units*, where a
unit is one Han character, one kana/hangul character, or one run of other letters/digits (a Latin word).
Counting a Latin word as one unit, like a Han character, keeps "一只猫在弹钢琴, 4K, cinematic"
Chinese and "a neon sign that says 欢迎光临" English; kana make Japanese count as not Chinese.
"""

from __future__ import annotations

import re

from videosynth.prompting.base import Language

CHINESE_SHARE = 0.4

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_KANA_HANGUL = "\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af"
_UNIT = re.compile(rf"([{_HAN}])|([{_KANA_HANGUL}])|([^\W_{_HAN}{_KANA_HANGUL}]+)")


def chinese_share(text: str) -> float:
    """Han characters / all units (0.0 for text without any)."""
    han = other = 0
    for match in _UNIT.finditer(text):
        if match.group(1):
            han += 1
        else:
            other += 1
    total = han + other
    return han / total if total else 0.0


def prompt_language(text: str) -> Language:
    return "zh" if chinese_share(text) >= CHINESE_SHARE else "en"
