"""`videosynth generate` and `videosynth tasks …`: the command line of a client, built on videosynth.client alone.

Every failure a user meets is one line on stderr and an exit code: 0 ok, 1 the task failed (or is unknown, or its
link expired, or the server failed, or a rerun from a record made other frames), 2 usage or an invalid parameter,
3 authentication, 4 network, 5 throttled.
"""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from videosynth.client import (
    AuthenticationError,
    Client,
    InvalidParameterError,
    LinkExpiredError,
    NetworkError,
    Task,
    TaskFailedError,
    ThrottledError,
    VideoOptions,
    VideosynthError,
)
from videosynth.client.records import RecordError, frames_digest, read_record, rerun_of, same_frames

EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NETWORK, EXIT_THROTTLED = 1, 2, 3, 4, 5

tasks_app = typer.Typer(help="Get, list, cancel, download and watch tasks on a server.", no_args_is_help=True)

BaseUrl = Annotated[
    str | None, typer.Option("--base-url", envvar="VIDEOSYNTH_BASE_URL", help="Server URL.", show_envvar=True)
]
ApiKey = Annotated[str | None, typer.Option("--api-key", envvar="DASHSCOPE_API_KEY", help="API key.", show_envvar=True)]
Timeout = Annotated[float, typer.Option(help="Give up waiting after this many seconds.")]
MaxRetries = Annotated[int, typer.Option(min=0, help="Retries of a throttled, failed or unreachable request.")]


def _fail(message: str, code: int) -> typer.Exit:
    print(f"videosynth: {message}", file=sys.stderr, flush=True)
    return typer.Exit(code)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn the SDK's errors into one line and the documented exit code."""
    try:
        yield
    except TaskFailedError as exc:
        raise _fail(f"task {exc.task.task_id} {exc.task.status}: {exc.code}: {exc.message}", EXIT_FAILED) from None
    except AuthenticationError as exc:
        raise _fail(f"authentication failed ({exc.code}): {exc.message}", EXIT_AUTH) from None
    except InvalidParameterError as exc:
        raise _fail(f"invalid parameter ({exc.code}): {exc.message}", EXIT_USAGE) from None
    except NetworkError as exc:
        raise _fail(f"server unreachable: {exc.message}", EXIT_NETWORK) from None
    except ThrottledError as exc:
        raise _fail(f"throttled ({exc.code}): {exc.message}; try again later", EXIT_THROTTLED) from None
    except LinkExpiredError as exc:
        raise _fail(f"link expired or invalid: {exc.message}", EXIT_FAILED) from None
    except VideosynthError as exc:
        raise _fail(f"{exc.code}: {exc.message}", EXIT_FAILED) from None


@dataclass
class _Display:
    """Live progress: a rich bar on a terminal, else one line per change (for logs and captured output)."""

    console: Console = field(default_factory=lambda: Console(stderr=True))
    bar: Progress | None = None
    row: TaskID | None = None
    started: float = field(default_factory=time.monotonic)

    def __enter__(self) -> _Display:
        if self.console.is_terminal:
            self.bar = Progress(
                TextColumn("{task.fields[status]:<9} {task.fields[phase]:<16}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TextColumn("ETA {task.fields[eta]}"),
                console=self.console,
            )
            self.bar.start()
            self.row = self.bar.add_task("task", total=100, status="SUBMITTED", phase="", eta="-")
        return self

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, task: Task) -> None:
        progress = task.progress
        phase = progress.phase + (f" {progress.step}/{progress.steps}" if progress.step and progress.steps else "")
        eta = "-" if progress.eta_s is None else f"{progress.eta_s:.0f}s"
        if self.bar is not None and self.row is not None:
            # No percent from the server (a poll of a server without the progress extension): a pulsing bar.
            total = None if progress.percent is None and not task.finished else 100
            done = progress.percent if progress.percent is not None else (100 if task.finished else 0)
            self.bar.update(self.row, total=total, completed=done, status=task.status, phase=phase, eta=eta)
            return
        percent = "" if progress.percent is None else f" {progress.percent}%"
        elapsed = time.monotonic() - self.started
        self.console.print(f"{task.task_id} {task.status} {phase}{percent} elapsed {elapsed:.0f}s eta {eta}")


def _client(base_url: str | None, api_key: str | None, max_retries: int) -> Client:
    return Client(base_url=base_url, api_key=api_key, max_retries=max_retries)


