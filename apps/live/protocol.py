"""The websocket protocol's vocabulary: close codes, bounds, and what a client's message means.

Every message a client sends is read here into an action and a target (a stream, or one
object as `kind` + `id`); a message that breaks a rule raises `ProtocolError`, which the
consumer answers with an `error` message naming the field. The protocol is documented in
docs/reference/websocket-protocol.md.
"""

import json
from typing import Any

from redis.exceptions import RedisError

from apps.jobs.models import MAX_ID
from apps.live.eventlog import Position, event_id_parse
from apps.live.realtime import object_group
from apps.live.selectors import live_kinds, live_streams

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_CONNECTIONS = 4409  # LIVE_MAX_CONNECTIONS_PER_USER
CLOSE_RATE_LIMITED = 4429  # LIVE_MESSAGE_RATE / LIVE_MESSAGE_BURST
CLOSE_UNAVAILABLE = 4503

MAX_MESSAGE_CHARS = 4096
MAX_OBJECT_SUBSCRIPTIONS = 200

ACTIONS = ("subscribe", "unsubscribe", "ping")

# What the channel layer and the event log raise when their Redis is gone.
LAYER_ERRORS = (RedisError, ConnectionError, OSError)

# The reply keys of a (un)subscribe: {"stream": ...} or {"kind": ..., "id": ...}.
Target = dict[str, Any]


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def error_message(code: str, message: str, *, field: str | None = None) -> dict:
    return {"type": "error", "code": code, "field": field, "message": message}


def message_decode(text_data: str | None) -> dict:
    """A client's frame as a JSON object, or ProtocolError."""
    if text_data is None:
        raise ProtocolError("binary_not_supported", "Send JSON text frames, not binary ones.")
    if len(text_data) > MAX_MESSAGE_CHARS:
        raise ProtocolError("message_too_large", f"Messages are limited to {MAX_MESSAGE_CHARS} characters.")
    try:
        content = json.loads(text_data)
    except ValueError:
        raise ProtocolError("invalid_json", "The message is not valid JSON.") from None
    return message_object(content)


def message_object(content: Any) -> dict:
    if not isinstance(content, dict):
        raise ProtocolError("invalid_message", "A message is a JSON object with an 'action'.")
    return content


def message_action(content: dict) -> str:
    action = content.get("action")
    if action not in ACTIONS:
        raise ProtocolError(
            "unknown_action", f"'action' must be one of: {', '.join(ACTIONS)}.", field="action"
        )
    return action


def message_target(content: dict) -> tuple[Target, str]:
    """The reply keys and the group name a (un)subscribe message designates."""
    if "stream" in content:
        stream, streams = content["stream"], live_streams()
        if stream not in streams:
            raise ProtocolError(
                "invalid_stream", f"'stream' must be one of: {', '.join(streams)}.", field="stream"
            )
        return {"stream": stream}, stream
    if "since" in content:
        raise ProtocolError("invalid_since", "'since' is only for stream subscriptions.", field="since")
    kind, kinds = content.get("kind"), live_kinds()
    if kind not in kinds:
        raise ProtocolError(
            "invalid_kind",
            f"Give 'stream' ({', '.join(live_streams())}) or 'kind' ({', '.join(kinds)}) with 'id'.",
            field="kind",
        )
    obj_id = content.get("id")
    if not isinstance(obj_id, int) or isinstance(obj_id, bool) or not 0 < obj_id <= MAX_ID:
        raise ProtocolError("invalid_id", "'id' must be a positive integer.", field="id")
    return {"kind": kind, "id": obj_id}, object_group(kind, obj_id)


def message_since(content: dict) -> Position | None:
    """The position a stream subscription resumes after, or None for live events only."""
    if content.get("since") is None:
        return None
    try:
        return event_id_parse(content["since"])
    except ValueError:
        raise ProtocolError(
            "invalid_since", "'since' must be an event_id this server sent, as a string.", field="since"
        ) from None


def target_kind(target: Target) -> str:
    """The live kind a target is about: a stream's kind, or the object's."""
    return live_streams()[target["stream"]] if "stream" in target else target["kind"]
