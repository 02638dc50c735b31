"""The AsyncAPI document (/api/asyncapi.json) as a checker of what the websocket really sends:
each server message must match exactly one of the server messages it documents."""

import jsonschema

from project.asyncapi import asyncapi_document, server_messages

# Events made up by protocol tests carry only what the ordering rules read; their envelope
# is still checked, the event inside only for its kind and id.
LOOSE_EVENT = {"type": "object", "required": ["kind", "id"]}


def document() -> dict:
    return asyncapi_document(host="localhost", secure=False)


class Contract:
    """The document of the kinds registered now, one validator per server message."""

    def __init__(self, *, strict_events: bool = True) -> None:
        root = document()
        if not strict_events:
            schemas = root["components"]["schemas"]
            event = schemas["EventMessage"]
            schemas["EventMessage"] = {**event, "properties": {**event["properties"], "event": LOOSE_EVENT}}
        self.messages = server_messages()
        self.validators = {
            name: jsonschema.Draft7Validator(
                {**root, "$ref": f"#/components/messages/{name}/payload"},
                format_checker=jsonschema.FormatChecker(),
            )
            for name in self.messages
        }

    def names(self, message: object) -> list[str]:
        """The documented server messages `message` matches (exactly one when it conforms)."""
        return [name for name, validator in self.validators.items() if validator.is_valid(message)]

    def violations(self, message: object) -> list[str]:
        """Why `message` is not exactly one documented server message (empty when it is)."""
        names = self.names(message)
        if len(names) == 1:
            return []
        if names:
            return [f"matches several documented messages {names}: {message}"]
        kind = message.get("type") if isinstance(message, dict) else None
        candidates = [
            n for n, (_, payload) in self.messages.items() if payload["properties"]["type"]["const"] == kind
        ]
        reasons = [
            f"{name}: {error.message} at {'/'.join(map(str, error.absolute_path)) or 'the top'}"
            for name in candidates or self.messages
            for error in self.validators[name].iter_errors(message)
        ]
        return [f"documents no such message: {message}", *reasons]


def message_names(message: object) -> list[str]:
    return Contract().names(message)


def violations(message: object) -> list[str]:
    return Contract().violations(message)
