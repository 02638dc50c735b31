"""What the clients of outside services share: the one error type, a keep-alive HTTP client
per process and service, and the words for a request that got no answer.

Every client raises `ServiceError`, whose text names the service and says what happened, and
whose `transient` flag tells the caller whether a retry can help: the service down, a timeout
or a 5xx is transient; a 4xx (the service refused this input) is permanent.
"""

import os

import httpx

# Bodies of failed responses are quoted in the error text; keep that readable.
MAX_QUOTED = 300


class ServiceError(Exception):
    """An outside service failed. `str(error)` is the text shown to the user."""

    def __init__(self, *, service: str, message: str, transient: bool, status: int | None = None) -> None:
        # `message` reads as the rest of a sentence whose subject is the service:
        # "Export server unreachable (connection refused)", "Data service: division by zero ...".
        separator = "" if message.startswith(":") else " "
        super().__init__(f"{service}{separator}{message}")
        self.message = message
        self.transient = transient
        self.status = status


_CLIENTS: dict[tuple[int, str, float], httpx.Client] = {}


def call_outcome(error: Exception) -> str | None:
    """How a failed call is counted (`calcboard_outside_calls`): no answer, a 5xx, a 4xx (the
    service refused the input) or an answer that is not what was asked for; None: not a call's
    outcome (a bug), left uncounted."""
    if not isinstance(error, ServiceError):
        return None
    if error.status is None:
        return "unreachable" if error.transient else "bad_answer"
    return "server_error" if error.status >= 500 else "client_error"


def client(base_url: str, timeout: float) -> httpx.Client:
    """One keep-alive client per process and service: building an httpx.Client loads the CA
    bundle, which costs as much CPU as a chart's own work in the worker (docs/benchmarks.md);
    the pid in the key gives each forked worker process its own connections."""
    key = (os.getpid(), base_url, timeout)
    client = _CLIENTS.get(key)
    if client is None:
        client = _CLIENTS[key] = httpx.Client(base_url=base_url, timeout=timeout)
    return client


def network_error(service: str, exc: httpx.HTTPError, timeout: float) -> ServiceError:
    """Describe a request that got no HTTP answer: always transient."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return ServiceError(service=service, message=f"timed out after {timeout:g} s", transient=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ServiceError(
            service=service, message="dropped the connection without answering", transient=True
        )
    text = str(exc).lower()
    if "refused" in text:
        reason = "connection refused"
    elif isinstance(exc, httpx.ConnectTimeout):
        reason = "connect timeout"
    elif "name or service not known" in text or "nodename" in text or "name resolution" in text:
        reason = "unknown host"
    else:
        reason = str(exc)[:MAX_QUOTED] or type(exc).__name__
    return ServiceError(service=service, message=f"unreachable ({reason})", transient=True)


def quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


def json_or_none(response: httpx.Response) -> dict | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
