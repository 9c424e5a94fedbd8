"""The relay backend: a task forwarded to an upstream DashScope (or a DashScope-compatible relay), polled, and its
mp4 downloaded into the scratch folder for the runner to check and store as ours. httpx only; no torch.

State: the upstream task id is saved with our task right after the submit, before anything else, so a worker
that dies later resumes polling that task after a re-claim and never submits twice. A worker that dies between
the upstream's answer and that save cannot know; the submit carries ``Idempotency-Key: <our task id>`` so an
upstream that honours it (videosynth does; DashScope does not say) answers the same task again.

Errors: the upstream's 4xx and FAILED tasks fail ours with the upstream's code and message; 429, 5xx and
connection errors are retried with backoff (``Retry-After`` honoured) until the deadline; the key never appears
in a message (it is cut out of anything the upstream echoes).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from videosynth.backends.base import (
    Capabilities,
    FinishedVideo,
    Frames,
    GenerationJob,
    RunContext,
    WorkCanceled,
    library_versions,
)
from videosynth.backends.relay_metrics import Outcome, RelayMetrics
from videosynth.domain.catalog import SEED_MAX, WAN27_SIZES
from videosynth.domain.errors import VideosynthError
from videosynth.media.fetch import FetchLimits, InputField, fetch_input
from videosynth.registry.relay_entry import UPSTREAM_TASK_STATE_KEY, RelayEntry, upstream_key
from videosynth.store.upstream_budget import PollBudget, UpstreamLimits, upstream_name

log = logging.getLogger(__name__)

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
TASK_PATH = "/api/v1/tasks/{task_id}"
STATE_KEY = UPSTREAM_TASK_STATE_KEY
_SUBMITTED_KEY = "upstream_submitted_at"  # epoch seconds: the deadline counts from the first submit
_MESSAGE_LIMIT = 500
_PROMPT_LIMIT = 10_000  # an upstream's extended prompt, stored as our actual_prompt
_REDACTED = "[redacted]"
# Progress reported to on_step (out of 100) while the upstream works: it gives none of its own.
_WAITING_PROGRESS, _PENDING_PROGRESS, _RUNNING_PROGRESS, _DOWNLOAD_PROGRESS = 1, 5, 50, 95
_BUDGET_TRIES = 100  # refusals of the shared poll budget before one request goes anyway (bounds the wait)
# The relay's own codes (the upstream's codes pass through as they are).
DEADLINE_CODE = "Relay.DeadlineExceeded"
UNKNOWN_CODE = "Relay.UpstreamTaskUnknown"
BAD_ANSWER_CODE = "Relay.BadUpstreamResponse"


class RelayError(VideosynthError):
    """Our task fails with this code and message: the upstream's own, or one of the relay's (``Relay.*``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Transient(Exception):
    """An upstream answer worth retrying (429, 5xx, a broken connection), with the wait it asked for."""

    def __init__(self, what: str, retry_after_s: float | None = None) -> None:
        super().__init__(what)
        self.what, self.retry_after_s = what, retry_after_s


class Backoff:
    """Exponential waits with jitter: initial, ×2 each time, capped; a Retry-After longer than that wins."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._initial, self._max, self._rng = initial_s, max_s, rng or random.Random()
        self._n = 0

    def next(self, retry_after_s: float | None = None) -> float:
        base = min(self._max, self._initial * 2**self._n)
        self._n += 1
        wait = base * self._rng.uniform(0.75, 1.25)  # jitter: workers that started together drift apart
        return float(max(wait, retry_after_s or 0.0))

    def reset(self) -> None:
        self._n = 0


Sleep = Callable[[float], None]
Clock = Callable[[], float]


class RelayBackend:
    """One upstream model, one key; built once per worker by backends.factories."""

    def __init__(
        self,
        entry: RelayEntry,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        limits: UpstreamLimits | None = None,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self._entry = entry
        self._key = api_key
        self._sleep, self._clock = sleep, clock
        self._limits = limits  # None: no shared poll budget nor slots (a backend built without the store)
        self._budget = PollBudget(entry.poll_qps)
        self._metrics = metrics or RelayMetrics()
        self._slot_ttl_s = max(60.0, 4 * entry.poll_max_s + 2 * entry.request_timeout_s)
        self._slot_renewed = 0.0
        self._client = httpx.Client(
            base_url=entry.base_url,
            timeout=entry.request_timeout_s,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "videosynth-relay/1"},
            follow_redirects=False,
        )

    @classmethod
    def from_entry(
        cls,
        entry: RelayEntry,
        environ: Mapping[str, str] | None = None,
        engine: Engine | None = None,
        metrics: RelayMetrics | None = None,
    ) -> RelayBackend:
        """The backend with the key from the environment; ``engine``: the store that shares the limits."""
        key = upstream_key(entry, environ)
        limits = UpstreamLimits(engine, upstream_name(entry.base_url, key)) if engine is not None else None
        return cls(entry, key, limits=limits, metrics=metrics)

    @property
    def capabilities(self) -> Capabilities:
        # The upstream makes the mp4 at the requested size; fps and grid only shape a plan nothing generates from.
        return Capabilities(fps=16, spatial_multiple=1, temporal_factor=1, max_pixels=None, forwards_request=True)

    @property
    def device(self) -> str:
        return f"relay:{httpx.URL(self._entry.base_url).host}"

    def close(self) -> None:
        self._client.close()

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        """The upstream makes the video: its model and address (never the key) are what a rerun needs."""
        return {
            "backend": "relay",
            "entry": self._entry.name,
            "upstream_model": self._entry.upstream_model,
            "upstream": self._entry.base_url,
            "device": self.device,
            "versions": library_versions(),
        }

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        upstream_id = context.state.get(STATE_KEY)
        submitted_at = context.state.get(_SUBMITTED_KEY)
        resumed = isinstance(upstream_id, str) and bool(upstream_id)
        self._hold_slot(context, resumed)
        self._metrics.in_flight(self._entry.base_url, 1)
        try:
            return self._relay(job, context, upstream_id if resumed else None, submitted_at)
        except (RelayError, WorkCanceled):  # the upstream task ended (or was never made): its slot is free
            self._let_go(context)
            raise
        finally:
            self._metrics.in_flight(self._entry.base_url, -1)

    def _relay(
        self, job: GenerationJob, context: RunContext, upstream_id: object, submitted_at: object
    ) -> FinishedVideo:
        if not isinstance(upstream_id, str):
            submitted_at = self._clock()
            upstream_id = self._submit(job, context, submitted_at)
            # Before anything else: from here on a re-claim polls this task instead of submitting another.
            context.save_state({STATE_KEY: upstream_id, _SUBMITTED_KEY: submitted_at})
            log.info("relay submitted", extra={"task_id": context.task_id, "upstream_task_id": upstream_id})
        else:
            log.info("relay resumed", extra={"task_id": context.task_id, "upstream_task_id": upstream_id})
        deadline = float(submitted_at if isinstance(submitted_at, int | float) else self._clock())
        deadline += self._entry.deadline_s
        answer = self._wait(upstream_id, context, deadline)
        self._let_go(context)  # the upstream's work is done; the download is ours
        context.on_step(_DOWNLOAD_PROGRESS, 100)
        output = answer["output"]
        return FinishedVideo(
            self._download(output["video_url"], context),
            actual_prompt=_text(output.get("actual_prompt")),
            seed=_integer(output.get("seed")),
            usage=_usage(answer.get("usage")),
        )

    # -- the shared limits (store/upstream_budget.py) --------------------------------------------------------------

    def _hold_slot(self, context: RunContext, resumed: bool) -> None:
        """One of the upstream's max_concurrency slots, waited for before a submit. A resumed task takes its own
        slot back, or any free one; when none is free it goes on anyway: its upstream task is in flight already."""
        if self._limits is None:
            return
        backoff = Backoff(self._entry.poll_initial_s, self._entry.poll_max_s)
        deadline = self._clock() + self._entry.deadline_s
        while not self._limits.take_slot(
            context.task_id, self._entry.max_concurrency, _ms(self._clock()), self._slot_ttl_s
        ):
            if resumed:
                return
            self._pause(backoff.next(), context, deadline, _WAITING_PROGRESS, last_fault="no upstream slot free")
        self._slot_renewed = self._clock()

    def _renew_slot(self, context: RunContext) -> None:
        now = self._clock()
        if self._limits is not None and now - self._slot_renewed >= self._slot_ttl_s / 3:
            self._limits.renew_slot(context.task_id, _ms(now), self._slot_ttl_s)
            self._slot_renewed = now

    def _let_go(self, context: RunContext) -> None:
        if self._limits is not None:
            self._limits.release_slot(context.task_id)

    def _poll_budget(self, context: RunContext, deadline: float) -> None:
        """Wait for a grant of the account's request budget, shared with every relay worker of this upstream."""
        if self._limits is None:
            return
        for _ in range(_BUDGET_TRIES):
            wait = self._limits.try_poll(self._budget, int(self._clock() * 1e9))
            if wait <= 0:
                return
            self._pause(wait, context, deadline, _PENDING_PROGRESS)
        # Past that many refusals something else hogs the budget: one request more does not break the account.
        log.warning("relay poll budget still refused; polling anyway", extra={"task_id": context.task_id})

    # -- submit ----------------------------------------------------------------------------------------------------

    def body(self, job: GenerationJob, context: RunContext) -> dict[str, Any]:
        """The create body as the upstream expects it, from the client's request (the original prompt)."""
        request = context.request
        inputs: dict[str, Any] = {"prompt": request.prompt}
        if request.negative_prompt:
            inputs["negative_prompt"] = request.negative_prompt
        if request.audio_url:
            inputs["audio_url"] = request.audio_url
        parameters: dict[str, Any] = {}
        if self._entry.upstream_model.startswith("wan2.7"):
            resolution, ratio = self._tier(request.width, request.height)
            parameters.update(resolution=resolution, ratio=ratio)
        else:
            parameters["size"] = f"{request.width}*{request.height}"
        parameters.update(
            duration=request.duration,
            prompt_extend=request.prompt_extend,
            watermark=request.watermark,
            seed=job.seed,
        )
        return {"model": self._entry.upstream_model, "input": inputs, "parameters": parameters}

    def _tier(self, width: int, height: int) -> tuple[str, str]:
        """The wan2.7 (resolution, ratio) that makes exactly width × height. A size outside that table (an OpenAI
        request may ask for any) is refused before the submit: the upstream would bill for a video we must reject."""
        for resolution, ratios in WAN27_SIZES.items():
            for ratio, size in ratios.items():
                if size == (width, height):
                    return resolution, ratio
        raise RelayError(
            "InvalidParameter",
            f"{self._entry.upstream_model} upstream makes only its official sizes (e.g. 1280x720); "
            f"{width}x{height} cannot be relayed.",
        )

    def _submit(self, job: GenerationJob, context: RunContext, submitted_at: float) -> str:
        headers = {"X-DashScope-Async": "enable", "Idempotency-Key": context.task_id}
        body = self.body(job, context)
        answer = self._call(
            "POST", CREATE_PATH, context, submitted_at + self._entry.deadline_s, json=body, headers=headers
        )
        task_id = (answer.get("output") or {}).get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise RelayError(BAD_ANSWER_CODE, "The upstream accepted the task but answered no task_id.")
        return task_id

    # -- poll ------------------------------------------------------------------------------------------------------

    def _wait(self, upstream_id: str, context: RunContext, deadline: float) -> Mapping[str, Any]:
        """The upstream's SUCCEEDED answer (its ``output`` has a video_url); RelayError on any other end."""
        backoff = Backoff(self._entry.poll_initial_s, self._entry.poll_max_s)
        path = TASK_PATH.format(task_id=upstream_id)
        while True:
            answer = self._call("GET", path, context, deadline)
            output = answer.get("output") or {}
            status = output.get("task_status")
            if status == "SUCCEEDED":
                url = output.get("video_url")
                if not isinstance(url, str) or not url:
                    raise RelayError(BAD_ANSWER_CODE, "The upstream task SUCCEEDED without a video_url.")
                return answer
            if status == "FAILED":
                code = str(output.get("code") or "InternalError")
                raise RelayError(self._clean(code), self._clean(str(output.get("message") or "The upstream failed.")))
            if status == "CANCELED":  # our cancel, forwarded (backends/relay_cancel.py), or the upstream's own
                raise WorkCanceled(f"The upstream task {upstream_id} was canceled.")
            if status == "UNKNOWN":
                raise RelayError(
                    UNKNOWN_CODE, f"The upstream does not know task {upstream_id} (expired, or not this key's)."
                )
            if status not in ("PENDING", "RUNNING"):
                raise RelayError(BAD_ANSWER_CODE, f"The upstream answered task status {self._clean(str(status))!r}.")
            progress = _RUNNING_PROGRESS if status == "RUNNING" else _PENDING_PROGRESS
            self._pause(backoff.next(), context, deadline, progress)

    # -- HTTP with retries -----------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, context: RunContext, deadline: float, **kwargs: Any) -> Mapping[str, Any]:
        """The upstream's JSON answer; retries transient faults until ``deadline``; RelayError on a 4xx."""
        backoff = Backoff(self._entry.poll_initial_s, self._entry.poll_max_s)
        while True:
            self._poll_budget(context, deadline)
            try:
                return self._once(method, path, **kwargs)
            except _Transient as fault:
                wait = backoff.next(fault.retry_after_s)
                log.warning(
                    "relay upstream fault, retrying",
                    extra={"task_id": context.task_id, "fault": fault.what, "wait_s": round(wait, 2)},
                )
                self._pause(wait, context, deadline, _PENDING_PROGRESS, last_fault=fault.what)

    def _once(self, method: str, path: str, **kwargs: Any) -> Mapping[str, Any]:
        start = time.perf_counter()
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect, read, timeouts: the upstream may be restarting
            self._metrics.request(self._entry.base_url, "network", time.perf_counter() - start)
            raise _Transient(type(exc).__name__) from exc
        self._metrics.request(self._entry.base_url, _outcome(response.status_code), time.perf_counter() - start)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}", _retry_after(response.headers.get("retry-after")))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if response.is_success:
                raise RelayError(BAD_ANSWER_CODE, f"The upstream answered HTTP {response.status_code} without JSON.")
            answer = {}
        if not response.is_success or ("code" in answer and "output" not in answer):
            code = str(answer.get("code") or f"Relay.UpstreamHTTP{response.status_code}")
            message = str(answer.get("message") or f"The upstream answered HTTP {response.status_code}.")
            raise RelayError(self._clean(code), self._clean(message))
        return answer

    def _pause(
        self, wait_s: float, context: RunContext, deadline: float, progress: int, last_fault: str | None = None
    ) -> None:
        """Sleep ``wait_s`` in slices of at most a second, reporting progress (so cancel and drain are heard)."""
        end = self._clock() + wait_s
        while True:
            context.on_step(progress, 100)
            self._renew_slot(context)
            now = self._clock()
            if now >= deadline:
                why = f" (last upstream fault: {last_fault})" if last_fault else ""
                raise RelayError(
                    DEADLINE_CODE,
                    f"The upstream did not finish within {self._entry.deadline_s:g} s of the submit{why}.",
                )
            if now >= end:
                return
            self._sleep(min(1.0, end - now, max(deadline - now, 0.01)))

    # -- download --------------------------------------------------------------------------------------------------

    def _download(self, url: str, context: RunContext) -> Path:
        limits = FetchLimits(
            max_bytes=self._entry.download_max_bytes,
            timeout_s=self._entry.download_timeout_s,
            allow_private=self._entry.allow_private,
            data_uris=False,
        )
        # InputDownloadFailed (BadRequest.InputDownloadFailed) names the field and the host, never the signed URL.
        field = InputField("video_url", "upstream video")
        return fetch_input(url, context.scratch_dir / "upstream.mp4", limits, field).path

    def _clean(self, text: str) -> str:
        """An upstream text made safe to store: the key cut out (also its Bearer form), and its length bounded."""
        if self._key:
            text = text.replace(self._key, _REDACTED)
        return text[:_MESSAGE_LIMIT]


def _outcome(status: int) -> Outcome:
    if status == 429:
        return "throttled"
    if status >= 500:
        return "5xx"
    return "4xx" if status >= 400 else "ok"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _text(value: object) -> str | None:
    return value[:_PROMPT_LIMIT] if isinstance(value, str) and value else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= SEED_MAX else None


def _usage(value: object) -> dict[str, Any] | None:
    """The upstream's usage block, its scalar fields only (a usage block is flat in every model family)."""
    if not isinstance(value, dict):
        return None
    kept = {str(k): v for k, v in value.items() if isinstance(v, str | int | float | bool)}
    return kept or None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
