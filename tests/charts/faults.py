"""Fault injection for the charts tests: a local HTTP server answering what a test tells it
to (5xx, 4xx, garbage, silence), and a TCP proxy that can be closed and opened in front of a
real service. The real services themselves are never faked."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScriptedServer:
    """Answers every POST with `status`, `body` and `content_type`; `delay` seconds of silence first."""

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        content_type: str = "application/json",
        delay: float = 0.0,
    ) -> None:
        self.status, self.body, self.content_type, self.delay = status, body, content_type, delay
        self.requests: list[bytes] = []
        scripted = self
        self._stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                scripted.requests.append(self.rfile.read(length))
                if scripted.delay and scripted._stop.wait(scripted.delay):
                    return
                self.send_response(scripted.status)
                self.send_header("Content-Type", scripted.content_type)
                self.send_header("Content-Length", str(len(scripted.body)))
                self.end_headers()
                self.wfile.write(scripted.body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
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
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
