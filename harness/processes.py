"""Real processes for integration tests and benchmarks: the web tier (proxy, web, ws), a Celery
worker, beat, the data service and the Highcharts export server, started with the same
commands the Procfile runs; a private Redis; the fakes that inject faults (a scripted HTTP
server, a TCP proxy that can be closed); and the throwaway databases the benchmarks use.

Collision rule: every service is started here, on a port chosen free for this run, and is
used only once the listener on that port is known to be the process started for it. A
service found on a port, even a healthy one, is never taken for ours: two test runs (or a
test run and a benchmark) on one machine never share a process.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOG_DIR = ROOT / "var" / "test-logs"
# The same entry point the Procfile and compose.yml use: tests run what production runs.
RUN = ROOT / "scripts" / "run"


# --- ports and waiting ------------------------------------------------------------------------


def free_port() -> int:
    """A local port with no listener right now (bound, read, released): a service of ours
    starts there, or a test uses it as a port where nothing answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessExited(RuntimeError):
    """A process that was to become ready exited instead: waiting longer cannot help."""


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.1) -> None:
    """Calls `check` until it returns true. An exception counts as "not yet" (a server still
    starting); the last one is chained to the TimeoutError. ProcessExited ends the wait."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if check():
                return
        except ProcessExited:
            raise
        except Exception as error:  # noqa: BLE001 - any error means "not ready yet"; the last is chained
            last_error = error
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not ready after {timeout}s") from last_error
        time.sleep(interval)


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def run_log_dir() -> Path:
    """var/test-logs/<run>: one folder per test run (CALCBOARD_TEST_RUN, project.settings.test)
    or benchmark process, so a test reading a worker's log never reads another run's lines."""
    run = os.environ.get("CALCBOARD_TEST_RUN") or f"pid-{os.getpid()}"
    path = LOG_DIR / run
    path.mkdir(parents=True, exist_ok=True)
    return path


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def _session_of(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[3])


def _open_files(proc: Path) -> set[str]:
    """What a process's file descriptors point at (`socket:[inode]` for a socket)."""
    links: set[str] = set()
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:
        return links
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            links.add(os.readlink(fd))
    return links


# --- processes ----------------------------------------------------------------------------------


