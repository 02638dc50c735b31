"""The websocket protocol of /ws/events/ as an AsyncAPI 3.0 document, served at
/api/asyncapi.json beside the OpenAPI document: every message both ways with its fields and
types, for people and for generators of typed clients. docs/reference/websocket-protocol.md
is the prose; tests/live check every message the server really sends against this document.

Built here, in the project, because it puts together the live app's protocol and what the
registry of job kinds (apps.jobs.registry) says about each kind: its stream, its kind name
and the schema of its events (`JobKind.event_schema`). Built per request (a few ms): tests
register kinds of their own."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.jobs.models import MAX_ID
from apps.jobs.registry import JobKind, job_kinds
from apps.live.middleware import SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX
from apps.live.protocol import (
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNAVAILABLE,
    MAX_MESSAGE_CHARS,
)

ASYNCAPI_VERSION = "3.0.0"
# Every `code` an `error` message carries (docs/reference/websocket-protocol.md explains each).
ERROR_CODES = (
    "invalid_json",
    "binary_not_supported",
    "message_too_large",
    "invalid_message",
    "unknown_action",
    "invalid_stream",
    "invalid_kind",
    "invalid_id",
    "invalid_since",
    "unknown_since",
    "not_found",
    "permission_denied",
    "too_many_subscriptions",
    "too_many_connections",
    "rate_limited",
    "unavailable",
    "unauthenticated",
    "revoked",
)
# Why the server ended a subscription itself (`unsubscribed` with `reason`).
UNSUBSCRIBE_REASONS = ("permission_denied",)

DESCRIPTION = f"""Live events about the product's jobs (calculations, function charts, ...) over one
websocket, `/ws/events/`. Messages are JSON text frames (at most {MAX_MESSAGE_CHARS} characters a
client message); bad input is answered with an `error` message and never closes the
connection.

Authenticate at the handshake with `Authorization: Bearer <token>`, or from browser code
with the subprotocols `{SUBPROTOCOL}, {TOKEN_SUBPROTOCOL_PREFIX}<token>` (the server selects
`{SUBPROTOCOL}`), or with the admin's session cookie, which needs the site's own `Origin`.
Close codes, each after an `error` saying why: {CLOSE_UNAUTHENTICATED} not authenticated or
credentials revoked (`unauthenticated`, `revoked`); {CLOSE_TOO_MANY_CONNECTIONS} too many open
connections of one user (`too_many_connections`); {CLOSE_RATE_LIMITED} too many messages
(`rate_limited`); {CLOSE_UNAVAILABLE} the channel layer is unavailable (`unavailable`):
reconnect with backoff and resubscribe with `since`.

Subscribe to a stream (every object of one kind, with replay by `since`) or to one object
(`kind` and `id`); each needs the `view_*` permission of that kind. Every event carries
`event_id` (its position in the stream's log) and `updated_at` (ISO 8601, UTC, microseconds,
`Z`: the REST API's format, so they compare as text)."""

OBJECT_ID = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_ID,
    "description": "The object's id (its REST `id`).",
}
EVENT_ID = {"type": "string", "maxLength": 64, "description": "An `event_id` this server sent."}
# What every event has, whatever its kind: all a kind registered without `event_schema` gets.
EVENT_FIELDS = {
    "type": "object",
    "required": ["kind", "id", "event_id"],
    "properties": {"kind": {"type": "string"}, "id": {"type": "integer"}, "event_id": {"type": "string"}},
}


def _string_enum(values: Any) -> dict:
    return {"type": "string", "enum": list(values)}


