"""How a rejection shows the value it refused: the value and its JSON kind, e.g. "'5' (a string)"."""

from __future__ import annotations

_KINDS = {
    bool: "a boolean",
    str: "a string",
    float: "a number",
    int: "an integer",
    list: "a list",
    dict: "an object",
}


def describe(value: object) -> str:
    if value is None:
        return "null"
    return f"{value!r} ({_KINDS.get(type(value), type(value).__name__)})"
