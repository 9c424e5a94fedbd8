"""The `videosynth` command: the composition root. Settings are built here and passed down."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from videosynth import compose, logs
from videosynth.settings import Settings

app = typer.Typer(help="Self-hosted text-to-video that speaks DashScope's Wan API.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="Model checkpoints.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")


def _settings() -> Settings:
    settings = Settings()
    logs.configure(settings.log_level)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only: run no embedded worker.")] = False,
) -> None:
    """Run the HTTP API (and, by default, one embedded worker process)."""
    import uvicorn

    from videosynth.api.app import build_app
    from videosynth.worker.embedded import EmbeddedWorker

    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    api = build_app(settings)
    worker = EmbeddedWorker(settings) if settings.embedded_worker and not no_worker else None
    if worker is not None:
        worker.start()
    try:
        uvicorn.run(api, host=host, port=port, log_level="warning", access_log=False)
    finally:
        if worker is not None:
            worker.stop(grace_s=min(settings.drain_grace_s, 30.0))


@app.command()
def worker(
    device: Annotated[str | None, typer.Option(help="torch device, e.g. cuda:1 (default: settings).")] = None,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Never migrate; only check.")] = False,
) -> None:
    """Run one worker: claim tasks, generate, store results. One per GPU."""
    from videosynth.worker.process import run_worker

    settings = _settings()
    if device:
        settings = settings.model_copy(update={"device": device})
    compose.prepare_database(settings, auto_migrate=not no_migrate)
    run_worker(settings)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from videosynth.store import migrate as store_migrate

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store_migrate.upgrade(settings.resolved_database_url())
    typer.echo(f"database at revision {store_migrate.head_revision()}")


@keys_app.command("create")
def keys_create(name: Annotated[str, typer.Option(help="A label for the key.")]) -> None:
    """Create a key. It is shown once, alone on the last line; only its hash is stored."""
    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    _, key_store = compose.stores(settings)
    key, secret = key_store.create(name, int(time.time() * 1000))
    typer.echo(f"created key {key.key_id} ({key.name}); store it now, it is not shown again:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    _, key_store = compose.stores(settings)
    typer.echo(f"{'KEY_ID':<24} {'NAME':<20} {'PREFIX':<12} {'CREATED (UTC)':<20} STATUS")
    for key in key_store.list():
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_ms / 1000))
        status = "revoked" if key.revoked_ms else "active"
        typer.echo(f"{key.key_id:<24} {key.name:<20} {'sk-' + key.prefix + '…':<12} {created:<20} {status}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="Key id or name.")]) -> None:
    """Revoke a key by id or name; requests with it get 401 at once."""
    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    _, key_store = compose.stores(settings)
    count = key_store.revoke(key, int(time.time() * 1000))
    if count == 0:
        typer.echo(f"no active key with id or name {key!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key(s)")


@models_app.command("build-tiny")
def models_build_tiny(directory: Annotated[Path, typer.Argument(help="Output folder.")]) -> None:
    """Write a tiny random-weight Wan2.1 checkpoint (diffusers format) for tests and the demo."""
    from videosynth.backends.tiny import build_tiny_wan

    path = build_tiny_wan(directory)
    typer.echo(f"tiny Wan2.1 checkpoint written to {path}")


@app.command()
def demo(
    prompt: Annotated[str, typer.Argument(help="What the video should show.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the mp4.")] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 900.0,
) -> None:
    """The main job in one command: start a local server, submit like the seed's curl, poll, download, report."""
    from videosynth.demo import run_demo

    settings = _settings()
    code = run_demo(settings, prompt, out, timeout)
    raise typer.Exit(code)


def main() -> None:
    from videosynth.store.protocols import SchemaOutOfDate

    # Typer installs no SIGTERM handler; make SIGTERM a clean exit so `finally` blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        app()
    except SchemaOutOfDate as exc:
        # An operator error, not a crash: say what to run, without a traceback.
        print(f"videosynth: {exc}", file=sys.stderr)
        sys.exit(2)
