"""One worker: claims tasks for the models it serves and turns each into a stored mp4 and its images with a backend."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from videosynth import __version__
from videosynth.backends.base import (
    Backend,
    FinishedVideo,
    Frames,
    GenerationAborted,
    GenerationJob,
    RunContext,
    StepCallback,
    WorkCanceled,
)
from videosynth.domain.catalog import PUBLIC_MODELS, UsageStyle
from videosynth.domain.errors import InvalidParameter, VideosynthError
from videosynth.domain.image_size import image_output_size, nearest_ratio
from videosynth.domain.plan import GenerationPlan, plan_generation
from videosynth.domain.progress import Phase, denoising, entering
from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import Task, usage_for
from videosynth.media.audio import AudioClip, decode_audio, fetch_audio
from videosynth.media.fetch import InputField
from videosynth.media.frames import frames_digest
from videosynth.media.image import ImageLimits, InputImage, load_image
from videosynth.media.probe import VideoInfo
from videosynth.media.provenance import Claim, SigningIdentity, sign_mp4
from videosynth.media.thumbnails import Images, images, images_of_mp4
from videosynth.media.uploaded import copy_upload, is_upload
from videosynth.prompting.base import ExtensionOutcome, PromptExtender
from videosynth.storage.keys import Variant, blob_key, content_type, record_key
from videosynth.storage.protocols import BlobStore
from videosynth.store.protocols import TaskStore
from videosynth.worker import retention
from videosynth.worker.heartbeat import Heartbeat
from videosynth.worker.metrics import WorkerMetrics
from videosynth.worker.output import Video, video_from
from videosynth.worker.pipeline import Pipeline
from videosynth.worker.record import reproducibility_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioPolicy:
    max_bytes: int = 15 * 2**20
    timeout_s: float = 30.0
    allow_private: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    worker_id: str
    lease_s: float
    heartbeat_s: float
    max_attempts: int
    poll_interval_s: float
    scratch_dir: Path
    audio: AudioPolicy = AudioPolicy()
    images: ImageLimits = field(default_factory=ImageLimits)
    retention_s: float = 86_400.0
    retention_sweep_s: float = 300.0
    models: Collection[str] | None = None  # None: every model
    provenance: SigningIdentity | None = None  # signs each mp4's C2PA manifest; None: stored unsigned
    overlap: bool = True  # run(): encode one task on a finisher thread while the next denoises (worker/pipeline.py)


@dataclass(frozen=True)
class Rendered:
    """A task's video, made and stored: its key, what the file holds, the request as made (an image decides an
    i2v video's size), the backend's FinishedVideo when it made the mp4 whole, and the reproducibility record."""

    key: str
    info: VideoInfo
    request: GenerationRequest
    upstream: FinishedVideo | None
    record: dict[str, Any]


@dataclass(frozen=True)
class Generated:
    """A task whose backend has run, waiting for its CPU work: what that needs, and what the task holds until it is
    finished (its heartbeat, its busy mark, its scratch directory: ``held``)."""

    task: Task
    beat: Heartbeat
    held: ExitStack
    scratch: Path
    prompt: str
    outcome: ExtensionOutcome | None
    request: GenerationRequest
    plan: GenerationPlan
    job: GenerationJob
    audio: AudioClip | None
    output: Frames | FinishedVideo
    recipe: dict[str, Any]  # read on the thread that ran the backend, beside the run it describes


class Worker:
    def __init__(
        self,
        tasks: TaskStore,
        blobs: BlobStore,
        backend: Backend,
        extender: PromptExtender,
        config: WorkerConfig,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self._metrics = metrics or WorkerMetrics()
        self._tasks = tasks
        self._blobs = blobs
        self._backend = backend
        self._extender = extender
        self._config = config
        self.stop = threading.Event()  # finish the tasks in hand, claim no more
        self.abort = threading.Event()  # give the current task back now

    def run(self) -> None:
        log.info("worker started", extra={"worker_id": self._config.worker_id})
        next_requeue = next_retention = 0.0
        with self._finisher() as hand_over:
            while not self.stop.is_set():
                if time.monotonic() >= next_requeue:
                    self._tasks.requeue_expired(_now_ms(), self._config.max_attempts)
                    next_requeue = time.monotonic() + self._config.lease_s / 2
                if time.monotonic() >= next_retention:
                    self._sweep_retention()
                    next_retention = time.monotonic() + self._config.retention_sweep_s
                if not self._turn(hand_over):
                    self.stop.wait(self._config.poll_interval_s)
        log.info("worker stopped", extra={"worker_id": self._config.worker_id})

    @contextmanager
    def _finisher(self) -> Iterator[Callable[[Generated], None]]:
        """Where a denoised task goes to be finished: a finisher thread (worker_overlap), so the next task denoises
        meanwhile, or this thread. Leaving it drains: the task being finished is finished."""
        if not self._config.overlap:
            yield self._finish
            return
        with Pipeline(self._finish) as pipeline:
            yield pipeline.hand_over

    def _sweep_retention(self) -> None:
        try:
            now_ms, retention_s = _now_ms(), self._config.retention_s
            removed = retention.sweep(self._tasks, self._blobs, now_ms, retention_s)
            removed += retention.sweep_uploads(self._tasks, self._blobs, now_ms, retention_s)
        except Exception:  # storage hiccup: generation matters more; the next sweep retries
            log.exception("retention sweep failed")
            return
        if removed:
            log.info("retention sweep", extra={"removed": removed})

    def run_once(self) -> bool:
        """Claim and process one task, to its end; False when the queue had nothing for us."""
        return self._turn(self._finish)

    def _turn(self, hand_over: Callable[[Generated], None]) -> bool:
        task = self._claim()
        if task is None:
            return False
        generated = self._generate(task)
        if generated is not None:
            hand_over(generated)
        return True

    def _claim(self) -> Task | None:
        cfg = self._config
        task = self._tasks.claim(cfg.worker_id, cfg.models, _now_ms(), cfg.lease_s)
        if task is not None:
            log.info("task claimed", extra={"task_id": task.task_id, "attempt": task.attempts})
        return task

    def _generate(self, task: Task) -> Generated | None:
        """The claimed task, denoised, still holding its heartbeat, busy mark and scratch directory until it is
        finished; None when it ended here (failed, canceled or given back)."""
        cfg, model = self._config, task.request.model
        if task.scheduled_ms is not None and task.attempts == 1:
            self._metrics.observe_phase("queue_wait", model, (task.scheduled_ms - task.submit_ms) / 1000)
        beat = Heartbeat(
            self._tasks, task.task_id, cfg.worker_id, cfg.lease_s, cfg.heartbeat_s, on_beat=self._metrics.heartbeat
        )
        held = ExitStack()
        with ExitStack() as guard:
            guard.push(held)  # on any way out of here but handing the task on, it lets go of what it holds
            held.enter_context(self._metrics.busy())
            held.enter_context(beat)
            scratch = Path(held.enter_context(tempfile.TemporaryDirectory(dir=cfg.scratch_dir)))
            try:
                made = self._denoised(task, beat, held, scratch)
            except Exception as exc:
                self._settle(task, beat, exc)
                return None
            guard.pop_all()  # _finish lets go once the task is finished
            return made

    def _denoised(self, task: Task, beat: Heartbeat, held: ExitStack, scratch: Path) -> Generated:
        outcome = None
        # A relay's upstream extends the prompt itself (and answers the actual prompt there, not here).
        if task.request.prompt_extend and not self._backend.capabilities.forwards_request:
            beat.report(entering(Phase.EXTENDING_PROMPT))
            # time only real extensions: zeros would swamp the histogram
            with self._metrics.timed("extend", task.request.model):
                outcome = self._extender.extend(task.request.prompt)
        prompt = outcome.prompt if outcome else task.request.prompt
        # Before the backend runs: a bad URL must cost no GPU time (nor a paid upstream call).
        first, last = self._images(task, scratch)
        audio = self._audio(task, scratch)
        request = self._sized(task.request, first)
        plan = self._plan(request)
        beat.report(entering(Phase.DENOISING))
        context = self._context(task, beat, scratch)  # its step clock starts now
        job = self._job(task, prompt, plan, first, last)
        with self._metrics.timed("generate", request.model):
            output = self._backend.run(job, context)
        recipe = self._backend.recipe(job)
        return Generated(task, beat, held, scratch, prompt, outcome, request, plan, job, audio, output, recipe)

    def _finish(self, made: Generated) -> None:
        """The CPU work of a denoised task and its end; then its heartbeat stops and its scratch goes."""
        with made.held:
            try:
                rendered = self._render(made)
            except Exception as exc:
                self._settle(made.task, made.beat, exc)
                return
            self._succeed(made, rendered)

    def _settle(self, task: Task, beat: Heartbeat, exc: Exception) -> None:
        """A task that cannot succeed: given back, canceled or failed, as the exception says."""
        if isinstance(exc, GenerationAborted):
            self._give_back(task, beat)
        elif isinstance(exc, WorkCanceled):
            won = self._tasks.finish_canceled(task.task_id, self._config.worker_id, _now_ms(), str(exc))
            self._metrics.task_finished("CANCELED" if won else "LOST", task.request.model, _since(task.submit_ms))
            log.info("task canceled upstream", extra={"task_id": task.task_id})
        elif isinstance(exc, VideosynthError):
            self._fail(task, exc.code, exc.message)
        else:
            log.error("generation failed", exc_info=exc, extra={"task_id": task.task_id})
            self._fail(task, "InternalError", f"Video generation failed (task_id {task.task_id}).")

    def _give_back(self, task: Task, beat: Heartbeat) -> None:
        if not beat.lost.is_set():
            self._tasks.release(task.task_id, self._config.worker_id)
        self._metrics.task_finished("LOST" if beat.lost.is_set() else "RELEASED", task.request.model)
        log.warning("task given back", extra={"task_id": task.task_id, "lease_lost": beat.lost.is_set()})

    def _succeed(self, made: Generated, rendered: Rendered) -> None:
        task, outcome = made.task, made.outcome
        spec = PUBLIC_MODELS.get(task.request.model)
        usage = usage_for(rendered.request, spec.usage if spec else UsageStyle.WAN27, rendered.info.seconds)
        if rendered.upstream is not None and rendered.upstream.usage:  # the upstream's report wins: it made (billed) it
            usage = dict(rendered.upstream.usage)
        won = self._tasks.finish_success(
            task.task_id,
            self._config.worker_id,
            _now_ms(),
            rendered.key,
            usage,
            rendered.record["actual_prompt"],
            _extension_record(outcome.to_dict()) if outcome else None,
            record=rendered.record,
            seed=rendered.upstream.seed if rendered.upstream is not None else None,
        )
        self._metrics.task_finished("SUCCEEDED" if won else "LOST", task.request.model, _since(task.submit_ms))
        log.info("task finished", extra={"task_id": task.task_id, "status": "SUCCEEDED" if won else "lost"})

    def _render(self, made: Generated) -> Rendered:
        """Encode, sign, store and describe the denoised task's video."""
        task, beat, scratch, model = made.task, made.beat, made.scratch, made.request.model
        key = blob_key(task.task_id, Variant.VIDEO)
        beat.report(entering(Phase.ENCODING))
        with self._metrics.timed("encode", model):
            video = video_from(made.output, made.plan, task.request.watermark, made.audio, scratch / "encoded.mp4")
        if self._config.provenance is not None:
            with self._metrics.timed("sign", model):
                video = self._signed(task, video, scratch / "signed.mp4", self._config.provenance)
        if beat.lost.is_set():
            raise GenerationAborted()
        beat.report(entering(Phase.UPLOADING))
        with self._metrics.timed("upload", model):
            self._blobs.put_file(key, video.path, content_type(Variant.VIDEO))
        with self._metrics.timed("images", model):
            self._store_images(task, video, scratch)
        upstream = made.output if isinstance(made.output, FinishedVideo) else None
        made_as = replace(task, request=made.request)  # an image sized the video: the record says so
        record = reproducibility_record(
            made_as,
            made.prompt,
            _actual_prompt(made.outcome, upstream),
            made.plan,
            video.info,
            made.recipe,
            upstream.seed if upstream is not None else None,  # the upstream's seed made its video
            frames_digest(video.frames) if video.frames is not None else None,
        )
        self._store_record(task, record, scratch)
        return Rendered(key, video.info, made.request, upstream, record)

    @staticmethod
    def _signed(task: Task, video: Video, dest: Path, identity: SigningIdentity) -> Video:
        """The video with its C2PA manifest: AI-generated, by this model, now. The frames are the same."""
        claim = Claim(task.request.model, datetime.now(UTC), "videosynth", __version__)
        sign_mp4(video.path, dest, identity, claim)
        return replace(video, path=dest)

    def _store_record(self, task: Task, record: dict[str, Any], scratch: Path) -> None:
        """The record as a JSON sidecar next to the video. The copy stored with the task is the one that counts, so
        a failure here, like the images', costs only the sidecar."""
        try:
            path = scratch / "record.json"
            path.write_text(json.dumps(record, ensure_ascii=False, indent=2))
            self._blobs.put_file(record_key(task.task_id), path, "application/json")
        except Exception:
            log.exception(
                "task record sidecar failed; the record is kept with the task", extra={"task_id": task.task_id}
            )

    def _store_images(self, task: Task, video: Video, scratch: Path) -> None:
        """The video's thumbnail and spritesheet, stored after it and before the task finishes, so a client that sees
        SUCCEEDED finds them. A failure here costs only the images: the video is stored and is what was paid for."""
        try:
            made: Images = (
                images(video.frames) if video.frames is not None else images_of_mp4(video.path, video.info.frames)
            )
            for variant, data in ((Variant.THUMBNAIL, made.thumbnail), (Variant.SPRITESHEET, made.spritesheet)):
                path = scratch / f"{variant.value}.jpg"
                path.write_bytes(data)
                self._blobs.put_file(blob_key(task.task_id, variant), path, content_type(variant))
        except Exception:
            log.exception("task images failed; the video is stored without them", extra={"task_id": task.task_id})

    @staticmethod
    def _job(
        task: Task, prompt: str, plan: GenerationPlan, first: InputImage | None, last: InputImage | None
    ) -> GenerationJob:
        return GenerationJob(
            prompt=prompt,
            negative_prompt=task.request.negative_prompt,
            width=plan.gen_width,
            height=plan.gen_height,
            num_frames=plan.gen_frames,
            seed=task.seed,
            image=first.pixels if first else None,
            last_image=last.pixels if last else None,
        )

    def _images(self, task: Task, scratch: Path) -> tuple[InputImage | None, InputImage | None]:
        """The first and last frame of an image-to-video task, fetched and decoded."""
        request, caps = task.request, self._backend.capabilities
        if request.first_frame_url is None:
            return None, None
        if caps.forwards_request:
            # The relay's upstream body carries no image yet: refuse rather than make a text-only video.
            raise InvalidParameter(f"Model {request.model} is relayed here, and the relay does not forward images yet.")
        if not caps.takes_images:
            raise InvalidParameter(
                f"Model {request.model} is served here by a text-to-video checkpoint, which takes no image; "
                "the operator must route it to an image-to-video model (README: Image-to-video)."
            )
        first = self._image(request.first_frame_url, scratch / "first-frame", "first frame")
        if request.last_frame_url is None:
            return first, None
        return first, self._image(request.last_frame_url, scratch / "last-frame", "last frame")

    def _image(self, url: str, dest: Path, noun: str) -> InputImage:
        return load_image(url, dest, self._config.images, InputField(f"the {noun} image URL", "image"), self._blobs)

    def _sized(self, request: GenerationRequest, first: InputImage | None) -> GenerationRequest:
        """An image-to-video request at its output size: the image's aspect ratio at the tier's pixel count."""
        if first is None:
            return request
        multiple = self._backend.capabilities.spatial_multiple
        width, height = image_output_size(first.width, first.height, request.width * request.height, multiple)
        return replace(request, width=width, height=height, ratio=nearest_ratio(width, height))

    def _context(self, task: Task, beat: Heartbeat, scratch: Path) -> RunContext:
        def save_state(state: Mapping[str, Any]) -> None:
            if not self._tasks.save_backend_state(task.task_id, self._config.worker_id, dict(state)):
                beat.lose()  # the task is someone else's now: stop renewing, give nothing back
                raise GenerationAborted()

        backend_scratch = scratch / "backend"  # apart from the runner's own files (audio, the encoded video)
        backend_scratch.mkdir()
        return RunContext(
            task.task_id, task.request, self._on_step(beat), task.backend_state, save_state, backend_scratch
        )

    def _on_step(self, beat: Heartbeat) -> StepCallback:
        started = time.monotonic()  # the ETA comes from the step times measured since

        def on_step(step: int, total: int) -> None:
            if beat.lost.is_set() or self.abort.is_set():
                raise GenerationAborted()
            beat.report(denoising(step, total, time.monotonic() - started))

        return on_step

    def _audio(self, task: Task, scratch: Path) -> AudioClip | None:
        """The client's soundtrack, if any; open Wan models make silent video, so without one there is none."""
        if task.request.audio_url is None or self._backend.capabilities.forwards_request:
            return None  # a relay forwards audio_url: the upstream downloads it and muxes the soundtrack
        policy = self._config.audio
        if is_upload(task.request.audio_url):  # the SDK's upload of a local file (driving_audio, audio_url)
            field = InputField("audio_url", "audio file")
            uploaded = copy_upload(task.request.audio_url, scratch / "audio", policy.max_bytes, field, self._blobs)
            return decode_audio(uploaded)
        path = fetch_audio(
            task.request.audio_url,
            scratch / "audio",
            max_bytes=policy.max_bytes,
            timeout_s=policy.timeout_s,
            allow_private=policy.allow_private,
        )
        return decode_audio(path)

    def _plan(self, request: GenerationRequest) -> GenerationPlan:
        caps = self._backend.capabilities
        return plan_generation(
            request.width,
            request.height,
            request.duration,
            caps.fps,
            caps.spatial_multiple,
            caps.max_pixels,
            caps.temporal_factor,
        )

    def _fail(self, task: Task, code: str, message: str) -> None:
        won = self._tasks.finish_failure(task.task_id, self._config.worker_id, _now_ms(), code, message)
        self._metrics.task_finished("FAILED" if won else "LOST", task.request.model, _since(task.submit_ms))
        log.warning("task failed", extra={"task_id": task.task_id, "code": code})


def _actual_prompt(outcome: ExtensionOutcome | None, upstream: FinishedVideo | None) -> str | None:
    """The rewrite the video was made from: the upstream's when it rewrote the prompt, else our extension's."""
    return (upstream.actual_prompt if upstream is not None else None) or (outcome.actual_prompt if outcome else None)


def _extension_record(outcome: dict[str, Any]) -> dict[str, Any]:
    """What task detail shows about extension; the texts already live in orig_prompt / actual_prompt."""
    return {k: v for k, v in outcome.items() if k not in {"prompt", "actual_prompt"}}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _since(epoch_ms: int) -> float:
    return max(_now_ms() - epoch_ms, 0) / 1000
