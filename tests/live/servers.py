"""Real processes the live tests inject faults with: a private Redis they may stop and start
again. The web tier they talk to is harness.processes.FrontDoor (proxy, web, ws)."""

from collections.abc import Callable

import redis

from harness.processes import FrontDoor, Process, free_port, wait_until

__all__ = ["FrontDoor", "PrivateRedis", "eventually", "free_port"]


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


def eventually(check: Callable[[], bool], *, timeout: float = 10, what: str = "condition") -> None:
    wait_until(check, timeout=timeout, what=what)
