"""Locks shared by every process and container of one deployment: PostgreSQL session-level
advisory locks, taken on the calling thread's connection.

Session-level, not transaction-level: a lock must outlive the short transactions of the work
it guards (a drawing stores its image in its own transaction) and never hold one open while
an outside service answers. A process that dies closes its connection, which releases its
locks, so a crash never leaves a lock behind.

A lock is named by two strings (the kind of work and the key within it), hashed by PostgreSQL
into the two-integer key space: two keys that collide only share a lock, which costs some
waiting, never correctness.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_POLL_INTERVAL = 0.05  # seconds between attempts while waiting for a lock


def _try_lock(name: str, key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", [name, key])
        return bool(cursor.fetchone()[0])


def _unlock(name: str, key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", [name, key])


@contextmanager
def advisory_lock(*, name: str, key: str, wait: float = 0.0) -> Iterator[bool]:
    """Hold the lock `name`/`key` for the block; yields False when it stayed taken for `wait`
    seconds (0: one attempt). Waiting polls rather than blocks, so a caller gives up on time
    whatever the connection's lock_timeout is."""
    deadline = time.monotonic() + wait
    locked = _try_lock(name, key)
    while not locked and time.monotonic() < deadline:
        time.sleep(_POLL_INTERVAL)
        locked = _try_lock(name, key)
    try:
        yield locked
    finally:
        if locked:
            _unlock(name, key)


@contextmanager
def advisory_slot(*, name: str, slots: int) -> Iterator[bool]:
    """Hold one of `slots` locks named `name` (a semaphore across every process): yields
    False at once when all are taken, so a caller answers "busy" instead of queueing."""
    for slot in range(slots):
        if _try_lock(name, str(slot)):
            try:
                yield True
            finally:
                _unlock(name, str(slot))
            return
    yield False
