"""What the service and the workers need from persistence. The task table *is* the queue."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from videosynth.domain.admission import Admission, AdmissionRefused
from videosynth.domain.progress import WorkProgress
from videosynth.domain.task import Task, TaskStatus


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    prefix: str  # first characters of the secret, for humans telling keys apart
    created_ms: int
    revoked_ms: int | None = None


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    total: int


# (task_id, result_key) of tasks removed by retention. An alias because the stores' own ``list`` method shadows
# the builtin inside their class bodies.
Purged = list[tuple[str, str | None]]
Tasks = list[Task]  # the same, for a cursor page


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used before with a different request body."""


@dataclass(frozen=True)
class NewTask:
    """One create of a batch (TaskStore.create_many), with what ``create`` takes as arguments. The task's key_id
    is the caller's, authenticated before."""

    task: Task
    idempotency_key: str | None = None
    request_hash: str | None = None
    admission: Admission | None = None
    webhook_url: str | None = None  # where its terminal event goes (else its key's webhook URL, if any)


# What one create of a batch came to: the task (new, or the one a retry names), or why not.
CreateOutcome = Task | AdmissionRefused | IdempotencyConflict


class SchemaOutOfDate(Exception):
    """The database has not been migrated to this release's schema."""


class TaskStore(Protocol):
    def create(
        self,
        task: Task,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        admission: Admission | None = None,
    ) -> Task:
        """Insert a PENDING task. With an idempotency key already used by the same key_id: return that task
        when request_hash matches, else raise IdempotencyConflict. With ``admission``, a new task over one of its
        limits raises AdmissionRefused instead (a retry of an existing task is never refused)."""
        ...

    def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        """``create`` for each item in order, in one transaction: the outcome of each (its refusal or conflict as
        a value, so one item's refusal does not fail the others)."""
        ...

    def get(self, task_id: str) -> Task | None: ...

    def list(
        self,
        key_id: str,
        page_no: int,
        page_size: int,
        status: TaskStatus | None = None,
        model: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> TaskPage:
        """The key's tasks, newest first, filtered by submit time in [start_ms, end_ms]."""
        ...

    def list_after(
        self, key_id: str, after: str | None, limit: int, descending: bool = True, start_ms: int | None = None
    ) -> Tasks:
        """Up to ``limit`` of the key's tasks submitted at or after ``start_ms``, ordered by (submit_ms, task_id)
        (newest first when ``descending``), starting just past the key's task ``after`` (None: from the first).
        An ``after`` that names none of the key's tasks gives an empty list."""
        ...

    def delete(self, task_id: str, key_id: str) -> tuple[str, str | None] | None:
        """Delete the key's own task if it is final (SUCCEEDED, FAILED, CANCELED): (task_id, result_key) of the row
        removed, so the caller removes its blobs; None when no such final task of the key was there."""
        ...

    def cancel(self, task_id: str, key_id: str, now_ms: int) -> Task | None:
        """PENDING → CANCELED for the key's own task. Returns the task as it is afterwards (so the caller sees
        whether the cancel won), or None when the task does not exist for this key."""
        ...

    def claim(self, worker_id: str, models: Collection[str] | None, now_ms: int, lease_s: float) -> Task | None:
        """Atomically take the next PENDING task (for one of ``models``; None = any): RUNNING, attempts + 1,
        lease until now + lease_s, scheduled time set on the first claim."""
        ...

    def heartbeat(
        self, task_id: str, worker_id: str, now_ms: int, lease_s: float, progress: int | WorkProgress | None = None
    ) -> bool:
        """Extend the lease (and record progress: a percent, or a WorkProgress with its phase, step and ETA).
        False when the lease was lost: stop working on the task."""
        ...

    def save_backend_state(self, task_id: str, worker_id: str, state: dict[str, Any]) -> bool:
        """Replace the task's backend_state, only while it is RUNNING under this worker's lease (as heartbeat).
        False when the lease was lost: the state was not saved; stop working on the task."""
        ...

    def finish_success(
        self,
        task_id: str,
        worker_id: str,
        now_ms: int,
        result_key: str,
        usage: dict[str, Any],
        actual_prompt: str | None = None,
        extension: dict[str, Any] | None = None,
        record: dict[str, Any] | None = None,
        seed: int | None = None,  # the seed the video was really made with, when not the stored one (an upstream's)
    ) -> bool: ...

    def finish_failure(self, task_id: str, worker_id: str, now_ms: int, code: str, message: str) -> bool: ...

    def finish_canceled(self, task_id: str, worker_id: str, now_ms: int, message: str) -> bool:
        """RUNNING → CANCELED by the task's worker: where the work ran (an upstream) it was canceled."""
        ...

    def release(self, task_id: str, worker_id: str) -> bool:
        """RUNNING → PENDING on a worker's own shutdown; the attempt is not counted against the task."""
        ...

    def requeue_expired(self, now_ms: int, max_attempts: int) -> int:
        """RUNNING tasks whose lease expired: back to PENDING, or FAILED (InternalError) after max_attempts.
        Returns how many tasks were touched."""
        ...

    def count_pending(self, model: str | None = None) -> int: ...

    def count_active(self, key_id: str) -> int:
        """The key's PENDING + RUNNING tasks (its share of the queue, for the concurrency quota)."""
        ...

    def purge_expired(self, before_ms: int, limit: int) -> Purged:
        """Delete up to ``limit`` tasks submitted before ``before_ms`` that are final (SUCCEEDED, FAILED,
        CANCELED) or still PENDING (never RUNNING: a worker holds it), the oldest such tasks first. Returns
        (task_id, result_key) of exactly the rows this call deleted, in no particular order, so concurrent purgers
        never both report (and both clean up after) the same task. Fewer than ``limit`` means none was left (or
        the rest is being purged by a concurrent caller)."""
        ...

    def record_upload(self, blob_key: str, expires_ms: int) -> bool:
        """Note a client upload's blob and when it expires, before the file is stored (api/uploads.py); False when
        that blob key was recorded before (its name holds a file already)."""
        ...

    def purge_uploads(self, before_ms: int, limit: int) -> Sequence[str]:
        """Delete up to ``limit`` upload records that expired before ``before_ms``, oldest first; the blob keys of
        exactly the rows this call deleted (concurrent purgers never share one), for the caller to delete."""
        ...


class KeyStore(Protocol):
    def create(self, name: str, now_ms: int, webhook_url: str | None = None) -> tuple[ApiKey, str]:
        """A new key; the secret is returned once and only its hash is stored. ``webhook_url`` receives the
        terminal events of its tasks that name no URL of their own."""
        ...

    def list(self) -> list[ApiKey]: ...

    def revoke(self, key_id_or_name: str, now_ms: int) -> int:
        """Revoke by id or name; returns how many keys were revoked."""
        ...

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key with this secret, or None."""
        ...


# --- The API process's store paths: the poll's read path (store/reads.py) and its writer (store/writes.py) -----

NO_TASK = ""  # a task_id no task has (ids are UUIDs): find(secret, NO_TASK) looks the key up alone


@dataclass(frozen=True)
class KeyAndTask:
    """What one poll needs: the active key (None: unknown or revoked) and its task (None: none it may see)."""

    key: ApiKey | None
    task: Task | None


class KeyTaskReader(Protocol):
    """The caller's key and one of its tasks in one lookup, on the event loop: every poll, every create's caller."""

    async def find(self, secret: str, task_id: str) -> KeyAndTask:
        """The active key with this secret, and its task ``task_id`` (another key's task is none of its own)."""
        ...

    async def aclose(self) -> None: ...


T = TypeVar("T")


class Writer(Protocol):
    """Where an API process's store writes run, off the event loop."""

    async def create(self, item: NewTask) -> CreateOutcome:
        """One create, as TaskStore.create_many makes it; creates that arrive together share one transaction."""
        ...

    async def run(self, work: Callable[[], T]) -> T:
        """Any other store write (a cancel)."""
        ...

    def close(self) -> None:
        """Finish the writes in flight, then stop."""
        ...
