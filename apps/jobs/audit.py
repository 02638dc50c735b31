"""Who acts on a job: the audit trail's actor, taken from a request (API or admin)."""

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    """A signed-in user, and the name of the API token the request carried, if any."""

    user: Any  # the AUTH_USER_MODEL instance
    token_name: str = ""

    @property
    def user_id(self) -> int:
        return self.user.pk


def actor_of(request: HttpRequest) -> Actor:
    """The actor of an authenticated request (apps.accounts.auth notes the token on it)."""
    token = getattr(request, "api_token", None)
    return Actor(user=request.user, token_name=token.name if token is not None else "")
