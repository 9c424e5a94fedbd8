"""A loopback TCP proxy: the "public address" in front of a server (a reverse proxy or CDN in production)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

_CHUNK = 64 * 1024


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(_CHUNK):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def tcp_proxy(target_port: int, max_connections: int = 64) -> Iterator[int]:
    """Listen on a free loopback port and forward each connection, byte for byte, to ``target_port``; yields
    the listening port. Bounded: at most ``max_connections`` connections are accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        for _ in range(max_connections):
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                    break
                except TimeoutError:
                    continue
            else:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
