"""`Idempotency-Key` for create endpoints: a client that retries a timed-out POST gets the
first answer back instead of a second job.

The same key with the same body within JOBS_IDEMPOTENCY_TTL seconds (24 h) answers what the
first request answered and creates nothing; the same key with another body is a 422 naming
the header. Keys are per user and per operation. Two requests racing with one key are
serialised by the record's unique index: the second waits for the first to commit, then
answers its answer.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Header, Schema
from pydantic import WithJsonSchema

from apps.core.errors import DomainError
from apps.core.responses import api_url, created_response
from apps.jobs.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 255
# Printable ASCII with at least one visible character (surrounding spaces are trimmed).
KEY_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"
# What the header accepts, documented for clients; `_key_check` enforces it with its own rule.
IdempotencyKey = Annotated[
    str | None,
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": KEY_PATTERN}),
]


def idempotency_key_header() -> Any:
    """The header as an endpoint argument: `idempotency_key: IdempotencyKey = idempotency_key_header()`."""
    return Header(
        None,
        alias=HEADER,
        description=f"Retry safely: the same key with the same body within 24 hours answers the first "
        f"answer and creates nothing. 1 to {KEY_MAX_LENGTH} printable ASCII characters, per user; another "
        f"value is a 422 (rule `idempotency_key_format`).",
    )


def _key_check(key: str) -> str:
    key = key.strip()
    if not key or len(key) > KEY_MAX_LENGTH or not key.isprintable() or not key.isascii():
        raise DomainError(
            f"{HEADER} must be 1 to {KEY_MAX_LENGTH} printable ASCII characters.",
            field=HEADER,
            rule="idempotency_key_format",
        )
    return key


def _body_hash(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent_create(
    *, user: User, scope: str, key: str | None, body: Any, create: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Answer `create()` (status, body), or the stored first answer to the same key.

    `body` is the parsed request (what makes two requests "the same"); `create` runs inside
    the transaction that stores the answer, so both commit together or not at all.
    """
    if key is None:
        return create()
    key = _key_check(key)
    request_hash = _body_hash(body)
    now = timezone.now()
    fresh_after = now - timedelta(seconds=settings.JOBS_IDEMPOTENCY_TTL)
    with transaction.atomic():
        # An expired record is as good as none: its key may be used again.
        IdempotencyRecord.objects.filter(user=user, scope=scope, key=key, created_at__lt=fresh_after).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user,
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    response_status=0,
                    response_body={},
                    created_at=now,
                )
        except IntegrityError:
            # Taken: by a committed request, or one in flight (this waited for its commit).
            record = None
        if record is not None:
            status, answer = create()
            record.response_status, record.response_body = status, answer
            record.save(update_fields=["response_status", "response_body"])
            return status, answer
    first = IdempotencyRecord.objects.get(user=user, scope=scope, key=key)
    if first.request_hash != request_hash:
        raise DomainError(
            f"{HEADER} {key!r} was already used with a different body; send a new key for a new request.",
            field=HEADER,
            rule="idempotency_key_reused",
        )
    return first.response_status, first.response_body


def job_created(
    *,
    request: HttpRequest,
    scope: str,
    key: str | None,
    payload: Schema,
    create: Callable[[], models.Model],
    detail_url_name: str,
) -> HttpResponse:
    """The answer of a create endpoint: 201 `{"id"}` of the job `create()` stores, with its
    detail URL (the API operation `detail_url_name`) in `Location`, or the first answer to
    the same `Idempotency-Key` (see `idempotent_create`)."""

    def created() -> tuple[int, dict]:
        return 201, {"id": create().pk}

    user = request.user
    assert user.is_authenticated  # `requires` ran before the endpoint
    _, body = idempotent_create(user=user, scope=scope, key=key, body=payload.dict(), create=created)
    return created_response(body=body, location=api_url(detail_url_name, id=body["id"]))
