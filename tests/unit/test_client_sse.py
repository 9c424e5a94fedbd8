"""The SDK's event-stream parser, line by line, as the WHATWG rules say."""

from __future__ import annotations

from videosynth.client.sse import EventParser, ServerEvent


def feed(parser: EventParser, text: str) -> list[ServerEvent]:
    return [event for line in text.split("\n") if (event := parser.feed(line)) is not None]


def test_events_with_ids_types_and_heartbeats() -> None:
    parser = EventParser()
    events = feed(parser, ': ping\n\nid: 1\nevent: task\ndata: {"a": 1}\n\n: ping\nid: 2\nevent: task\ndata: {}\n\n')
    assert events == [ServerEvent("task", '{"a": 1}', "1"), ServerEvent("task", "{}", "2")]
    assert parser.last_id == "2"


def test_multi_line_data_default_type_and_field_forms() -> None:
    parser = EventParser()
    [event] = feed(parser, "data:first\ndata:  second\ndata\nretry: 1500\nretry: soon\nnoise: x\n\n")
    assert event == ServerEvent("message", "first\n second\n", None)
    assert parser.retry_ms == 1500


def test_an_event_without_data_is_dropped_and_resets_its_type() -> None:
    parser = EventParser()
    assert feed(parser, "event: task\n\ndata: x\n\n") == [ServerEvent("message", "x", None)]


def test_an_id_with_nul_is_ignored_and_ids_carry_over() -> None:
    parser = EventParser()
    events = feed(parser, "id: 7\ndata: a\n\nid: bad\0id\ndata: b\n\n")
    assert [e.id for e in events] == ["7", "7"]
