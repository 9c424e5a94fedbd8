"""The `videosynth` command: the composition root. Settings are built here and passed down."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from videosynth import cli_client, cli_provenance, compose, logs
from videosynth.settings import Settings
from videosynth.store.protocols import KeyStore

app = typer.Typer(help="Self-hosted text-to-video that speaks DashScope's Wan API.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
models_app = typer.Typer(help="The model registry and checkpoints.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
cli_provenance.register(app)
webhooks_app = typer.Typer(help="Signed webhook events (README: Webhooks).", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
# The client side (`generate`, `tasks …`): talks to a server through videosynth.client only.
cli_client.register(app)


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
    from videosynth.api import serving
    from videosynth.api.app import build_app
    from videosynth.registry import RegistryError
    from videosynth.worker.embedded import EmbeddedWorker

    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    try:
        api = build_app(settings)  # reads the model registry: the API refuses what its models cannot make
    except RegistryError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    provenance = compose.describe_provenance(settings)
    if not provenance["signed"]:  # said at start-up and in /readyz (the workers say it too)
        logging.getLogger("videosynth.serve").warning(f"videos are stored unsigned: {provenance['reason']}")
    worker = EmbeddedWorker(settings) if settings.embedded_worker and not no_worker else None
    if worker is not None:
        worker.start()
    from videosynth.webhook_commands import start_deliverer

    deliverer = start_deliverer(settings, f"http://{host}:{port}", api.state.metrics.registry)
    tune_collector()
    try:
        serving.run(api, host=host, port=port)  # uvicorn, ending event streams when a shutdown begins
    finally:
        deliverer.stop()
        if worker is not None:
            worker.stop(grace_s=min(settings.drain_grace_s, 30.0))


def tune_collector() -> None:
    """Garbage-collector settings for a server process, called once startup is done (the API throughput
    benchmark gives its ceiling server the same)."""
    # What startup built (app, engine, modules) lives as long as the process: freeze it out of the collector's
    # sight, so the full collections that load triggers do not walk it. They were the p99 tail of polls and
    # creates (the README's benchmark section has the figures).
    gc.collect()
    gc.freeze()
    # Collect young objects every 50,000 allocations, not 700: a status poll allocates a few hundred, and the
    # default made the collector run every few requests, a measurable share of a poll.
    gc.set_threshold(50_000, 50, 1000)


@app.command()
def worker(
    device: Annotated[str | None, typer.Option(help="torch device, e.g. cuda:1 (default: settings).")] = None,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Never migrate; only check.")] = False,
    model: Annotated[
        str | None, typer.Option(help="Registry entry or public name to serve (default: the default).")
    ] = None,
) -> None:
    """Run one worker: claim tasks, generate, store results. One per GPU, or one per group of GPUs under torchrun."""
    from videosynth.backends.ranks import Ranks
    from videosynth.worker.lifetime import die_with_parent
    from videosynth.worker.process import run_worker

    settings = _settings()
    if device:
        settings = settings.model_copy(update={"device": device})
    ranks = Ranks.from_environment()
    if ranks.world_size > 1:
        # First of all, before the slow imports: if torchrun is SIGKILLed, the leader drains (its followers are gone,
        # so it gives its task back) and they go; started by torchrun, a rank whose parent is init lost it already.
        die_with_parent(signal.SIGTERM if ranks.leader else signal.SIGKILL)
        if os.getppid() == 1:
            raise SystemExit("this rank's torchrun is gone")
    if ranks.leader:  # a follower rank of a multi-GPU worker touches no database
        compose.prepare_database(settings, auto_migrate=not no_migrate)
    run_worker(settings, model)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    from videosynth.store import migrate as store_migrate

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store_migrate.upgrade(settings.resolved_database_url())
    typer.echo(f"database at revision {store_migrate.head_revision()}")


def _key_store() -> KeyStore:
    settings = _settings()
    compose.prepare_database(settings, auto_migrate=True)
    _, key_store = compose.stores(settings)
    return key_store


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")],
    webhook_url: Annotated[
        str | None, typer.Option(help="Where its tasks' terminal events go (unless a create names its own).")
    ] = None,
) -> None:
    """Create a key. It is shown once, alone on the last line; only its hash is stored."""
    from videosynth.domain.errors import InvalidParameter
    from videosynth.domain.webhook import checked_webhook_url

    try:
        callback = checked_webhook_url(webhook_url)
    except InvalidParameter as exc:
        typer.echo(exc.message.replace("X-Webhook-Url", "--webhook-url"), err=True)
        raise typer.Exit(2) from None
    key_store = _key_store()
    key, secret = key_store.create(name, int(time.time() * 1000), callback)
    typer.echo(f"created key {key.key_id} ({key.name}); store it now, it is not shown again:")
    typer.echo(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    key_store = _key_store()
    typer.echo(f"{'KEY_ID':<24} {'NAME':<20} {'PREFIX':<12} {'CREATED (UTC)':<20} STATUS")
    for key in key_store.list():
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_ms / 1000))
        status = "revoked" if key.revoked_ms else "active"
        typer.echo(f"{key.key_id:<24} {key.name:<20} {'sk-' + key.prefix + '…':<12} {created:<20} {status}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="Key id or name.")]) -> None:
    """Revoke a key by id or name; requests with it get 401 at once."""
    key_store = _key_store()
    count = key_store.revoke(key, int(time.time() * 1000))
    if count == 0:
        typer.echo(f"no active key with id or name {key!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key(s)")


@models_app.command("list")
def models_list() -> None:
    """Show the configured models: checkpoint, public names served, sizes, fps and generation defaults."""
    from videosynth.registry import RegistryError, describe, registry_for_settings

    try:
        typer.echo(describe(registry_for_settings(_settings())))
    except RegistryError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@models_app.command("check")
def models_check(
    name: Annotated[str, typer.Argument(help="A public model name or a registry entry name.")],
    steps: Annotated[int, typer.Option(min=1, help="Denoising steps.")] = 2,
) -> None:
    """Load a model and generate a short clip with it, printing time and peak memory."""
    from videosynth.backends.check import check_model
    from videosynth.domain.errors import ModelNotFound
    from videosynth.registry import RegistryError

    settings = _settings()
    try:
        report = check_model(settings, name, steps)
    except ModelNotFound:
        typer.echo(f"no model {name!r} in the registry; see `videosynth models list`", err=True)
        raise typer.Exit(1) from None
    except (RegistryError, OSError) as exc:  # OSError: a checkpoint folder or hub id that is not there
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo("\n".join(report.lines()))


@models_app.command("calibrate")
def models_calibrate(
    name: Annotated[str, typer.Argument(help="A public model name or a registry entry name.")],
    prompt: Annotated[str, typer.Option(help="What the calibration video shows.")] = "a red fox runs through snow",
    seed: Annotated[int, typer.Option(help="Its seed.")] = 0,
) -> None:
    """Measure a checkpoint's MagCache ratios (one full generation) and print them as registry lines."""
    from videosynth.backends.check import calibrate_model
    from videosynth.domain.errors import ModelNotFound
    from videosynth.registry import RegistryError

    settings = _settings()
    try:
        entry, ratios = calibrate_model(settings, name, prompt, seed)
    except ModelNotFound:
        typer.echo(f"no model {name!r} in the registry; see `videosynth models list`", err=True)
        raise typer.Exit(1) from None
    except (RegistryError, OSError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"# MagCache ratios of {entry.checkpoint} over {entry.steps} steps (fast mode; not exact)")
    typer.echo(f"[models.{entry.name!r}]".replace("'", '"'))
    typer.echo(f"mag_cache_ratios = [{', '.join(f'{r:.5f}' for r in ratios)}]")
    typer.echo(f"mag_cache_threshold = {entry.mag_cache_threshold:g}")


