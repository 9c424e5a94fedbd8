from __future__ import annotations

import pytest

from videosynth.prompting.check import MAX_CHARS, check_rewrite, clean_answer
from videosynth.prompting.system_prompts import (
    EXAMPLE_EN,
    EXAMPLE_ZH,
    INSTRUCTIONS_EN,
    INSTRUCTIONS_ZH,
    SYSTEM_PROMPT_EN,
    SYSTEM_PROMPT_ZH,
    instructions_for,
    system_prompt_for,
)

GOOD = "A ginger cat plays a grand piano on a moonlit stage, slow dolly-in, photorealistic."


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (GOOD, GOOD),
        (f"  {GOOD}\n\n", GOOD),
        (f'"{GOOD}"', GOOD),
        (f"“{GOOD}”", GOOD),
        (f"「{GOOD}」", GOOD),
        (f"<think>\nThe user wants more detail.\n</think>\n\n{GOOD}", GOOD),
        (f"<think>still thinking, ran out of tokens {GOOD}", ""),
        (f"```\n{GOOD}\n```", GOOD),
        (f"```text\n{GOOD}\n```", GOOD),
        (f"Here is the rewritten prompt:\n\n{GOOD}", GOOD),
        (f"Sure! Here's an extended version: {GOOD}", GOOD),
        (f"Rewritten prompt: {GOOD}", GOOD),
        (f"Output: {GOOD}", GOOD),
        (f'Here is the prompt: "{GOOD}"', GOOD),
        ("改写后的提示词：一只橘猫在月光下弹钢琴。", "一只橘猫在月光下弹钢琴。"),
        ("输出：一只橘猫在月光下弹钢琴。", "一只橘猫在月光下弹钢琴。"),
        # Only wrapping is removed: inner quotes and a colon inside the text stay.
        ('A sign reads "OPEN": a cat walks past it.', 'A sign reads "OPEN": a cat walks past it.'),
        ('"OPEN" glows on a sign while a cat walks past', '"OPEN" glows on a sign while a cat walks past'),
    ],
)
def test_clean_answer(raw: str, clean: str) -> None:
    assert clean_answer(raw) == clean


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty answer"),
        ("x" * (MAX_CHARS + 1), "too long"),
        ("I'm sorry, but I can't help with that.", "refusal"),
        ("I’m sorry, I cannot do that.", "refusal"),
        ("Sorry, that request violates the policy.", "refusal"),
        ("I cannot create content like this.", "refusal"),
        ("As an AI language model, I won't.", "refusal"),
        ("抱歉，我无法完成这个请求。", "refusal"),
        ("我不能生成这样的内容。", "refusal"),
        (SYSTEM_PROMPT_EN, "echo of instructions"),
        (INSTRUCTIONS_EN, "echo of instructions"),
        (f"{GOOD} Never drop, swap or contradict anything.", "echo of instructions"),
        ("a cat", "unchanged"),
        ("  A   Cat ", "unchanged"),
    ],
)
def test_check_rewrite_reasons(text: str, reason: str) -> None:
    assert check_rewrite(text, "a cat", INSTRUCTIONS_EN) == reason


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        "x" * MAX_CHARS,
        "A sorry-looking dog sits in the rain; I can't help noticing its drooping ears, close-up, documentary.",
        # Borrowing from the example is fine; only the instructions count as an echo.
        EXAMPLE_EN.split("Output: ", 1)[1],
        "Medium shot, photorealistic, shallow depth of field.",
    ],
)
def test_usable_english_rewrites(text: str) -> None:
    assert check_rewrite(text, "a cat", INSTRUCTIONS_EN) is None


def test_chinese_rewrites() -> None:
    original = "一只猫在弹钢琴"
    assert check_rewrite(EXAMPLE_ZH.split("输出：", 1)[1].strip(), original, INSTRUCTIONS_ZH) is None
    assert check_rewrite(SYSTEM_PROMPT_ZH, original, INSTRUCTIONS_ZH) == "echo of instructions"
    assert check_rewrite(INSTRUCTIONS_ZH.splitlines()[0], original, INSTRUCTIONS_ZH) == "echo of instructions"
    assert check_rewrite("很抱歉，这个请求我不能完成。", original, INSTRUCTIONS_ZH) == "refusal"


def test_system_prompts_by_language() -> None:
    assert system_prompt_for("zh") == SYSTEM_PROMPT_ZH and instructions_for("zh") == INSTRUCTIONS_ZH
    assert system_prompt_for("en") == SYSTEM_PROMPT_EN and instructions_for("en") == INSTRUCTIONS_EN
    assert SYSTEM_PROMPT_EN.startswith(INSTRUCTIONS_EN) and SYSTEM_PROMPT_ZH.startswith(INSTRUCTIONS_ZH)
    # The spirit of the rewrite: keep every element; add subject, scene, lighting, camera, style.
    for word in ("Keep every element", "lighting", "camera", "style", "only the rewritten prompt"):
        assert word in INSTRUCTIONS_EN
    for word in ("保留原文的全部要素", "光线", "运镜", "风格", "只输出改写后的提示词", "用中文"):
        assert word in INSTRUCTIONS_ZH
