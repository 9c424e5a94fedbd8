"""Where a task's blobs live: one key per variant (the video, its thumbnail and spritesheet), from the task id alone.

Keys stay one flat name (``{task_id}.mp4``): the local store's signed links are ``/files/{key}``, one path
segment. A task records the key its video was stored under (``result_key``), and links are made from that record,
so a task stored under an older scheme keeps working links whatever this module says today.
"""

from __future__ import annotations

from enum import StrEnum


class Variant(StrEnum):
    VIDEO = "video"
    THUMBNAIL = "thumbnail"  # a JPEG of the video's middle frame (media/thumbnails.py)
    SPRITESHEET = "spritesheet"  # a JPEG grid of up to 10 evenly spaced frames, 5 a row


_SUFFIXES = {Variant.VIDEO: ".mp4", Variant.THUMBNAIL: ".thumbnail.jpg", Variant.SPRITESHEET: ".spritesheet.jpg"}
# What each variant is stored (and served) as: the only place that says so.
CONTENT_TYPES = {Variant.VIDEO: "video/mp4", Variant.THUMBNAIL: "image/jpeg", Variant.SPRITESHEET: "image/jpeg"}


def blob_key(task_id: str, variant: Variant = Variant.VIDEO) -> str:
    return f"{task_id}{_SUFFIXES[variant]}"


def record_key(task_id: str) -> str:
    """The task's reproducibility record, a JSON sidecar next to its video."""
    return f"{task_id}.record.json"


def content_type(variant: Variant) -> str:
    """The Content-Type a variant's blob is stored with, and that a download of it should carry."""
    return CONTENT_TYPES[variant]


def stored_keys(task_id: str, result_key: str | None) -> list[str]:
    """Every key a task may have blobs under: its recorded result and each variant's. None without a result."""
    if result_key is None:
        return []
    variants = [*(blob_key(task_id, variant) for variant in Variant), record_key(task_id)]
    return [result_key, *(key for key in variants if key != result_key)]
