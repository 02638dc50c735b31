"""Spy on a function: count how often the code under test calls it, and with what."""

from collections.abc import Callable
from types import ModuleType


def spy(monkeypatch, function: Callable, *modules: ModuleType) -> list[dict]:
    """Replace `function` in each of `modules` (where the code under test looks it up) with a
    wrapper that records each call's keyword arguments, then calls it; returns the record."""
    calls: list[dict] = []

    def recorded(**kwargs):
        calls.append(kwargs)
        return function(**kwargs)

    for module in modules:
        monkeypatch.setattr(module, function.__name__, recorded)
    return calls
