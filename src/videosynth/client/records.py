"""A reproducibility record → the create that makes the same video again (`videosynth generate --from-record`).

A record is what a SUCCEEDED task's ``output.reproducibility`` holds, or its ``<task_id>.record.json`` sidecar; a
whole query response is accepted too. Its ``create_body`` names the prompt the model was conditioned on, with
prompt extension off and the seed the video was made with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from videosynth.client.models import VideoOptions

_INPUTS = ("negative_prompt", "audio_url", "first_frame_url", "last_frame_url")
_PARAMETERS = ("resolution", "ratio", "size", "duration", "seed", "watermark", "prompt_extend")


class RecordError(ValueError):
    """The file is not a reproducibility record this client can rerun."""


def read_record(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"cannot read {path} as JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("output"), dict) and "reproducibility" in data["output"]:
        data = data["output"]["reproducibility"]  # a whole query response
    if not isinstance(data, dict) or not isinstance(data.get("create_body"), dict):
        raise RecordError(f"{path} is not a reproducibility record (no create_body; see README: Reproducibility)")
    return data


def frames_digest(record: dict[str, Any] | None) -> str | None:
    """The digest of the frames a record's video was encoded from (None: not recorded, e.g. an upstream's mp4)."""
    output = record.get("output") if isinstance(record, dict) else None
    digest = output.get("frames_sha256") if isinstance(output, dict) else None
    return digest if isinstance(digest, str) else None


def same_frames(record: dict[str, Any], rerun: dict[str, Any] | None) -> bool | None:
    """Whether the rerun made exactly the record's frames; None when either side has no digest to compare."""
    before, after = frames_digest(record), frames_digest(rerun)
    return None if before is None or after is None else before == after


def rerun_of(record: dict[str, Any]) -> tuple[str, VideoOptions]:
    """The prompt and options of the record's create."""
    body = record["create_body"]
    inputs, parameters = body.get("input") or {}, body.get("parameters") or {}
    if not isinstance(inputs.get("prompt"), str) or not isinstance(body.get("model"), str):
        raise RecordError("the record's create_body has no model or prompt")
    options: dict[str, Any] = {"model": body["model"]}
    options |= {name: inputs[name] for name in _INPUTS if inputs.get(name) is not None}
    options |= {name: parameters[name] for name in _PARAMETERS if parameters.get(name) is not None}
    return inputs["prompt"], cast(VideoOptions, options)
