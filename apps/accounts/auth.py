"""Authentication for the REST API: a Django session (admin login) or a bearer token."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from apps.accounts.selectors import api_token_get

# A raw token is 43 characters; anything much longer is not one of ours (and not worth hashing).
MAX_TOKEN_CHARS = 256


def bearer_token_parse(header: str | None) -> str | None:
    """The raw token of an `Authorization: Bearer <token>` header value, or None when the
    header is absent, names another scheme or carries no token. The one parser: the REST API,
    the plain views (`request_user`) and the websocket handshake all read tokens here."""
    scheme, _, raw = (header or "").strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        return None
    return raw[:MAX_TOKEN_CHARS]


class BearerTokenAuth(HttpBearer):
    def __call__(self, request: HttpRequest) -> User | None:
        raw = bearer_token_parse(request.headers.get(self.header))
        return None if raw is None else self.authenticate(request, raw)

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        api_token = api_token_get(raw=token)
        if api_token is None:
            return None
        # The token's name goes into the audit trail of what the request creates.
        request.user, request.api_token = api_token.user, api_token  # type: ignore[attr-defined]
        return api_token.user


class SessionAuth(NinjaSessionAuth):
    """The admin session, with CSRF checked only for a request that has a logged-in user.

    ninja checks CSRF before it looks at the session, so an anonymous POST (an API client
    that forgot its token) was answered `403 CSRF check Failed`, which tells it nothing. A
    request without a session carries no one's rights, so a forged cross-site request gains
    nothing from skipping the check: it is answered 401 like any other request without
    credentials. A logged-in session still needs the CSRF token on every write.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)


# Bearer first: the session check enforces CSRF on writes and would refuse a token client
# (which sends no CSRF cookie) before the token was even looked at.
api_auth = [BearerTokenAuth(), SessionAuth()]
