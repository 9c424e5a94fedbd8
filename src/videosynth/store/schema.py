"""The tables, as SQLAlchemy Core. The migrations create exactly this; a test compares the two.

Times are epoch milliseconds in BIGINT columns, so both dialects store the same integers and no time zone is
ever guessed. JSON columns hold the normalised request, usage and extension blocks.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

# Deterministic constraint names on every dialect, so later migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# The task table is the queue: claim, heartbeat and finish are guarded updates on it.
tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request_json", JSON, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("submit_ms", BigInteger, nullable=False),
    Column("scheduled_ms", BigInteger),
    Column("end_ms", BigInteger),
    Column("progress", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(255)),
    Column("lease_expires_ms", BigInteger),
    Column("result_key", String(1024)),
    Column("error_code", String(128)),
    Column("error_message", Text),
    Column("actual_prompt", Text),
    Column("extension_json", JSON, nullable=False),
    Column("usage_json", JSON, nullable=False),
    Column("idempotency_key", String(255)),
    Column("request_hash", String(128)),
    Column("updated_ms", BigInteger, nullable=False),
    # The backend's own state (migration 0005), written only under the worker's lease; it survives a re-claim.
    Column("backend_state_json", JSON, nullable=False, server_default=text("'{}'")),
    Column("record_json", JSON, nullable=False, server_default=text("'{}'")),
    # Where this task's terminal event goes (the create's X-Webhook-Url, migration 0008); None: the key's, if any.
    Column("webhook_url", String(2048)),
    # The worker's published progress (migration 0007, domain/progress.py): plain columns, so the poll's raw
    # read decodes no JSON for them.
    Column("phase", String(24)),
    Column("step", Integer),
    Column("steps", Integer),
    Column("eta_ms", BigInteger),
    # claim: WHERE status='PENDING' AND model IN (…) ORDER BY submit_ms; also serves requeue's status filter.
    Index("ix_tasks_claim", "status", "model", "submit_ms"),
    # listing: a key's tasks newest first.
    Index("ix_tasks_key_listing", "key_id", "submit_ms"),
    Index("ix_tasks_key_schedule", "key_id", "scheduled_ms"),
    # Idempotency-Key is unique per API key; partial so the many tasks without one do not bloat the index.
    Index(
        "uq_tasks_key_idempotency",
        "key_id",
        "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("prefix", String(16), nullable=False),
    # sha256 hex of the secret; the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
    # Where the terminal events of this key's tasks go unless a create names its own (migration 0008).
    Column("webhook_url", String(2048)),
    Index("uq_api_keys_secret_hash", "secret_hash", unique=True),
    Index("ix_api_keys_name", "name"),
)

# Per key, what admitting a create needs, kept up to date in the transactions that change it (store/admission.py),
# so a create batch reads one row per key instead of counting the key's tasks: O(keys), whatever the table holds.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", String(64), primary_key=True),
    # The key's PENDING + RUNNING tasks (the queue quota).
    Column("active", Integer, nullable=False),
    # The rate limit's state (GCRA): when the key's bucket is full again, epoch nanoseconds.
    Column("rate_tat_ns", BigInteger, nullable=False),
)

# An upstream's shared limits (migration 0006, store/upstream_budget.py), keyed by upstream: its base URL and a
# fingerprint of its key, never the key. The poll budget, a GCRA bucket: when it is full again, epoch ns.
upstream_budget = Table(
    "upstream_budget",
    metadata,
    Column("upstream", String(512), primary_key=True),
    Column("tat_ns", BigInteger, nullable=False),
)

# Its in-flight slots, 0 … max_concurrency-1: a slot is held by one of our tasks until its upstream task ends, or
# until expires_ms when the holder's worker died without letting go (the re-claimed task takes its slot again).
upstream_slots = Table(
    "upstream_slots",
    metadata,
    Column("upstream", String(512), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("holder", String(64)),
    Column("expires_ms", BigInteger),
)

# Webhook events waiting to be delivered (migration 0008), inserted in the transaction that makes a task final,
# so no terminal state is ever committed without its event. Deliverers claim rows with a lease, like tasks.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("event_id", String(64), primary_key=True),  # the webhook-id header: stable across retries
    Column("task_id", String(64), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # pending → delivered, or → dead (refused destination, or retried for webhook_max_age_s).
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_ms", BigInteger, nullable=False),
    Column("lease_owner", String(255)),
    Column("lease_expires_ms", BigInteger),
    Column("finished_ms", BigInteger),
    Column("last_error", Text),
    # claim: WHERE state='pending' AND next_attempt_ms <= now ORDER BY next_attempt_ms.
    Index("ix_webhook_outbox_due", "state", "next_attempt_ms"),
)

# Client uploads (migration 0011): each file's blob key and expiry, recorded before the file is stored, so the
# retention sweep can delete the files whose time is up (their blob keys are hashes: no listing would find them).
uploads = Table(
    "uploads",
    metadata,
    Column("blob_key", String(64), primary_key=True),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_uploads_expires", "expires_ms"),
)
