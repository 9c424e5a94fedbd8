"""Retention: tasks and their result blobs are deleted once they are older than the retention period.

Order: records first, then blobs. The other order looks tidier but buys nothing:

- Records first (this module). A crash (or a blob store outage) between the two steps leaves blobs that no
  record points to. They are harmless: nobody can obtain a link to them any more, and their keys are logged. An
  S3 lifecycle rule on the prefix, a little longer than the retention, is the backstop that removes them.
- Blobs first. A crash in between leaves records pointing at missing blobs, which the next sweep would clean
  up. But those records could still be read and turned into dead links by any API node whose retention
  setting is longer than this worker's, and every sweeper would need a separate read of what to delete.

purge_expired reports each deleted task to exactly one caller, so two workers sweeping at once never race on
the same blobs. Deleting a blob that is already gone is fine in both stores, so a repeated sweep is harmless.
The API already reads a task past retention as UNKNOWN, so it does not matter when the sweep gets to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from videosynth.storage.keys import stored_keys
from videosynth.storage.protocols import BlobStore
from videosynth.store.protocols import Purged, TaskStore

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500
T = TypeVar("T")


def sweep(tasks: TaskStore, blobs: BlobStore, now_ms: int, retention_s: float, batch: int = DEFAULT_BATCH) -> int:
    """Delete every final task submitted more than ``retention_s`` before ``now_ms``, and its result blobs.

    Returns how many tasks were deleted. Works in batches of ``batch`` records, so each transaction stays short
    and a large backlog never holds locks for long. If the blob store fails, the sweep stops at once and raises:
    retrying each of the batch's blobs against a store that is down could take hours of timeouts, and purging
    more batches would only orphan more blobs. The next sweep carries on from there.
    """
    before_ms = now_ms - round(retention_s * 1000)
    purge, delete = lambda: tasks.purge_expired(before_ms, batch), lambda purged: _delete_blobs(blobs, purged)
    total = _in_batches(purge, delete, batch)
    if total:
        log.info("retention sweep", extra={"deleted_tasks": total, "before_ms": before_ms})
    return total


def sweep_uploads(
    tasks: TaskStore, blobs: BlobStore, now_ms: int, retention_s: float, batch: int = DEFAULT_BATCH
) -> int:
    """Delete the client uploads that expired more than ``retention_s`` before ``now_ms``, records first.

    Not at their expiry: a task created just before it may still be queued and read its file when it runs. Once
    its own retention has passed too, no task can need it. Returns how many were deleted; a blob store failure
    stops the sweep (as for tasks) and the leftover files are named in the log.
    """
    before_ms = now_ms - round(retention_s * 1000)
    purge, delete = lambda: tasks.purge_uploads(before_ms, batch), lambda keys: _delete_keys(blobs, keys, "uploads")
    total = _in_batches(purge, delete, batch)
    if total:
        log.info("upload sweep", extra={"deleted_uploads": total, "before_ms": before_ms})
    return total


def _in_batches(purge: Callable[[], Sequence[T]], delete: Callable[[Sequence[T]], None], batch: int) -> int:
    """Purge a batch of records, then delete their blobs, until a batch comes back short (none left, or the rest
    taken by a concurrent sweeper); how many records went."""
    total = 0
    while True:
        purged = purge()
        total += len(purged)
        delete(purged)
        if len(purged) < batch:
            return total


def _delete_blobs(blobs: BlobStore, purged: Purged) -> None:
    # Every variant a finished task may have (its thumbnail and spritesheet too), not only the recorded video.
    _delete_keys(blobs, [key for task_id, result_key in purged for key in stored_keys(task_id, result_key)], "tasks")


def _delete_keys(blobs: BlobStore, keys: Sequence[str], what: str) -> None:
    for index, key in enumerate(keys):
        try:
            blobs.delete(key)
        except Exception:
            # Their records are gone already, so nothing will try these keys again: name them for the operator.
            log.warning(
                f"retention sweep stopped: blobs left without their {what} records",
                extra={"orphaned_keys": keys[index:]},
                exc_info=True,
            )
            raise