def _video_facts(path: Path) -> str:
    """Frames and duration from the mp4 itself (PyAV); empty when it cannot be read."""
    try:
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = stream.frames or sum(1 for _ in container.decode(stream))
            rate = float(stream.average_rate or 0)
    except Exception:  # a file PyAV cannot read: the line just says less
        return ""
    duration = f", {frames / rate:.3f} s" if rate else ""
    return f", {frames} frames{duration}"


def _saved_line(path: Path, task: Task | None) -> str:
    seed = "" if task is None or task.seed is None else f", seed {task.seed}"
    return f"{path}: {path.stat().st_size} bytes{_video_facts(path)}{seed}"


def _prompt_and_record(
    prompt: str | None, from_record: Path | None
) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The prompt, the record's options and the record itself (None without --from-record)."""
    if from_record is None:
        if prompt is None:
            raise _fail("a prompt is required (or --from-record FILE)", EXIT_USAGE)
        return prompt, {}, None
    if prompt is not None:
        raise _fail("give a prompt or --from-record, not both: the record holds its prompt", EXIT_USAGE)
    try:
        record = read_record(from_record)
        recorded_prompt, options = rerun_of(record)
    except RecordError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    return recorded_prompt, dict(options), record


# generate's options whose flag is not the option's own name
_FLAGS = {"first_frame_url": "image", "last_frame_url": "last-image", "prompt_extend": "no-prompt-extend"}


def _compare_frames(record: dict[str, Any], task: Task, overridden: list[str]) -> None:
    """A rerun from a record says whether it made the record's very frames; other frames exit 1."""
    if overridden:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in overridden)
        print(f"frames: not compared with the record ({flags} changed the recipe)")
        return
    same = same_frames(record, task.reproducibility)
    if same is None:
        print("frames: not compared (the record or the rerun holds no frames digest)")
    elif same:
        print(f"frames: identical to the record's (sha256 {frames_digest(record)})")
    else:
        raise _fail(
            f"frames differ from the record's (sha256 {frames_digest(task.reproducibility)} ≠ "
            f"{frames_digest(record)}): another checkpoint, library version, device or thread count?",
            EXIT_FAILED,
        )


_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}


