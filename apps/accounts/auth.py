"""Authentication for the REST API: a Django session (admin login) or a bearer token."""

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from apps.accounts.selectors import api_token_user


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_user(raw=token)
        if user is not None:
            request.user = user
        return user


# Bearer first: the session check enforces CSRF on writes and would refuse a token client
# (which sends no CSRF cookie) before the token was even looked at.
api_auth = [BearerTokenAuth(), SessionAuth()]
