"""Schemas of every job kind's API: the status vocabulary, the audit trail and pins."""

from typing import Annotated, Any, Literal, get_args

from django.http import HttpRequest
from ninja import Field, Schema
from pydantic import WithJsonSchema

from apps.core.errors import DomainError
from apps.jobs.models import JobStatus

# A job's status as the API documents it (an enum in OpenAPI): the one vocabulary, JobStatus.
JobStatusName = Literal["queued", "running", "finished", "failed", "cancelled"]
assert list(get_args(JobStatusName)) == JobStatus.values  # the same names in the same order


class ActorOut(Schema):
    id: int
    username: str
    token: str | None = Field(None, description="The API token's name, when one was used (created_by only).")


def actor_out(user: Any, *, token: str = "") -> dict | None:
    """`{"id", "username"[, "token"]}` of a user, None for nobody (or a deleted user)."""
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), **({"token": token} if token else {})}


# ?created_by= : a user id, or `me` for whoever asks.
CreatedByFilter = Annotated[
    str | None, WithJsonSchema({"type": "string", "pattern": "^(me|[1-9][0-9]{0,18})$", "example": "me"})
]
CREATED_BY_DESCRIPTION = "Only jobs this user created: a user id, or `me`."


def created_by_parse(*, value: str | None, request: HttpRequest) -> int | None:
    """The user id `?created_by=` names (`me`: the requester); a 422 naming the field otherwise."""
    if value is None:
        return None
    if value == "me":
        return request.user.pk
    if value.isdigit() and 1 <= int(value) <= 2**63 - 1:
        return int(value)
    raise DomainError("created_by must be a user id or `me`.", field="created_by", rule="invalid")
