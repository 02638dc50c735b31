"""The typed environment readers of the settings (project/settings/env.py)."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from project.settings.env import env_bool, env_int, env_list, env_str


def test_an_unset_or_empty_variable_means_the_default(monkeypatch):
    monkeypatch.delenv("CALCBOARD_EXAMPLE", raising=False)
    assert env_str("CALCBOARD_EXAMPLE", "a") == "a"
    monkeypatch.setenv("CALCBOARD_EXAMPLE", "")

    assert env_str("CALCBOARD_EXAMPLE", "a") == "a"
    assert env_int("CALCBOARD_EXAMPLE", 7) == 7
    assert env_bool("CALCBOARD_EXAMPLE", True) is True
    assert env_list("CALCBOARD_EXAMPLE", ["x"]) == ["x"]


def test_it_parses_what_is_set(monkeypatch):
    monkeypatch.setenv("CALCBOARD_EXAMPLE", "42")
    assert env_int("CALCBOARD_EXAMPLE", 0) == 42
    monkeypatch.setenv("CALCBOARD_EXAMPLE", " Off ")
    assert env_bool("CALCBOARD_EXAMPLE", True) is False
    monkeypatch.setenv("CALCBOARD_EXAMPLE", "yes")
    assert env_bool("CALCBOARD_EXAMPLE", False) is True
    monkeypatch.setenv("CALCBOARD_EXAMPLE", "a.example.com, ,b.example.com")
    assert env_list("CALCBOARD_EXAMPLE", []) == ["a.example.com", "b.example.com"]


def test_a_required_variable_that_is_unset_stops_the_start_naming_it(monkeypatch):
    monkeypatch.delenv("CALCBOARD_EXAMPLE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set the CALCBOARD_EXAMPLE environment variable"):
        env_str("CALCBOARD_EXAMPLE")


@pytest.mark.parametrize(
    ("reader", "value", "kind"),
    [(env_int, "4.5", "an integer"), (env_bool, "maybe", "a boolean (true/false)")],
)
def test_a_value_that_does_not_parse_stops_the_start_naming_the_variable(monkeypatch, reader, value, kind):
    monkeypatch.setenv("CALCBOARD_EXAMPLE", value)
    with pytest.raises(
        ImproperlyConfigured, match=re.escape(f"CALCBOARD_EXAMPLE must be {kind}, got '{value}'")
    ):
        reader("CALCBOARD_EXAMPLE", 0)
