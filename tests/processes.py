"""Real processes for integration tests: the web tier (proxy, web, ws), a Celery worker, the
data service and the Highcharts export server, started with the same commands the Procfile
runs."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOG_DIR = ROOT / "var" / "test-logs"
# The same entry point the Procfile and compose.yml use: tests run what production runs.
RUN = ROOT / "scripts" / "run"


def free_port() -> int:
    """A port free right now; whatever answers there later is ours (two runs never share one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Process:
    """A child process in its own process group, with its output in var/test-logs/NAME.log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL the whole group: the crash that late acknowledgement must survive."""
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def child_env(db_name: str) -> dict[str, str]:
    """What a child needs to act on the test database with the test settings."""
    return {"DJANGO_SETTINGS_MODULE": "project.settings.test", "POSTGRES_DB": db_name, "PYTHONUNBUFFERED": "1"}


def start_worker(db_name: str, *, name: str = "worker", concurrency: int = 2, extra_env: dict | None = None) -> Process:
    from project.celery import app

    process = Process(
        name,
        [str(RUN), "worker", "-n", f"{name}-{os.getpid()}@%h", "--without-gossip", "--without-mingle"],
        {**child_env(db_name), "CELERY_CONCURRENCY": str(concurrency), **(extra_env or {})},
    )
    node = f"{name}-{os.getpid()}@"

    def ready() -> bool:
        if not process.alive:
            raise RuntimeError(f"worker exited:\n{process.log_tail()}")
        replies = app.control.ping(timeout=0.5) or []
        return any(node in host for reply in replies for host in reply)

    wait_until(ready, timeout=60, what="celery worker")
    return process


def start_beat(db_name: str, *, extra_env: dict | None = None) -> Process:
    schedule = LOG_DIR / f"beat-schedule-{os.getpid()}"
    return Process("beat", [str(RUN), "beat", "-s", str(schedule)], {**child_env(db_name), **(extra_env or {})})


def start_dataservice(db_name: str, url: str) -> Process:
    # The port was chosen free for this run (project/settings/test.py): whatever answers there
    # is not ours, so never reuse it.
    port = url.rsplit(":", 1)[1]
    process = Process(
        "dataservice",
        [str(RUN), "dataservice"],
        {"POSTGRES_DB": db_name, "PYTHONUNBUFFERED": "1", "DATASERVICE_LISTEN": f"127.0.0.1:{port}"},
    )
    wait_until(lambda: http_ok(f"{url}/health"), timeout=30, what="data service")
    return process


def start_export_server(url: str) -> Process:
    port = url.rsplit(":", 1)[1]
    subprocess.run([str(ROOT / "scripts" / "install-highcharts")], check=True, cwd=ROOT)
    process = Process("highcharts", [str(RUN), "highcharts"], {"EXPORT_SERVER_LISTEN": f"127.0.0.1:{port}"})
    wait_until(lambda: http_ok(f"{url}/health"), timeout=90, what="highcharts export server", interval=0.5)
    return process


class FrontDoor:
    """The web tier as `scripts/dev` runs it: nginx (`scripts/run proxy`) on a free port in
    front of gunicorn (`scripts/run web`) and daphne (`scripts/run ws`), each on a free
    loopback port of its own, on the test database. Clients use `base_url` / `ws_url` only."""

    def __init__(
        self,
        db_name: str,
        *,
        extra_env: dict[str, str] | None = None,
        name: str = "front",
        port: int | None = None,
        web_workers: int | None = 2,
    ) -> None:
        self.port = port or free_port()
        self.web_port, self.ws_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/events/"
        self.var_dir = LOG_DIR / f"{name}-proxy-{self.port}"
        env = {
            **child_env(db_name),
            "PROXY_LISTEN": f"127.0.0.1:{self.port}",
            "WEB_LISTEN": f"127.0.0.1:{self.web_port}",
            "WS_LISTEN": f"127.0.0.1:{self.ws_port}",
            # Two sync workers are plenty for a test; None keeps the default (2 x cores + 1).
            "WEB_WORKERS": str(web_workers or ""),
            "PROXY_VAR_DIR": str(self.var_dir),
            # Playwright's sync API runs an event loop in the test process, which then sets
            # DJANGO_ALLOW_ASYNC_UNSAFE; the servers must keep Django's async safety checks.
            "DJANGO_ALLOW_ASYNC_UNSAFE": "",
            **(extra_env or {}),
        }
        self.env = env
        self.processes = [
            Process(f"{name}-web-{self.web_port}", [str(RUN), "web"], env),
            Process(f"{name}-ws-{self.ws_port}", [str(RUN), "ws"], env),
            Process(f"{name}-proxy-{self.port}", [str(RUN), "proxy"], env),
        ]
        try:
            wait_until(self._up, timeout=60, what="proxy, web and ws")
        except Exception:
            self.stop()
            raise

    def _up(self) -> bool:
        for process in self.processes:
            if not process.alive:
                raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        return http_ok(f"{self.base_url}/healthz") and http_ok(f"http://127.0.0.1:{self.ws_port}/healthz")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
