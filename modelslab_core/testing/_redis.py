"""A throwaway ``redis-server`` on 127.0.0.1 for tests, examples and benchmarks.

It runs the machine's own binary: ``$MODELSLAB_REDIS_SERVER``, ``redis-server`` on the PATH,
or Debian's ``redis-tools`` build, which ships the server as ``/usr/bin/redis-check-rdb`` (the
same program: started under the name ``redis-server`` it serves). ``make redis-server``
installs ``redis-tools`` with apt-get when none is there. Nothing is persisted to disk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["RedisServer", "find_redis_server"]

_DEBIAN_SERVER = "/usr/bin/redis-check-rdb"


def find_redis_server() -> tuple[str, str]:
    """The (executable, argv[0]) that starts a redis-server; a clear error when there is none."""
    given = os.environ.get("MODELSLAB_REDIS_SERVER")
    if given:
        return given, "redis-server"
    found = shutil.which("redis-server")
    if found:
        return found, "redis-server"
    if os.access(_DEBIAN_SERVER, os.X_OK):
        return _DEBIAN_SERVER, "redis-server"
    raise RuntimeError(
        "No redis-server found: run `make redis-server` (apt-get install redis-tools), install "
        "Redis another way, or point MODELSLAB_REDIS_SERVER at the binary"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``with RedisServer() as redis: ...`` serves ``redis.url`` until the block ends.

    `stop` and `start` again keep the port (a restart: the data is gone, as after a real
    one); `kill` ends it with SIGKILL.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, running={self.running})"

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> RedisServer:
        """Start (on a free port the first time, then on the same one) and wait for PING."""
        if self.running:
            return self
        executable, argv0 = find_redis_server()
        if not self.port:
            self.port = _free_port()
        self._dir = self._dir or tempfile.TemporaryDirectory(prefix="modelslab-redis-")
        args = [argv0, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "no", "--dir", self._dir.name, "--loglevel", "warning"]
        log = (Path(self._dir.name) / "redis.log").open("ab")
        with log:
            self._proc = subprocess.Popen(
                args, executable=executable, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not _pings(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and wait for it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def kill(self) -> None:
        """End the server with SIGKILL, as a crash would."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            self._proc = None

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        if self._dir is not None:
            with contextlib.suppress(OSError):
                self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
