"""Read a Server-Sent Events stream the way a browser's EventSource does (id, event, data, comments)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads("\n".join(self.data_lines))
        return body


Comment = str  # a ": …" line's text, e.g. "ping"


def read(response: httpx.Response, max_lines: int = 100_000) -> Iterator[Event | Comment]:
    """Events and comments in order, until the server closes the stream (bounded by ``max_lines``)."""
    current = Event()
    for count, line in enumerate(response.iter_lines()):
        if count >= max_lines:
            raise AssertionError(f"the stream sent more than {max_lines} lines")
        if line == "":
            if current.data_lines:
                yield current
            current = Event()
        elif line.startswith(":"):
            yield line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data_lines.append(value)
            elif name in ("id", "event"):
                setattr(current, name, value)


def events(response: httpx.Response) -> list[Event]:
    """Every event of a stream until it ends (comments left out)."""
    return [item for item in read(response) if isinstance(item, Event)]