def _image_url(value: str | None, flag: str) -> str | None:
    """A URL as given; a local file as a data: URI (the server reads those as it reads a download)."""
    if value is None or value.startswith(("http://", "https://", "data:", "oss://")):
        return value
    path = Path(value)
    kind = _IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise _fail(f"{flag} {value}: a JPEG, PNG, WebP or BMP file or an http(s) URL is needed", EXIT_USAGE)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"{flag} {value}: {exc.strerror}", EXIT_USAGE) from None
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def generate(
    prompt: Annotated[str | None, typer.Argument(help="What the video should show (none with --from-record).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The mp4 to write (default: TASK_ID.mp4).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name (default: wan2.7-t2v).")] = None,
    resolution: Annotated[str | None, typer.Option(help="wan2.7: 720P or 1080P.")] = None,
    ratio: Annotated[str | None, typer.Option(help="wan2.7: 16:9, 9:16, 1:1, 4:3 or 3:4.")] = None,
    duration: Annotated[int | None, typer.Option(help="Seconds of video.")] = None,
    size: Annotated[str | None, typer.Option(help="Legacy models (wan2.6 and older): WIDTH*HEIGHT.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a reproducible video.")] = None,
    negative_prompt: Annotated[str | None, typer.Option(help="What the video should not show.")] = None,
    watermark: Annotated[bool | None, typer.Option("--watermark/--no-watermark", help="Add the watermark.")] = None,
    no_prompt_extend: Annotated[bool, typer.Option("--no-prompt-extend", help="Use the prompt as written.")] = False,
    audio_url: Annotated[str | None, typer.Option(help="An audio track to use (wan2.7).")] = None,
    image: Annotated[
        str | None, typer.Option(help="Image-to-video: the first frame, a local file or an http(s)/data: URL.")
    ] = None,
    last_image: Annotated[str | None, typer.Option(help="First-and-last-frame models: the last frame.")] = None,
    from_record: Annotated[
        Path | None,
        typer.Option(help="Make a task's video again from its reproducibility record (a .record.json or a query)."),
    ] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Print the task id and return at once.")] = False,
    timeout: Timeout = 1800.0,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """Make a video on a server: submit, follow its progress, download the mp4."""
    prompt, recorded, record = _prompt_and_record(prompt, from_record)
    chosen: dict[str, Any] = {
        "model": model,
        "resolution": resolution,
        "ratio": ratio,
        "duration": duration,
        "size": size,
        "seed": seed,
        "negative_prompt": negative_prompt,
        "watermark": watermark,
        "prompt_extend": False if no_prompt_extend else None,
        "audio_url": audio_url,
        "first_frame_url": _image_url(image, "--image"),
        "last_frame_url": _image_url(last_image, "--last-image"),
    }
    # What the command line names wins over the record (say, another --seed); the rest is the record's.
    options = cast(VideoOptions, recorded | {name: value for name, value in chosen.items() if value is not None})
    with _reported(), _client(base_url, api_key, max_retries) as client:
        created = client.submit(prompt, **options)
        if no_wait:
            print(created.task_id)
            return
        with _Display() as display:
            display(created)
            task = client.wait(created.task_id, timeout=timeout, on_progress=display)
        target = client.download(task, output or Path(f"{task.task_id}.mp4"))
        print(_saved_line(target, task))
    if record is not None:
        _compare_frames(record, task, [_FLAGS.get(name, name) for name, value in chosen.items() if value is not None])


@tasks_app.command("get")
def tasks_get(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """Show a task: status, times, seed, link, error."""
    with _reported(), _client(base_url, api_key, max_retries) as client:
        task = client.get(task_id)
    fields = {
        "task_id": task.task_id,
        "status": task.status,
        "submit_time": task.submit_time,
        "end_time": task.end_time,
        "seed": task.seed,
        "video_url": task.video_url,
        "code": task.code,
        "message": task.message,
    }
    for name, value in fields.items():
        if value is not None:
            print(f"{name}: {value}")


@tasks_app.command("list")
def tasks_list(
    status: Annotated[str | None, typer.Option(help="Only this status (PENDING, RUNNING, SUCCEEDED…).")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many rows.")] = 20,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """This key's tasks, newest first."""
    with _reported(), _client(base_url, api_key, max_retries) as client:
        print(f"{'TASK_ID':<34} {'STATUS':<10} {'MODEL':<22} CREATED (UTC)")
        for count, row in enumerate(client.list(status=status, model=model, page_size=min(limit, 100)), 1):
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime((row.gmt_create or 0) / 1000))
            print(f"{row.task_id:<34} {row.status:<10} {row.model_name or '-':<22} {created}")
            if count >= limit:
                break


@tasks_app.command("cancel")
def tasks_cancel(
    task_id: Annotated[str, typer.Argument(help="A PENDING task's id.")],
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """Cancel a task that has not started."""
    with _reported(), _client(base_url, api_key, max_retries) as client:
        client.cancel(task_id)
    print(f"canceled {task_id}")


@tasks_app.command("download")
def tasks_download(
    task: Annotated[str, typer.Argument(help="A SUCCEEDED task's id, or a video link (http…).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="The mp4 to write (default: TASK_ID.mp4).")
    ] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """Download a finished task's video (a fresh link is asked for), or the video behind a link."""
    with _reported(), _client(base_url, api_key, max_retries) as client:
        if task.startswith(("http://", "https://")):
            target = client.download(task, output or Path(Path(task.split("?")[0]).name))
            print(_saved_line(target, None))
            return
        found = client.get(task)
        target = client.download(found, output or Path(f"{task}.mp4"))
    print(_saved_line(target, found))


@tasks_app.command("watch")
def tasks_watch(
    task_id: Annotated[str, typer.Argument(help="The task id.")],
    timeout: Timeout = 1800.0,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_retries: MaxRetries = 4,
) -> None:
    """Follow a task's progress until it ends."""
    with _reported(), _client(base_url, api_key, max_retries) as client, _Display() as display:
        task = client.wait(task_id, timeout=timeout, on_progress=display)
    print(f"{task.task_id} {task.status} {task.video_url or ''}".rstrip())


def register(app: typer.Typer) -> None:
    """Add `generate` and `tasks` to the `videosynth` command."""
    app.command("generate")(generate)
    app.add_typer(tasks_app, name="tasks")
