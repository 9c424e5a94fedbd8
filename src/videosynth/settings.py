"""The one Settings object. Built at the entry point (cli) and passed down; never read at import time."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_MODEL = "demo"


class Settings(BaseSettings):
    """Every field is also an environment variable ``VIDEOSYNTH_<NAME>`` (README has the table)."""

    model_config = SettingsConfigDict(env_prefix="VIDEOSYNTH_", extra="ignore")

    data_dir: Path = Field(Path(".videosynth"), description="SQLite file, local results and the demo checkpoint.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in data_dir.")
    results_dir: Path | None = Field(None, description="Local result folder; default: data_dir/results.")
    public_base_url: str | None = Field(None, description="Base of result links; default: the request's own URL.")
    url_secret: SecretStr | None = Field(None, description="HMAC key for result links; default: data_dir file.")
    url_ttl_s: int = Field(86_400, ge=1, description="How long a result link stays valid.")
    retention_s: int = Field(86_400, ge=1, description="After this, a task and its result read as UNKNOWN.")
    time_zone: str = Field("UTC", description="Time zone of submit_time/scheduled_time/end_time.")

    storage: str = Field(
        "local", description="Result storage: 'local' (folder + signed links) or 's3://bucket[/prefix]'."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint, e.g. http://127.0.0.1:8333.")
    s3_access_key_id: str | None = Field(None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")
    s3_region: str = Field("us-east-1", description="S3 region used for signing.")
    s3_public_endpoint_url: str | None = Field(
        None, description="Endpoint written into presigned links (default: s3_endpoint_url), e.g. a CDN or proxy."
    )
    retention_sweep_s: float = Field(300.0, gt=0, description="How often a worker deletes expired tasks and results.")

    embedded_worker: bool = Field(True, description="`serve` also runs one worker process.")
    lease_s: float = Field(30.0, gt=0, description="A claimed task returns to PENDING this long after a silent worker.")
    heartbeat_s: float = Field(5.0, gt=0, description="How often a worker renews its lease.")
    max_attempts: int = Field(3, ge=1, description="Claims per task before it FAILS with InternalError.")
    poll_interval_s: float = Field(0.5, gt=0, description="Idle worker's wait between claim attempts.")
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Serve the worker's Prometheus metrics on this port (127.0.0.1)."
    )
    drain_grace_s: float = Field(
        600.0, ge=0, description="On SIGTERM, finish the current task for this long, then give it back."
    )
    ranks_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Multi-GPU worker (torchrun): how long a rank waits for the others in one exchange (a step's, or "
        "the first job's while they load) before the group counts as broken.",
    )
    # Worker pipelining (worker/pipeline.py)
    worker_overlap: bool = Field(
        True, description="A worker encodes and uploads one task on a second thread while it denoises the next."
    )
    key_max_queued: int = Field(50, ge=1, description="Per-key limit on PENDING + RUNNING tasks (429 Throttling).")
    key_rate_per_min: int = Field(600, ge=1, description="Per-key creates per minute, a token bucket (429 RateQuota).")

    model_registry: Path | None = Field(None, description="Model registry TOML; default: the packaged one.")
    model: str = Field(DEMO_MODEL, description="Diffusers Wan checkpoint (folder or hub id); 'demo' = tiny model.")
    model_steps: int | None = Field(None, ge=1, description="Denoising steps; default 50 (demo: 4).")
    model_guidance_scale: float = Field(5.0, ge=0, description="Classifier-free guidance scale.")
    model_fps: int = Field(16, ge=1, description="Frames per second the model is trained for.")
    model_max_pixels: int | None = Field(
        None,
        ge=256,
        description="Cap on generated width×height (output is resized up); default: none (demo: 4096).",
    )
    model_max_sequence_length: int = Field(512, ge=8, description="Text encoder token limit.")
    device: str = Field("auto", description="torch device: auto, cpu, cuda, cuda:1 …")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Weight dtype.")
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads (pins determinism on CPU).")

    prompt_extend_provider: Literal["none", "openai", "local"] = Field(
        "none", description="Prompt rewriting: none, an OpenAI-compatible endpoint, or a local chat model."
    )
    prompt_extend_base_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://host/v1.")
    prompt_extend_api_key: SecretStr | None = Field(None, description="Key for the prompt-extension endpoint.")
    prompt_extend_model: str | None = Field(None, description="Chat model name (openai) or folder (local).")
    prompt_extend_timeout_s: float = Field(30.0, gt=0, description="Give up on extension after this long.")

    audio_max_bytes: int = Field(15 * 2**20, ge=1, description="Largest input.audio_url file accepted.")
    audio_timeout_s: float = Field(30.0, gt=0, description="Time limit for downloading input.audio_url.")
    audio_allow_private: bool = Field(
        False, description="Allow input.audio_url on private/loopback addresses (off: no SSRF into your network)."
    )

    # C2PA provenance: every stored mp4 carries a signed manifest declaring it AI-generated (off without a cert).
    c2pa_cert: Path | None = Field(
        None, description="PEM certificate chain (signer first) that signs each mp4's C2PA manifest; none: unsigned."
    )
    c2pa_key: Path | None = Field(None, description="PEM private key of c2pa_cert's signer.")
    c2pa_alg: Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"] = Field(
        "es256", description="C2PA signature algorithm; must match the key's type."
    )
    c2pa_timestamp_url: str | None = Field(None, description="RFC 3161 timestamp authority for C2PA signatures.")

    # Image-to-video inputs (img_url, media first/last frame) and the dashscope SDK's uploads of local files.
    image_max_bytes: int = Field(10 * 2**20, ge=1, description="Largest input image file accepted (upstream: 10 MB).")
    image_timeout_s: float = Field(30.0, gt=0, description="Time limit for downloading an input image.")
    image_allow_private: bool = Field(
        False, description="Allow input image URLs on private/loopback addresses (off: no SSRF into your network)."
    )
    image_max_pixels: int = Field(
        25_000_000, ge=1, description="Largest input image (width×height) decoded; larger ones are refused unread."
    )
    upload_max_bytes: int = Field(20 * 2**20, ge=1, description="Largest file the SDK's upload may store.")
    upload_ttl_s: int = Field(172_800, ge=60, description="How long an upload policy and its uploaded files last.")

    default_resolution: Literal["720P", "1080P"] = Field("720P", description="wan2.7 resolution when omitted.")
    default_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4"] = Field("16:9", description="wan2.7 ratio default.")
    openai_default_model: str = Field(
        "wan2.7-t2v", description="Model of an OpenAI /v1/videos create naming no model of ours (e.g. sora-2)."
    )
    log_level: str = Field("INFO", description="Python logging level.")

    # Content safety (README "Content safety"): an optional prompt check before a create is queued.
    prompt_blocklist: Path | None = Field(
        None, description="File of refused prompt terms, one a line (# comments); matched case-insensitively."
    )
    moderation_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL whose POST /moderations checks every prompt."
    )
    moderation_api_key: SecretStr | None = Field(None, description="Key for the moderation endpoint.")
    moderation_model: str | None = Field(None, description="Moderation model name (default: the endpoint's).")
    moderation_timeout_s: float = Field(5.0, gt=0, description="Time limit of one moderation request.")
    moderation_on_error: Literal["allow", "refuse"] = Field(
        "allow", description="Moderation endpoint down: allow the create (fail open) or refuse it with 503."
    )

    # Webhooks (README "Webhooks"): signed terminal-state events from the outbox, sent by `serve`.
    webhook_secret: SecretStr | None = Field(
        None, description="Standard Webhooks signing secret (whsec_…); default: generated into data_dir."
    )
    webhook_allow_private: bool = Field(
        False, description="Deliver webhooks to private/loopback/link-local addresses (off: no SSRF)."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Time limit of one webhook delivery attempt.")
    webhook_max_age_s: float = Field(86_400.0, gt=0, description="Retry a webhook event for this long, then drop it.")
    webhook_retry_base_s: float = Field(5.0, gt=0, description="First webhook retry delay; doubles per attempt.")
    webhook_retry_max_s: float = Field(3_600.0, gt=0, description="Longest delay between webhook retries.")
    webhook_poll_s: float = Field(1.0, gt=0, description="How often `serve` looks for webhook events to send.")

    # The task events stream (GET /api/v1/tasks/{task_id}/events, api/events.py).
    events_heartbeat_s: float = Field(15.0, gt=0, description="Seconds between `: ping` comments on a quiet stream.")
    events_poll_s: float = Field(0.5, gt=0, description="How often an events stream re-reads its task.")
    events_max_streams_per_key: int = Field(
        8, ge=1, description="Open event streams per API key and API process (over it: 429 Throttling)."
    )

    @field_validator("data_dir", "results_dir", "prompt_blocklist", "c2pa_cert", "c2pa_key")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Child processes (the embedded worker) must see the same folder whatever their cwd.
        return value.expanduser().resolve() if value is not None else None

    @model_validator(mode="after")
    def _c2pa_pair(self) -> Settings:
        if (self.c2pa_cert is None) != (self.c2pa_key is None):
            raise ValueError("set both VIDEOSYNTH_C2PA_CERT and VIDEOSYNTH_C2PA_KEY, or neither")
        return self

    @property
    def is_demo_model(self) -> bool:
        return self.model == DEMO_MODEL

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'videosynth.db').resolve()}"

    def resolved_results_dir(self) -> Path:
        return (self.results_dir or self.data_dir / "results").resolve()

    def demo_checkpoint_dir(self) -> Path:
        return (self.data_dir / "models" / "tiny-wan2.1").resolve()

    def signing_key(self) -> bytes:
        """The HMAC key for result links: configured, or created once in the data dir so links survive restarts."""
        if self.url_secret is not None:
            return self.url_secret.get_secret_value().encode()
        return _created_once(self.data_dir / "url-secret", secrets.token_hex(32)).encode()

    def webhook_signing_secret(self) -> str:
        """The Standard Webhooks secret (``whsec_`` + base64): configured, or created once in the data dir, so
        receivers keep verifying across restarts and every process of a deployment signs alike."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        return _created_once(self.data_dir / "webhook-secret", fresh)

    def to_env(self) -> dict[str, str]:
        """These settings as VIDEOSYNTH_* variables, for child processes (the embedded worker)."""
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"VIDEOSYNTH_{name.upper()}"] = str(plain).lower() if isinstance(plain, bool) else str(plain)
        return env


def _created_once(path: Path, fresh: str) -> str:
    """The secret in ``path``, written as ``fresh`` (mode 0600) if there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(fresh)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic create-if-absent: racing processes agree on one secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
