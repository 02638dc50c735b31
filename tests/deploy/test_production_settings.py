"""Production settings: `check --deploy` is clean, secrets and hosts come only from the
environment, DEBUG is off. Each case starts `manage.py` in a fresh process with a minimal
environment, the way a container starts."""

import os
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(50)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "project.settings.production",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=ROOT,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_settings(monkeypatch, **env: str) -> dict:
    """Execute the production settings module with exactly these DJANGO_* variables."""
    for name in list(os.environ):
        if name.startswith("DJANGO_") and name != "DJANGO_SETTINGS_MODULE":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("project.settings.production")


def test_it_passes_check_deploy_at_warning_level():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SECRET_KEY=GOOD_KEY,
        DJANGO_ALLOWED_HOSTS="calcboard.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key():
    result = manage("check", DJANGO_ALLOWED_HOSTS="calcboard.example.com")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("weak_key", ["short-key", "insecure-local-development-key", "change-me-" + "x" * 60])
def test_it_refuses_a_short_or_placeholder_secret_key(monkeypatch, weak_key):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        production_settings(
            monkeypatch, DJANGO_SECRET_KEY=weak_key, DJANGO_ALLOWED_HOSTS="calcboard.example.com"
        )


def test_it_refuses_to_start_without_allowed_hosts(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_ALLOWED_HOSTS"):
        production_settings(monkeypatch, DJANGO_SECRET_KEY=GOOD_KEY)


def test_it_keeps_debug_off_even_when_the_environment_asks_for_it(monkeypatch):
    values = production_settings(
        monkeypatch,
        DJANGO_SECRET_KEY=GOOD_KEY,
        DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com",
        DJANGO_DEBUG="true",
    )

    assert values["DEBUG"] is False
    assert values["SECRET_KEY"] == GOOD_KEY
    assert values["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com"]


def test_it_defaults_to_https_only_cookies_redirects_and_hsts(monkeypatch):
    values = production_settings(
        monkeypatch, DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_ALLOWED_HOSTS="a.example.com"
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["MIDDLEWARE"][0] == "project.health.HealthzMiddleware"


def test_the_plain_http_trial_switch_turns_https_enforcement_off(monkeypatch):
    values = production_settings(
        monkeypatch, DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_ALLOWED_HOSTS="localhost", DJANGO_HTTPS="false"
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["DEBUG"] is False


def test_collectstatic_runs_with_production_settings_and_a_build_time_secret(tmp_path):
    """What the app image's build step runs; hashed names prove the manifest storage is used.
    Only the target differs (STATIC_ROOT is a constant): a test must not write into the tree."""
    script = (
        "import sys, django; from django.conf import settings; django.setup(); "
        "settings.STATIC_ROOT = sys.argv[1]; "
        "from django.core.management import call_command; "
        "call_command('collectstatic', interactive=False, verbosity=0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        check=False,
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "project.settings.production",
            "DJANGO_SECRET_KEY": "build-only-" + GOOD_KEY,
            "DJANGO_ALLOWED_HOSTS": "localhost",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").is_file()
    assert list((tmp_path / "admin" / "css").glob("base.*.css"))
