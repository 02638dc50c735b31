"""The one error shape as a ninja schema, for the error answers every router documents."""

from ninja import Schema


class FieldErrorOut(Schema):
    field: str | None
    rule: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldErrorOut]