def _object(properties: dict, *, required: list[str], description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _const(name: str) -> dict:
    return {"type": "string", "const": name}


def _event_schema_name(kind: JobKind) -> str:
    return f"{kind.model.__name__}Event"


def client_messages() -> dict[str, tuple[str, dict]]:
    """name -> (title, payload schema) of what a client sends, for the registered kinds."""
    stream = {
        **_string_enum(kind.stream_name for kind in job_kinds),
        "description": "A stream: every object of one kind.",
    }
    kind = {**_string_enum(kind.live_kind for kind in job_kinds), "description": "The kind of one object."}
    return {
        "subscribeStream": (
            "Subscribe to a stream",
            _object(
                {
                    "action": _const("subscribe"),
                    "stream": stream,
                    "since": {"oneOf": [EVENT_ID, {"type": "null"}]},
                },
                required=["action", "stream"],
                description="Every event of the stream from now on; with `since` (the last `event_id` "
                "applied) first every kept event after it, in order.",
            ),
        ),
        "subscribeObject": (
            "Subscribe to one object",
            _object(
                {"action": _const("subscribe"), "kind": kind, "id": OBJECT_ID},
                required=["action", "kind", "id"],
                description="Every event about one object.",
            ),
        ),
        "unsubscribeStream": (
            "Unsubscribe from a stream",
            _object(
                {"action": _const("unsubscribe"), "stream": stream},
                required=["action", "stream"],
                description="Stop the stream's events.",
            ),
        ),
        "unsubscribeObject": (
            "Unsubscribe from one object",
            _object(
                {"action": _const("unsubscribe"), "kind": kind, "id": OBJECT_ID},
                required=["action", "kind", "id"],
                description="Stop one object's events.",
            ),
        ),
        "ping": (
            "Ping",
            _object(
                {"action": _const("ping")},
                required=["action"],
                description="Keeps proxies from closing an idle socket and renews the subscriptions; "
                "send every ~30 s.",
            ),
        ),
    }


def server_messages() -> dict[str, tuple[str, dict]]:
    """name -> (title, payload schema) of what the server sends, for the registered kinds."""
    stream = {
        **_string_enum(kind.stream_name for kind in job_kinds),
        "description": "A stream: every object of one kind.",
    }
    kind = {**_string_enum(kind.live_kind for kind in job_kinds), "description": "The kind of one object."}
    reason = {
        **_string_enum(UNSUBSCRIBE_REASONS),
        "description": "Why the server ended the subscription itself.",
    }
    events = [{"$ref": f"#/components/schemas/{_event_schema_name(kind)}"} for kind in job_kinds]
    return {
        "subscribedStream": (
            "Subscribed to a stream",
            _object(
                {
                    "type": _const("subscribed"),
                    "stream": stream,
                    "replayed": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Events replayed before this (with `since`).",
                    },
                },
                required=["type", "stream"],
                description="The stream subscription holds; with `since`, after the replayed events.",
            ),
        ),
        "subscribedObject": (
            "Subscribed to one object",
            _object(
                {"type": _const("subscribed"), "kind": kind, "id": OBJECT_ID},
                required=["type", "kind", "id"],
                description="The object subscription holds.",
            ),
        ),
        "unsubscribedStream": (
            "Unsubscribed from a stream",
            _object(
                {"type": _const("unsubscribed"), "stream": stream, "reason": reason},
                required=["type", "stream"],
                description="No more events of the stream (also when there was no subscription); with "
                "`reason` when the server ended it (the permission was withdrawn).",
            ),
        ),
        "unsubscribedObject": (
            "Unsubscribed from one object",
            _object(
                {"type": _const("unsubscribed"), "kind": kind, "id": OBJECT_ID, "reason": reason},
                required=["type", "kind", "id"],
                description="No more events of the object (also when there was no subscription); with "
                "`reason` when the server ended it.",
            ),
        ),
        "resync": (
            "Reload the stream",
            _object(
                {"type": _const("resync"), "stream": stream},
                required=["type", "stream"],
                description="Events were lost (too old for the log, or the log was lost): read the current "
                "state over the REST API.",
            ),
        ),
        "pong": (
            "Pong",
            _object({"type": _const("pong")}, required=["type"], description="The answer to `ping`."),
        ),
        "event": (
            "A live event",
            _object(
                {"type": _const("event"), "event": {"oneOf": events}},
                required=["type", "event"],
                description="A state change of one object (`event.kind`).",
            ),
        ),
        "error": (
            "An error",
            _object(
                {
                    "type": _const("error"),
                    "code": {**_string_enum(ERROR_CODES), "description": "What went wrong, for programs."},
                    "field": {
                        "type": ["string", "null"],
                        "description": "The message key at fault, if one is.",
                    },
                    "message": {"type": "string", "description": "What went wrong, for people."},
                },
                required=["type", "code", "field", "message"],
                description=(
                    "A refused message (the connection stays open), or, before a close, why it closes."
                ),
            ),
        ),
    }