class Process:
    """A child process in its own session, with its output in var/test-logs/<run>/NAME.log."""

    metrics_url: str | None = None  # a worker's own GET /metrics

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = run_log_dir() / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        if not self.alive:
            raise ProcessExited(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")

    def listens_on(self, port: int) -> bool:
        """Whether the listener on `port` is this process or one of its children (its session:
        nginx's and gunicorn's workers, node's browser)."""
        sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
        return any(
            not sockets.isdisjoint(_open_files(entry))
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _session_of(entry) == self.popen.pid
        )

    def require_listener(self, port: int) -> None:
        """Refuses a listener on `port` that is not this process: another run's service on a
        port we chose is never taken for ours."""
        if not self.listens_on(port):
            raise RuntimeError(f"{self.name}: something else answers on port {port}; it was not started here")

    def wait_ready(
        self, check: Callable[[], bool], *, port: int, timeout: float, what: str, interval: float = 0.1
    ) -> None:
        """Waits for `check` while this process lives, then `require_listener(port)`; stops the
        process if it never gets there."""

        def ready() -> bool:
            self.check_alive()
            return check()

        try:
            wait_until(ready, timeout=timeout, what=what, interval=interval)
            self.require_listener(port)
        except Exception:
            self.stop()
            raise

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


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def child_env(db_name: str) -> dict[str, str]:
    """What a child needs to act on the test database with the test settings."""
    return {
        "DJANGO_SETTINGS_MODULE": "project.settings.test",
        "POSTGRES_DB": db_name,
        "PYTHONUNBUFFERED": "1",
    }


def start_worker(
    db_name: str,
    *,
    name: str = "worker",
    concurrency: int = 2,
    extra_env: dict | None = None,
    args: list[str] | None = None,
) -> Process:
    """A Celery worker (`scripts/run worker`) with node name NAME-<our pid>, ready once it
    answers a ping, with its /metrics on a free port (`metrics_url`). `extra_env` overrides
    `child_env(db_name)`; `args` go on to celery."""
    from project.celery import app

    node = f"{name}-{os.getpid()}@"
    metrics_listen = f"127.0.0.1:{free_port()}"
    process = Process(
        name,
        [str(RUN), "worker", *(args or []), "-n", f"{node}%h", "--without-gossip", "--without-mingle"],
        {
            **child_env(db_name),
            "CELERY_CONCURRENCY": str(concurrency),
            "WORKER_METRICS_LISTEN": metrics_listen,
            **(extra_env or {}),
        },
    )
    process.metrics_url = f"http://{metrics_listen}/metrics"

    def ready() -> bool:
        process.check_alive()
        replies = app.control.ping(timeout=0.5) or []
        return any(node in host for reply in replies for host in reply)

    wait_until(ready, timeout=60, what="celery worker")
    return process


def start_beat(db_name: str, *, extra_env: dict | None = None) -> Process:
    schedule = run_log_dir() / f"beat-schedule-{os.getpid()}"
    return Process(
        "beat", [str(RUN), "beat", "-s", str(schedule)], {**child_env(db_name), **(extra_env or {})}
    )


def start_dataservice(db_name: str, url: str, *, name: str = "dataservice") -> Process:
    """The data service (`scripts/run dataservice`) on `url`'s port, chosen free for this run."""
    port = port_of(url)
    process = Process(
        name,
        [str(RUN), "dataservice"],
        {"POSTGRES_DB": db_name, "PYTHONUNBUFFERED": "1", "DATASERVICE_LISTEN": f"127.0.0.1:{port}"},
    )
    process.wait_ready(lambda: http_ok(f"{url}/health"), port=port, timeout=30, what="data service")
    return process


def start_export_server(
    url: str, *, name: str = "highcharts", extra_env: dict[str, str] | None = None
) -> Process:
    """The Highcharts export server (`scripts/run highcharts`) on `url`'s port, chosen free for
    this run; POOL_* and the other variables scripts/highcharts reads pass through, and
    `extra_env` sets the package's own (EXPORT_RASTERIZATION_TIMEOUT to force a timeout)."""
    port = port_of(url)
    subprocess.run([str(ROOT / "scripts" / "install-highcharts")], check=True, cwd=ROOT)
    env = {"EXPORT_SERVER_LISTEN": f"127.0.0.1:{port}", **(extra_env or {})}
    process = Process(name, [str(RUN), "highcharts"], env)
    process.wait_ready(
        lambda: http_ok(f"{url}/health"), port=port, timeout=90, what="highcharts export server", interval=0.5
    )
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
        self.var_dir = run_log_dir() / f"{name}-proxy-{self.port}"
        env = {
            **child_env(db_name),
            "PROXY_LISTEN": f"127.0.0.1:{self.port}",
            "WEB_LISTEN": f"127.0.0.1:{self.web_port}",
            "WS_LISTEN": f"127.0.0.1:{self.ws_port}",
            # Two sync workers are plenty for a test; None keeps the default (2 x cores + 1).
            "WEB_WORKERS": str(web_workers or ""),
            "PROXY_VAR_DIR": str(self.var_dir),
            # Plain HTTP unless a test passes a certificate folder (and a free PROXY_TLS_LISTEN):
            # a developer's var/tls/cert.pem would otherwise put every run on port 8443.
            "PROXY_CERT_DIR": str(self.var_dir / "no-certificate"),
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
            for process, own_port in zip(
                self.processes, (self.web_port, self.ws_port, self.port), strict=True
            ):
                process.require_listener(own_port)
        except Exception:
            self.stop()
            raise

    def _up(self) -> bool:
        for process in self.processes:
            process.check_alive()
        return http_ok(f"{self.base_url}/healthz") and http_ok(f"http://127.0.0.1:{self.ws_port}/healthz")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


class PrivateRedis:
    """A redis-server of our own: killing it is a Redis outage nobody else notices."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> "PrivateRedis":
        import redis

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
        self.process.wait_ready(
            lambda: redis.Redis.from_url(self.url).ping(), port=self.port, timeout=10, what="private redis"
        )
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.stop()
            self.process = None


# --- fakes: faults injected in front of (or instead of) a real service ------------------------


class ScriptedServer:
    """A local HTTP server answering every POST with `status`, `body` and `content_type`
    (5xx, 4xx, garbage), after `delay` seconds of silence, or with `hang_up` closing the
    connection without an answer; it records each request body."""

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "application/json",
        delay: float = 0.0,
        hang_up: bool = False,
    ) -> None:
        self.status, self.body, self.content_type, self.delay = status, body, content_type, delay
        self.hang_up = hang_up
        self.requests: list[bytes] = []
        scripted = self
        self._stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                scripted.requests.append(self.rfile.read(length))
                if scripted.delay and scripted._stop.wait(scripted.delay):
                    return
                if scripted.hang_up:
                    self.close_connection = True
                    return
                self.send_response(scripted.status)
                self.send_header("Content-Type", scripted.content_type)
                self.send_header("Content-Length", str(len(scripted.body)))
                self.end_headers()
                self.wfile.write(scripted.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target` while open; while closed, the port refuses
    connections, as a service that is down does."""

    def __init__(self, *, target_port: int, port: int | None = None, hold: float = 0.0) -> None:
        self.target_port = target_port
        self.hold = hold  # seconds each connection waits before it is forwarded: a slow service
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        if self.hold:
            time.sleep(self.hold)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:  # the target stopped meanwhile (end of the test session)
            client.close()
            return
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# --- databases (benchmarks; the tests' database is pytest-django's) -----------------------------
# These read the server from Django's settings: call them once DJANGO_SETTINGS_MODULE is set.


def database_connect(name: str | None = None) -> Any:  # a psycopg2 connection (untyped)
    """A plain psycopg2 connection, autocommit, to database `name` (default: the settings'
    own) on the settings' server: a floor's client, or `postgres` for maintenance."""
    import psycopg2
    from django.conf import settings

    db = settings.DATABASES["default"]
    connection = psycopg2.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=name or db["NAME"]
    )
    connection.autocommit = True
    return connection


def _maintenance(*statements: str) -> list:
    """Runs `statements` on the `postgres` database; returns the last one's rows, if any."""
    connection = database_connect("postgres")
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def database_recreate(name: str) -> None:
    """An empty database `name`, whatever an earlier (maybe aborted) run left behind."""
    _maintenance(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


def database_ensure(name: str) -> None:
    """Database `name`, created if it does not exist yet (kept, with its tables, if it does)."""
    if not _maintenance(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        _maintenance(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    from django.db import connections

    connections.close_all()
    _maintenance(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
