from __future__ import annotations

from videosynth.domain.blocklist import Blocklist


def test_terms_skip_blanks_comments_and_duplicates() -> None:
    blocklist = Blocklist.from_lines(["  Gore ", "", "# a comment", "gore", "暴力\n"])
    assert blocklist.terms == ("gore", "暴力")


def test_hits_anywhere_case_and_width_insensitively() -> None:
    blocklist = Blocklist.from_lines(["gore", "暴力"])
    assert blocklist.first_hit("A film full of GORE") == "gore"
    assert blocklist.first_hit("ｇｏｒｅ fest") == "gore"  # full-width letters fold to plain ones
    assert blocklist.first_hit("一段暴力的视频") == "暴力"  # no word boundaries in Chinese
    assert blocklist.first_hit("a cat", None, "the negative prompt says gore") == "gore"


def test_clean_texts_and_an_empty_list_pass() -> None:
    assert Blocklist.from_lines(["gore"]).first_hit("a cat dancing", None, "") is None
    assert Blocklist.from_lines([]).first_hit("anything") is None
