"""Who is on the other end of a websocket: an admin session or a bearer token.

The websocket API follows the REST API's access rules: a logged-in Django session OR an
active API token. Credentials are checked once, at the handshake, so a stranger never holds
an open socket while we wait for them to identify themselves. Three transports:

- the session cookie: the admin live widget, same origin, nothing to configure;
- `Authorization: Bearer <token>`: programs (Python `websockets`, websocat, curl...);
- `Sec-WebSocket-Protocol: calcboard.v1, calcboard.bearer.<token>`: browser code holding a
  token, because browsers cannot set headers on a websocket handshake. The server answers
  with `calcboard.v1` only, so the token is never echoed back.

Never in the query string: URLs end up in access logs, proxies and browser history.
"""

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.accounts.auth import MAX_TOKEN_CHARS, bearer_token_parse
from apps.accounts.selectors import api_token_get

SUBPROTOCOL = "calcboard.v1"
DEFAULT_PORTS = {"http": 80, "https": 443}
TOKEN_SUBPROTOCOL_PREFIX = "calcboard.bearer."  # noqa: S105 - a protocol prefix, not a secret
# ASGI's callables, as loosely as Channels passes them around.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def bearer_token(scope: dict) -> str | None:
    """The raw token a client presented in the Authorization header or a subprotocol, if any."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            raw = bearer_token_parse(value.decode("latin1"))
            if raw is not None:
                return raw
    for protocol in scope.get("subprotocols", []) or []:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(protocol) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX) :][:MAX_TOKEN_CHARS]
    return None


class BearerTokenMiddleware(BaseMiddleware):
    """Sets `scope["user"]` from a bearer token when the session did not authenticate anyone.

    Also records `scope["auth_method"]` ("session", "token" or None) and, for a token,
    `scope["api_token_id"]`: what the consumer re-checks and what revocations name.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope)
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            scope["auth_method"] = "session"
        else:
            scope["auth_method"] = None
            raw = bearer_token(scope)
            if raw is not None:
                token = await database_sync_to_async(api_token_get)(raw=raw)
                if token is not None:
                    scope["user"] = token.user
                    scope["auth_method"] = "token"
                    scope["api_token_id"] = token.pk
        return await super().__call__(scope, receive, send)


def WebsocketAuthMiddlewareStack(inner: ASGIApp) -> ASGIApp:  # noqa: N802 (named like channels' AuthMiddlewareStack)
    """Cookies -> session -> session user -> bearer token, in that order."""
    return AuthMiddlewareStack(BearerTokenMiddleware(inner))


# --- the Origin check ---------------------------------------------------------------------

Origin = tuple[str, str, int]  # scheme, host, port


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1").strip()
    return None


def _origin(value: str) -> Origin | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a port out of range or not a number
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _trusted(origin: Origin, pattern: str) -> bool:
    """CSRF_TRUSTED_ORIGINS semantics: exact scheme and port, `*.` allows subdomains."""
    wildcard = "://*." in pattern
    allowed = _origin(pattern.replace("://*.", "://", 1))
    if allowed is None:
        return False
    scheme, host, port = allowed
    if (origin[0], origin[2]) != (scheme, port):
        return False
    return origin[1] == host or (wildcard and origin[1].endswith("." + host))


def _own_origin(scope: dict) -> Origin | None:
    """The origin the handshake was addressed to: its Host header (an allowed host) and the
    scheme the client used (wss, or https terminated by a proxy per SECURE_PROXY_SSL_HEADER)."""
    host = _header(scope, b"host")
    if not host:
        return None
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, expected = proxy_header
        name = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        secure = secure or (_header(scope, name) or "").split(",")[0].strip() == expected
    scheme = "https" if secure else "http"
    return scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme]


def origin_allowed(scope: dict) -> bool:
    """Same origin (scheme, host and port), or one of CSRF_TRUSTED_ORIGINS, like Django's CSRF
    check. A bare host name is not enough: `http://localhost:9999` is another site than
    `http://localhost:8000`."""
    value = _header(scope, b"origin")
    origin = _origin(value) if value else None
    if origin is None:
        return False
    if any(_trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS):
        return True
    return origin == _own_origin(scope)


class OriginValidator:
    """Refuses (HTTP 403 at the handshake) a browser session's websocket whose Origin is not
    allowed.

    The check protects cookies: a page on another site can make a browser open a socket
    with the admin's session cookie (cross-site websocket hijacking), but it cannot know a
    bearer token. So a handshake that presents a token (header or subprotocol) needs no
    allowed Origin; without one its cookies are dropped, so only the token can authenticate
    it (a wrong token is refused with 4401 like any other).
    """

    def __init__(self, application: ASGIApp) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            if bearer_token(scope) is None:
                return await WebsocketDenier()(scope, receive, send)
            headers = [(name, value) for name, value in scope.get("headers", []) if name != b"cookie"]
            scope = {**scope, "headers": headers}
        return await self.application(scope, receive, send)
