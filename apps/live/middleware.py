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

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from apps.accounts.selectors import api_token_user

SUBPROTOCOL = "calcboard.v1"
TOKEN_SUBPROTOCOL_PREFIX = "calcboard.bearer."
# A raw token is 43 characters; anything much longer is not one of ours (and not worth hashing).
_MAX_TOKEN_CHARS = 256


def bearer_token(scope: dict) -> str | None:
    """The raw token a client presented in the Authorization header or a subprotocol, if any."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin1").strip().partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return raw.strip()[:_MAX_TOKEN_CHARS]
    for protocol in scope.get("subprotocols", []) or []:
        if protocol.startswith(TOKEN_SUBPROTOCOL_PREFIX) and len(protocol) > len(TOKEN_SUBPROTOCOL_PREFIX):
            return protocol[len(TOKEN_SUBPROTOCOL_PREFIX) :][:_MAX_TOKEN_CHARS]
    return None


class BearerTokenMiddleware(BaseMiddleware):
    """Sets `scope["user"]` from a bearer token when the session did not authenticate anyone.

    Also records `scope["auth_method"]` ("session", "token" or None) for logs and tests.
    """

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        user = scope.get("user")
        if user is not None and user.is_authenticated:
            scope["auth_method"] = "session"
        else:
            scope["auth_method"] = None
            raw = bearer_token(scope)
            if raw is not None:
                token_user = await database_sync_to_async(api_token_user)(raw=raw)
                if token_user is not None:
                    scope["user"] = token_user
                    scope["auth_method"] = "token"
        return await super().__call__(scope, receive, send)


def WebsocketAuthMiddlewareStack(inner):  # noqa: N802 (named like channels' AuthMiddlewareStack)
    """Cookies -> session -> session user -> bearer token, in that order."""
    return AuthMiddlewareStack(BearerTokenMiddleware(inner))