@models_app.command("build-tiny")
def models_build_tiny(
    directory: Annotated[Path, typer.Argument(help="Output folder.")],
    arch: Annotated[
        str,
        typer.Option(
            help="Architecture: wan2.1, wan2.2-ti2v (48-channel VAE), wan2.2-a14b (two experts), wan2.1-i2v "
            "(image-to-video, CLIP image encoder) or wan2.2-i2v-a14b (image-to-video, two experts)."
        ),
    ] = "wan2.1",
) -> None:
    """Write a tiny random-weight Wan checkpoint (diffusers format) for tests and the demo."""
    from videosynth.backends.tiny import build_tiny_wan

    try:
        path = build_tiny_wan(directory, arch=arch)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--arch") from None
    typer.echo(f"tiny {arch} checkpoint written to {path}")


@bench_app.command("generation")
def bench_generation(
    models: Annotated[str | None, typer.Option(help="Comma-separated registry names (default: 1.3B, 5B, 14B).")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Denoising steps (default 10; --tiny 2).")] = None,
    device: Annotated[str, typer.Option(help="torch device (default: cuda if visible).")] = "auto",
    tiny: Annotated[bool, typer.Option("--tiny", help="Toy architectures on the CPU (smoke test).")] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="torch CPU threads.")] = None,
    json_path: Annotated[str | None, typer.Option("--json", help="Write JSON here ('-': print it).")] = None,
) -> None:
    """Stock diffusers WanPipeline vs videosynth's backend on full-size random weights: a Markdown table."""
    from videosynth.bench.generation import main as bench_main

    argv = [f"--device={device}"] + (["--tiny"] if tiny else [])
    for flag, value in (("--models", models), ("--steps", steps), ("--threads", threads), ("--json", json_path)):
        if value is not None:
            argv.append(f"{flag}={value}")
    raise typer.Exit(bench_main(argv, prog="videosynth bench generation"))


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


@webhooks_app.command("test")
def webhooks_test(url: Annotated[str, typer.Argument(help="The receiver's URL.")]) -> None:
    """Send one signed `webhook.test` event to URL; exit 1 unless it answered 2xx."""
    from videosynth.webhook_commands import send_test_event
    from videosynth.webhooks.send import Outcome

    attempt = send_test_event(_settings(), url)
    typer.echo(f"{attempt.outcome.value}: {attempt.detail}")
    if attempt.outcome is not Outcome.DELIVERED:
        raise typer.Exit(1)


@webhooks_app.command("secret")
def webhooks_secret() -> None:
    """Print the signing secret (whsec_…) receivers verify events with."""
    typer.echo(_settings().webhook_signing_secret())


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
