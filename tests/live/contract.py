"""The AsyncAPI document (/api/asyncapi.json) as a checker of what the websocket really sends:
each server message must match exactly one of the server messages it documents."""

from functools import cache

import jsonschema

from project.asyncapi import SERVER_MESSAGES, asyncapi_document

# Events made up by protocol tests carry only what the ordering rules read; their envelope
# is still checked, the event inside only for its kind and id.
LOOSE_EVENT = {"type": "object", "required": ["kind", "id"], "properties": {"kind": {"enum": ["calculation", "function"]}}}


@cache
def document() -> dict:
    return asyncapi_document(host="localhost", secure=False)


@cache
def _validators(strict_events: bool) -> dict[str, jsonschema.Draft7Validator]:
    """One validator per server message, each resolving its `$ref`s inside the document."""
    root = document()
    if not strict_events:
        root = {**root, "components": {**root["components"], "schemas": {
            **root["components"]["schemas"],
            "EventMessage": {**root["components"]["schemas"]["EventMessage"], "properties": {
                **root["components"]["schemas"]["EventMessage"]["properties"], "event": LOOSE_EVENT}},
        }}}
    return {
        name: jsonschema.Draft7Validator(
            {**root, "$ref": f"#/components/messages/{name}/payload"},
            format_checker=jsonschema.FormatChecker(),
        )
        for name in SERVER_MESSAGES
    }


def message_names(message: object, *, strict_events: bool = True) -> list[str]:
    """The documented server messages `message` matches (exactly one when it conforms)."""
    return [name for name, validator in _validators(strict_events).items() if validator.is_valid(message)]


def violations(message: object, *, strict_events: bool = True) -> list[str]:
    """Why `message` is not exactly one documented server message (empty when it is)."""
    names = message_names(message, strict_events=strict_events)
    if len(names) == 1:
        return []
    if names:
        return [f"matches several documented messages {names}: {message}"]
    kind = message.get("type") if isinstance(message, dict) else None
    candidates = [name for name, (_, payload) in SERVER_MESSAGES.items() if payload["properties"]["type"].get("const") == kind]
    reasons = [
        f"{name}: {error.message} at {'/'.join(map(str, error.absolute_path)) or 'the top'}"
        for name in candidates or SERVER_MESSAGES
        for error in _validators(strict_events)[name].iter_errors(message)
    ]
    return [f"documents no such message: {message}", *reasons]
