from __future__ import annotations

import pytest

from videosynth.prompting.language import CHINESE_SHARE, chinese_share, prompt_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("一只猫在弹钢琴", "zh"),
        ("一只猫在弹钢琴, 4K, cinematic", "zh"),
        ("赛博朋克风格的城市夜景，霓虹灯闪烁，neon lights", "zh"),
        ("a cat playing piano", "en"),
        ("A neon sign that says 欢迎光临 above a door", "en"),
        ("Un chat qui joue du piano", "en"),
        ("猫がピアノを弾いている", "en"),  # Japanese: kana outweigh the kanji
        ("고양이가 피아노를 친다", "en"),
        ("", "en"),
        ("123 !!! ...", "en"),
        ("𠀀𠀁𠀂 (extension B)", "zh"),
    ],
)
def test_prompt_language(text: str, language: str) -> None:
    assert prompt_language(text) == language


def test_share_counts_latin_words_as_units() -> None:
    assert chinese_share("猫 cat") == 0.5
    assert chinese_share("cat") == 0.0
    assert chinese_share("猫猫") == 1.0
    assert 0 < CHINESE_SHARE < 1
