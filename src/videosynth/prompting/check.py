"""Turning a chat model's raw answer into a usable prompt, or saying why it is not one. Pure.

``clean_answer`` removes the wrapping chat models commonly add around an answer, and nothing inside it:
  * ``<think>…</think>`` reasoning blocks (an unclosed ``<think>`` drops everything after it);
  * one markdown code fence around the whole answer;
  * one leading label such as ``Here is the rewritten prompt:``, ``Rewritten prompt:``, ``Output:``,
    ``改写后的提示词：``;
  * one pair of quotation marks around the whole answer.

``check_rewrite`` then returns the reason a cleaned answer cannot be used, or ``None``:
  * ``"empty answer"`` — nothing left;
  * ``"too long"`` — more than ``MAX_CHARS`` characters (the API's own prompt limit is far lower);
  * ``"refusal"`` — it opens like a refusal ("I'm sorry", "I can't", "As an AI", "抱歉", "我无法"…);
  * ``"echo of instructions"`` — it repeats a sentence of the system prompt's instructions;
  * ``"unchanged"`` — it is the user's prompt again (nothing was extended).
"""

from __future__ import annotations

import re

MAX_CHARS = 5000
# A sentence of the instructions at least this long found in an answer makes it an echo.
ECHO_MIN_CHARS = 20

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"<think>.*", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"\A```[^\n]*\n(.*?)\n?```\Z", re.DOTALL)
_LABEL = re.compile(
    r"\A(?:"
    r"(?:sure|okay|ok|certainly)[,!.]?\s*(?:here(?:'s| is)[^\n:：]{0,60})?[:：]"
    r"|here(?:'s| is)[^\n:：]{0,60}[:：]"
    r"|(?:the\s+)?(?:rewritten|extended|expanded|enhanced|improved|new|final)\s+(?:video\s+)?prompt\s*[:：]"
    r"|(?:prompt|output|answer)\s*[:：]"
    r"|(?:改写|扩写|扩展|优化)后的(?:提示词|prompt|描述)?\s*(?:如下)?\s*[:：]"
    r"|(?:提示词|输出|改写结果|扩写结果)\s*[:：]"
    r")\s*",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』"}
_REFUSAL = re.compile(
    r"\A(?:"
    r"(?:i'?m|i am)\s+(?:so\s+|very\s+)?sorry|sorry\b|i\s+apologi[sz]e|unfortunately,?\s+i\b"
    r"|i\s+(?:can(?:'?t|not| not)|won'?t|will not|am unable|'m unable|am not able|'m not able)\b"
    r"|as an ai\b|as a(?:n ai)? language model"
    r"|(?:很|非常)?抱歉|对不起|我(?:不能|无法|不会)|无法(?:为您|帮您|满足|完成|提供|生成)"
    r"|作为(?:一个)?(?:ai|人工智能|语言模型)"
    r")",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？；：])\s*|\n+")


def clean_answer(raw: str) -> str:
    text = _OPEN_THINK.sub("", _THINK.sub("", raw)).strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    text = _LABEL.sub("", text, count=1).strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def check_rewrite(text: str, original: str, instructions: str) -> str | None:
    """Why ``text`` (already cleaned) cannot replace ``original``; ``None`` when it can."""
    if not text:
        return "empty answer"
    if len(text) > MAX_CHARS:
        return "too long"
    if _REFUSAL.match(_normalize(text)):
        return "refusal"
    if _echoes(text, instructions):
        return "echo of instructions"
    if _normalize(text) == _normalize(original):
        return "unchanged"
    return None


def _normalize(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).lower()


def _echoes(text: str, instructions: str) -> bool:
    haystack = _normalize(text)
    return any(
        len(sentence) >= ECHO_MIN_CHARS and sentence in haystack
        for sentence in (_normalize(part) for part in _SENTENCE_END.split(instructions))
    )
