"""Use cases behind every API dialect: submit, get, list, cancel. No HTTP, no torch."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from videosynth.domain.admission import Admission, AdmissionRefused
from videosynth.domain.catalog import PUBLIC_MODELS, SEED_MAX, ModelSpec
from videosynth.domain.draft import GenerationDraft
from videosynth.domain.errors import (
    Conflict,
    InvalidApiKey,
    InvalidParameter,
    NotFound,
    RateQuota,
    Throttling,
    UnsupportedOperation,
)
from videosynth.domain.ids import RANDOM_BITS, time_ordered_uuid
from videosynth.domain.request import GenerationRequest, RequestDefaults
from videosynth.domain.task import Task, TaskStatus
from videosynth.domain.validate import validate_draft
from videosynth.domain.webhook import checked_webhook_url
from videosynth.safety.check import PromptSafety
from videosynth.settings import Settings
from videosynth.storage.keys import Variant, blob_key, stored_keys
from videosynth.storage.protocols import BlobReader, BlobStore
from videosynth.storage.uploads import OSS_SCHEME, parse_upload_name, usable_by
from videosynth.store.protocols import (
    NO_TASK,
    ApiKey,
    CreateOutcome,
    IdempotencyConflict,
    KeyTaskReader,
    NewTask,
    TaskPage,
    Tasks,
    TaskStore,
    Writer,
)

Clock = Callable[[], float]
log = logging.getLogger(__name__)


class CancelForwarder(Protocol):
    """Cancels of tasks whose work runs elsewhere (a relay's upstream), built by the composition."""

    def forwards(self, task: Task) -> bool:
        """Whether the task's work was handed to an upstream this forwarder reaches."""
        ...

    def cancel(self, task: Task) -> None:
        """Forward the cancel (blocking I/O); returns when accepted, raises a VideosynthError when refused."""
        ...


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


def _created(outcome: CreateOutcome) -> Task:
    """The created (or retried) task; a refused create raises the client error it is."""
    if isinstance(outcome, Task):
        return outcome
    if isinstance(outcome, IdempotencyConflict):
        raise InvalidParameter("Idempotency-Key was already used with a different request body; use a new key.")
    if isinstance(outcome, AdmissionRefused):
        raise _refusal(outcome)
    raise outcome  # any other refusal the store may report


def _refusal(refused: AdmissionRefused) -> Throttling | RateQuota:
    if refused.limit == "rate":
        return RateQuota(
            f"Requests rate limit exceeded ({refused.cap} per minute for this API key), please try again later."
        )
    return Throttling(
        f"Requests throttling triggered: this API key already has {refused.count} tasks PENDING or RUNNING "
        f"(limit {refused.cap}). Wait for some to finish."
    )


def check_uploads(request: GenerationRequest, key: ApiKey, now_s: float) -> None:
    """Every ``oss://`` input is a current upload of the calling key (another key's upload reads as none)."""
    for url in (request.first_frame_url, request.last_frame_url, request.audio_url):
        if url is None or not url.lower().startswith(OSS_SCHEME):
            continue
        name = parse_upload_name(url)
        if name is None or not usable_by(name, key.key_id, now_s):
            raise InvalidParameter(
                "An oss:// input URL must name a file this API key uploaded (through the SDK's upload) and that has "
                "not expired; this one names none."
            )


def bearer_secret(authorization: str | None) -> str:
    """The secret of an ``Authorization: Bearer <secret>`` header; anything else is "No API-key provided"."""
    scheme, _, secret = (authorization or "").strip().partition(" ")
    if not secret.strip() or scheme.lower() != "bearer":
        raise InvalidApiKey("No API-key provided.")
    return secret.strip()


class TaskService:
    def __init__(
        self,
        tasks: TaskStore,
        blobs: BlobStore,
        settings: Settings,
        reader: KeyTaskReader,
        writer: Writer,
        models: Mapping[str, ModelSpec] = PUBLIC_MODELS,
        clock: Clock = time.time,
        cancels: CancelForwarder | None = None,
        safety: PromptSafety | None = None,
    ) -> None:
        self._cancels = cancels
        self._safety = safety  # None (the default): no prompt check, not even a call
        self._reader = reader
        self._writer = writer
        self._tasks = tasks
        self._blobs = blobs
        self._settings = settings
        self._models = models
        self._clock = clock
        self._defaults = RequestDefaults(resolution=settings.default_resolution, ratio=settings.default_ratio)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def poll(self, authorization: str | None, task_id: str) -> Task | None:
        """authenticate + get in one query on the event loop: the status poll, the API's hot path."""
        _key, task = await self._find(authorization, task_id)
        return None if task is None or self._expired(task) else task

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The caller's active key, looked up on the event loop through the poll's read path (no thread hop)."""
        key, _task = await self._find(authorization, NO_TASK)
        return key

    async def _find(self, authorization: str | None, task_id: str) -> tuple[ApiKey, Task | None]:
        found = await self._reader.find(bearer_secret(authorization), task_id)
        if found.key is None:
            raise InvalidApiKey()
        return found.key, found.task

    async def submit(
        self,
        key: ApiKey,
        draft: GenerationDraft,
        request_id: str,
        idempotency_key: str | None = None,
        *,
        body: object,
        remixed_from: str | None = None,
        webhook_url: str | None = None,
    ) -> Task:
        """A new PENDING task of ``key`` for ``draft``, as a dialect read it from ``body`` (or, for a retried
        Idempotency-Key, the task it named: ``body`` as sent tells a retry from a reused key). Creates that
        arrive together share one transaction in the writer (store/writes.py). ``remixed_from`` records the task
        a remix was made from; ``webhook_url`` (the create's X-Webhook-Url, unchecked) receives its terminal event."""
        new = self._new_task(key, draft, body, request_id, idempotency_key, remixed_from)
        callback = checked_webhook_url(webhook_url)
        if callback is not None:
            new = dataclasses.replace(new, webhook_url=callback)
        if self._safety is not None:  # before the writer: a refused prompt is never queued
            await self._safety.check(new.task.request.prompt, new.task.request.negative_prompt)
        outcome = await self._writer.create(new)
        return _created(outcome)

    def _new_task(
        self,
        key: ApiKey,
        draft: GenerationDraft,
        body: object,
        request_id: str,
        idempotency_key: str | None,
        remixed_from: str | None = None,
    ) -> NewTask:
        request = validate_draft(draft, self._defaults, self._models)
        check_uploads(request, key, self._clock())
        if remixed_from is not None:
            request = dataclasses.replace(request, remixed_from=remixed_from)
        seed = request.seed if request.seed is not None else secrets.randbelow(SEED_MAX + 1)
        now_ms = self._now_ms()
        task = Task(
            task_id=time_ordered_uuid(now_ms, secrets.randbits(RANDOM_BITS)),
            key_id=key.key_id,
            request=request,
            status=TaskStatus.PENDING,
            submit_ms=now_ms,
            request_id=request_id,
            seed=seed,
        )
        limits = Admission(now_ms, self._settings.key_rate_per_min, self._settings.key_max_queued)
        digest = request_hash(body) if idempotency_key else None
        return NewTask(task, idempotency_key, digest, limits)

    async def cancel(self, key: ApiKey, task_id: str) -> None:
        """PENDING → CANCELED (on the writer thread). A RUNNING task handed to an upstream (a relay's) has the
        cancel forwarded there and answers as the upstream did; its worker ends it CANCELED once the upstream
        has. Anything else, an unknown task included, is the same UnsupportedOperation."""
        if self._cancels is not None:
            task = await asyncio.to_thread(self.get, key, task_id)
            if task is not None and task.status is TaskStatus.RUNNING and self._cancels.forwards(task):
                await asyncio.to_thread(self._cancels.cancel, task)
                return
        await self._writer.run(functools.partial(self._cancel_now, key, task_id))

    def get(self, key: ApiKey, task_id: str) -> Task | None:
        """The key's own, unexpired task; None reads as UNKNOWN (never a hint that another key's task exists)."""
        task = self._tasks.get(task_id)
        if task is None or task.key_id != key.key_id or self._expired(task):
            return None
        return task

    def _retention_floor_ms(self) -> int:
        """Tasks submitted before this read as UNKNOWN (DashScope keeps tasks 24 h)."""
        return self._now_ms() - int(self._settings.retention_s * 1000)

    def _expired(self, task: Task) -> bool:
        return task.submit_ms < self._retention_floor_ms()

    def list(self, key: ApiKey, query: ListQuery) -> TaskPage:
        start = max(query.start_ms or 0, self._retention_floor_ms())
        return self._tasks.list(
            key.key_id, query.page_no, query.page_size, query.status, query.model, start, query.end_ms
        )

    def page_after(self, key: ApiKey, after: str | None, limit: int, descending: bool = True) -> tuple[Tasks, bool]:
        """Up to ``limit`` of the key's unexpired tasks past ``after`` (a cursor listing), and whether more follow."""
        found = self._tasks.list_after(key.key_id, after, limit + 1, descending, self._retention_floor_ms())
        return found[:limit], len(found) > limit

    def expires_ms(self, task: Task) -> int:
        """When the task (and its result) stops being served: retention after its submit."""
        return task.submit_ms + int(self._settings.retention_s * 1000)

    def own_task(self, key: ApiKey, task_id: str) -> Task:
        """The key's own, unexpired task, or NotFound (another key's task included)."""
        task = self.get(key, task_id)
        if task is None:
            raise NotFound(f"No video or task found with id '{task_id}'.")
        return task

    async def delete(self, key: ApiKey, task_id: str) -> None:
        """Remove the key's task and its files. A PENDING task is canceled first (it never starts); a RUNNING one
        is refused with Conflict (its worker holds it: cancel is not possible, wait for it to finish)."""
        removed = await self._writer.run(functools.partial(self._delete_now, key, task_id))
        for blob in stored_keys(*removed):
            try:
                await asyncio.to_thread(self._blobs.delete, blob)
            except Exception:  # the row is gone; retention has nothing left to sweep, so say so in the log
                log.exception("could not delete a deleted task's blob", extra={"task_id": task_id, "key": blob})

    def _delete_now(self, key: ApiKey, task_id: str) -> tuple[str, str | None]:
        task = self.own_task(key, task_id)
        if task.status is TaskStatus.PENDING:
            self._tasks.cancel(task_id, key.key_id, self._now_ms())
        removed = self._tasks.delete(task_id, key.key_id)
        if removed is None:
            self.own_task(key, task_id)  # NotFound when it went meanwhile; else it is still running
            raise Conflict("The video is being generated and cannot be deleted until it completes or fails.")
        return removed

    def open_variant(self, task: Task, variant: Variant) -> BlobReader:
        """The bytes of one of a finished task's files (the video, its thumbnail…); NotFound when there is none."""
        if task.status is not TaskStatus.SUCCEEDED or task.result_key is None:
            raise NotFound(f"Video '{task.task_id}' has no content yet: its status is {task.status.value}.")
        key = task.result_key if variant is Variant.VIDEO else blob_key(task.task_id, variant)
        try:
            return self._blobs.open(key)
        except FileNotFoundError:
            raise NotFound(f"Video '{task.task_id}' has no {variant.value}.") from None

    def _cancel_now(self, key: ApiKey, task_id: str) -> None:
        before = self.get(key, task_id)
        after = None
        if before is not None and before.status is TaskStatus.PENDING:
            after = self._tasks.cancel(task_id, key.key_id, self._now_ms())
        if after is None or after.status is not TaskStatus.CANCELED:
            raise UnsupportedOperation("Only a PENDING task can be canceled.")

    def result_url(self, task: Task, base_url: Callable[[], str]) -> str | None:
        """The task's download link. ``base_url`` (this API's own, costly to build per request) is asked for only
        when there is a link and no public base URL is configured."""
        if task.status is not TaskStatus.SUCCEEDED or task.result_key is None:
            return None
        base = self._settings.public_base_url or base_url()
        return self._blobs.url(task.result_key, base, self._settings.url_ttl_s)

    @property
    def models(self) -> Mapping[str, ModelSpec]:
        """The models this server serves, with the rules a create of each follows (the playground's model list)."""
        return self._models

    @property
    def request_defaults(self) -> RequestDefaults:
        """What a create that leaves a parameter out gets."""
        return self._defaults

    def model_names(self) -> Collection[str]:
        """The models this server serves (a create naming another is refused, or mapped by a dialect)."""
        return self._models.keys()

    @property
    def openai_default_model(self) -> str:
        """The model of an OpenAI create that names none of ours (sora-2…)."""
        return self._settings.openai_default_model
