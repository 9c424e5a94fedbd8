"""Use cases behind every API dialect: submit, get, list, cancel. No HTTP, no torch."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from videosynth.domain.catalog import PUBLIC_MODELS, SEED_MAX, ModelSpec
from videosynth.domain.errors import InvalidApiKey, InvalidParameter, UnsupportedOperation
from videosynth.domain.request import RequestDefaults, parse_create_body
from videosynth.domain.task import Task, TaskStatus
from videosynth.settings import Settings
from videosynth.storage.protocols import BlobStore
from videosynth.store.protocols import ApiKey, IdempotencyConflict, KeyStore, TaskPage, TaskStore

Clock = Callable[[], float]


@dataclass(frozen=True)
class ListQuery:
    page_no: int = 1
    page_size: int = 10
    status: TaskStatus | None = None
    model: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


def request_hash(body: object) -> str:
    """A canonical digest of a create body, to tell an idempotent retry from a reused key."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class TaskService:
    def __init__(
        self,
        tasks: TaskStore,
        keys: KeyStore,
        blobs: BlobStore,
        settings: Settings,
        models: Mapping[str, ModelSpec] = PUBLIC_MODELS,
        clock: Clock = time.time,
    ) -> None:
        self._tasks = tasks
        self._keys = keys
        self._blobs = blobs
        self._settings = settings
        self._models = models
        self._clock = clock
        self._defaults = RequestDefaults(resolution=settings.default_resolution, ratio=settings.default_ratio)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def authenticate(self, authorization: str | None) -> ApiKey:
        scheme, _, secret = (authorization or "").strip().partition(" ")
        if not secret.strip() or scheme.lower() != "bearer":
            raise InvalidApiKey("No API-key provided.")
        key = self._keys.authenticate(secret.strip())
        if key is None:
            raise InvalidApiKey()
        return key

    def submit(self, key: ApiKey, body: object, request_id: str, idempotency_key: str | None = None) -> Task:
        request = parse_create_body(body, self._defaults, self._models)
        seed = request.seed if request.seed is not None else secrets.randbelow(SEED_MAX + 1)
        task = Task(
            task_id=str(uuid.uuid4()),
            key_id=key.key_id,
            request=request,
            status=TaskStatus.PENDING,
            submit_ms=self._now_ms(),
            request_id=request_id,
            seed=seed,
        )
        try:
            return self._tasks.create(task, idempotency_key, request_hash(body) if idempotency_key else None)
        except IdempotencyConflict as exc:
            raise InvalidParameter(
                "Idempotency-Key was already used with a different request body; use a new key."
            ) from exc

    def get(self, key: ApiKey, task_id: str) -> Task | None:
        """The key's own, unexpired task; None reads as UNKNOWN (never a hint that another key's task exists)."""
        task = self._tasks.get(task_id)
        if task is None or task.key_id != key.key_id or self._expired(task):
            return None
        return task

    def _expired(self, task: Task) -> bool:
        return self._now_ms() - task.submit_ms > self._settings.retention_s * 1000

    def list(self, key: ApiKey, query: ListQuery) -> TaskPage:
        floor = self._now_ms() - self._settings.retention_s * 1000
        start = max(query.start_ms or 0, floor)
        return self._tasks.list(
            key.key_id, query.page_no, query.page_size, query.status, query.model, start, query.end_ms
        )

    def cancel(self, key: ApiKey, task_id: str) -> None:
        """PENDING → CANCELED. Anything else, an unknown task included, is the same UnsupportedOperation."""
        before = self.get(key, task_id)
        after = None
        if before is not None and before.status is TaskStatus.PENDING:
            after = self._tasks.cancel(task_id, key.key_id, self._now_ms())
        if after is None or after.status is not TaskStatus.CANCELED:
            raise UnsupportedOperation("Only a PENDING task can be canceled.")

    def result_url(self, task: Task, base_url: str) -> str | None:
        if task.status is not TaskStatus.SUCCEEDED or task.result_key is None:
            return None
        return self._blobs.url(task.result_key, self._settings.public_base_url or base_url, self._settings.url_ttl_s)

    def model_spec(self, name: str) -> ModelSpec | None:
        return self._models.get(name)
