"""Fixtures of the charts tests: rows in each state, staff and non-staff sessions, PNG checks."""

import struct
import zlib
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.charts.models import Function
from harness.processes import wait_until

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature, the chunk's
    CRC and that the file ends with IEND (a truncated image fails here)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(data[12:29]) == crc, "IHDR CRC mismatch"
    assert data[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82", "no IEND chunk: truncated"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def tiny_png() -> bytes:
    """A valid 2x1 PNG, for rows that need an image without running the chart job."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture
def make_function(db) -> Callable[..., Function]:
    """A row stored directly (no task queued), in whatever state a test needs."""
    import hashlib

    def make(
        expression: str = "t + 2/t",
        *,
        dt: float = 1,
        interval: float = 30,
        status: str = "finished",
        image: bytes | None = None,
        error: str = "",
        **fields,
    ) -> Function:
        if status == "finished" and image is None:
            image = tiny_png()
        return Function.objects.create(
            expression=expression,
            dt=dt,
            interval=interval,
            status=status,
            error=error,
            image=image,
            image_hash=hashlib.sha256(image).hexdigest() if image else "",
            **fields,
        )

    return make


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user(
        username="charts-admin", password="charts-admin-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_client(user) -> Client:
    """A logged-in user who is not staff."""
    client = Client()
    client.force_login(user)
    return client


def wait_for_status(pk: int, statuses: set[str], *, timeout: float = 60) -> Function:
    wait_until(
        lambda: Function.objects.filter(pk=pk, status__in=statuses).exists(),
        timeout=timeout,
        what=f"function {pk} to become {'/'.join(sorted(statuses))} "
        f"(now {Function.objects.filter(pk=pk).values_list('status', 'error').first()})",
    )
    return Function.objects.get(pk=pk)
