"""The front door's limit for history files: 200 MiB on the import routes only, refused by
nginx before the body reaches Python; elsewhere the small limit stays."""

import re
import socket
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from apps.accounts.services import api_token_create
from apps.jobs.models import IN_FLIGHT
from apps.wells.models import HistoryImport
from apps.wells.services import history_import_run, well_create
from harness.processes import wait_until
from tests.conftest import permissions_grant
from tests.wells.conftest import csv_bytes

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token(django_user_model) -> str:
    user = django_user_model.objects.create_user(username="wells-proxy", password="proxy-pass-123")
    permissions_grant(user, "view", "add", "change")
    return api_token_create(user=user, name="proxy")[1]


def test_the_proxys_import_limit_is_djangos():
    constant = re.search(r"PROXY_IMPORT_MAX_BODY_BYTES=(\d+)", (ROOT / "scripts" / "run").read_text())
    assert constant and int(constant[1]) == settings.WELLS_IMPORT_MAX_BYTES


def refused_before_sent(front_door, token: str, path: str, length: int) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", front_door.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        raw = b""
        while b"\r\n\r\n" not in raw:
            raw += sock.recv(65536)
        head, _, body = raw.partition(b"\r\n\r\n")
        size = int(dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])["Content-Length"])
        while len(body) < size:
            body += sock.recv(65536)
    return head, body


def test_a_file_over_200_mib_is_refused_by_the_proxy_before_it_is_sent(front_door, token):
    well = well_create(name="P-1", field="North")
    head, body = refused_before_sent(
        front_door, token, f"/api/wells/{well.pk}/history", settings.WELLS_IMPORT_MAX_BYTES + 1
    )
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b'"rule": "too_large"' in body and b'"field": "file"' in body
    assert not HistoryImport.objects.exists()


def test_a_file_over_the_small_limit_passes_on_the_import_route(front_door, token):
    well = well_create(name="P-2", field="North")
    big = csv_bytes("2000-01-01,1,1,,24") + b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)  # a blank tail
    response = httpx.post(
        f"{front_door.base_url}/api/wells/{well.pk}/history",
        content=big,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    accepted = HistoryImport.objects.get()
    assert accepted.file_size == len(big)
    # Run it here, or let the worker of this test run that claimed it first finish it: either
    # way the import has ended before the test's tables are emptied.
    history_import_run(import_id=accepted.pk)
    wait_until(
        lambda: HistoryImport.objects.get(pk=accepted.pk).status not in IN_FLIGHT,
        timeout=60,
        what="the import's end",
    )


def test_other_routes_keep_the_small_limit(front_door, token):
    head, _ = refused_before_sent(front_door, token, "/api/wells", settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert head.startswith(b"HTTP/1.1 413 ")
