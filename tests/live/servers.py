"""Real processes the live tests inject faults with: a private Redis they may stop and start
again, and daphne serving the project on a free port."""

import socket
from collections.abc import Callable

import httpx
import redis

from tests.processes import BIN, Process, child_env, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own: killing it is a Redis outage nobody else notices."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> "PrivateRedis":
        self.process = Process(
            f"redis-{self.port}",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            {},
        )
        wait_until(lambda: redis.Redis.from_url(self.url).ping(), timeout=10, what="private redis")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.stop()
            self.process = None


class Daphne:
    """The project's ASGI application under a real daphne, on the test database."""

    def __init__(
        self,
        db_name: str,
        *,
        extra_env: dict[str, str] | None = None,
        name: str = "daphne",
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/events/"
        self.process = Process(
            f"{name}-{self.port}",
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "project.asgi:application"],
            # Playwright's sync API runs an event loop in the test process, which then sets
            # DJANGO_ALLOW_ASYNC_UNSAFE; the server must keep Django's async safety checks.
            {**child_env(db_name), "DJANGO_ALLOW_ASYNC_UNSAFE": "", **(extra_env or {})},
        )
        wait_until(self._up, timeout=30, what="daphne")

    def _up(self) -> bool:
        if not self.process.alive:
            raise RuntimeError(f"daphne exited:\n{self.process.log_tail()}")
        return httpx.get(f"{self.base_url}/admin/login/", timeout=1).status_code == 200

    def stop(self) -> None:
        self.process.stop()


def eventually(check: Callable[[], bool], *, timeout: float = 10, what: str = "condition") -> None:
    wait_until(check, timeout=timeout, what=what)
