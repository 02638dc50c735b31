"""Typed readers for configuration that comes from the environment (12-factor).

Only what an operator sets (`.env.example`) and what compose and the scripts wire up
(docs/reference/settings.md) is read; everything else is a constant in its settings module. An empty
value means the default, as in `.env.example`."""

import os
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name) or default
    if value is None:
        raise ImproperlyConfigured(f"Set the {name} environment variable.")
    return value


def _env_parsed(name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    """The variable parsed, or the default when unset; a value that does not parse stops the
    process at start-up and names the variable."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be {kind}, got {raw!r}.") from exc


def _parse_bool(raw: str) -> bool:
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ValueError(raw)


def env_int(name: str, default: int) -> int:
    return _env_parsed(name, default, int, "an integer")


def env_bool(name: str, default: bool) -> bool:
    return _env_parsed(name, default, _parse_bool, "a boolean (true/false)")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]