# (operation name, action from the server's side, messages, reply messages)
OPERATIONS = [
    (
        "subscribe",
        "receive",
        ["subscribeStream", "subscribeObject"],
        ["event", "subscribedStream", "subscribedObject", "resync", "error"],
    ),
    (
        "unsubscribe",
        "receive",
        ["unsubscribeStream", "unsubscribeObject"],
        ["unsubscribedStream", "unsubscribedObject", "error"],
    ),
    ("ping", "receive", ["ping"], ["pong"]),
    ("sendEvent", "send", ["event"], None),
    ("sendSubscribed", "send", ["subscribedStream", "subscribedObject"], None),
    ("sendUnsubscribed", "send", ["unsubscribedStream", "unsubscribedObject"], None),
    ("sendResync", "send", ["resync"], None),
    ("sendPong", "send", ["pong"], None),
    ("sendError", "send", ["error"], None),
]


def _event_schema(kind: JobKind) -> dict:
    if kind.event_schema is None:
        return {**EVENT_FIELDS, "description": f"A {kind.live_kind} event."}
    document = kind.event_schema.model_json_schema(mode="serialization")
    document.pop("title", None)
    return document


def _document() -> dict:
    messages = {**client_messages(), **server_messages()}
    schemas = {f"{name[0].upper()}{name[1:]}Message": payload for name, (_, payload) in messages.items()}
    schemas.update({_event_schema_name(kind): _event_schema(kind) for kind in job_kinds})

    def ref(name: str) -> dict:
        return {"$ref": f"#/channels/events/messages/{name}"}

    operations: dict[str, dict] = {}
    for name, action, sent, replies in OPERATIONS:
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": "#/channels/events"},
            "messages": [ref(message) for message in sent],
        }
        if replies:
            operation["reply"] = {
                "channel": {"$ref": "#/channels/events"},
                "messages": [ref(m) for m in replies],
            }
        operations[name] = operation
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "Calcboard live events", "version": "1.0.0", "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {},  # filled in per request: the host the client asked
        "channels": {
            "events": {
                "address": "/ws/events/",
                "title": "Live events",
                "description": "The one websocket: subscriptions and events of every kind.",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": operations,
        "components": {
            "messages": {
                name: {
                    "name": name,
                    "title": title,
                    "contentType": "application/json",
                    "payload": {"$ref": f"#/components/schemas/{name[0].upper()}{name[1:]}Message"},
                }
                for name, (title, _) in messages.items()
            },
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token in `Authorization: Bearer <token>`, or browser code's "
                    f"subprotocols `{SUBPROTOCOL}, {TOKEN_SUBPROTOCOL_PREFIX}<token>`. No `Origin` needed.",
                },
                "session": {
                    "type": "httpApiKey",
                    "in": "cookie",
                    "name": settings.SESSION_COOKIE_NAME,
                    "description": (
                        "The admin's session cookie; the handshake's `Origin` must be the site's own."
                    ),
                },
            },
        },
    }


def asyncapi_document(*, host: str, secure: bool) -> dict:
    """The document, its server being the host (and scheme) the client reached."""
    document = _document()
    document["servers"] = {
        "site": {
            "host": host,
            "protocol": "wss" if secure else "ws",
            "description": "This site; websockets share its host with the REST API.",
            "security": [
                {"$ref": "#/components/securitySchemes/bearer"},
                {"$ref": "#/components/securitySchemes/session"},
            ],
        }
    }
    return document


@require_GET
def asyncapi_json(request: HttpRequest) -> JsonResponse:
    """GET /api/asyncapi.json: public, like /api/openapi.json (types and names, no data)."""
    return JsonResponse(asyncapi_document(host=request.get_host(), secure=request.is_secure()))
