"""The plain code each named performance trick replaces, for the benchmarks that measure its
gain (not a benchmark itself).

A benchmark times the path with the trick and, alternating repetition by repetition in the
same run, with `without(...)` swapping in the plain code below; the ratio of the two is the
gain a trick's docstring quotes. Where the gain is small the trick is dropped from the code.
"""

import json
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any


def json_object_plain(head: dict, **raw_json: str | None) -> str:
    """What `apps.core.formatting.json_object_with_raw` saves: parse the raw JSON, encode it all."""
    return json.dumps(
        {**head, **{key: None if text is None else json.loads(text) for key, text in raw_json.items()}}
    )


@contextmanager
def without(owner: object, name: str, plain: Any) -> Iterator[None]:
    """`owner.name` is `plain` inside the block (the trick switched off), restored after."""
    trick = getattr(owner, name)
    setattr(owner, name, plain)
    try:
        yield
    finally:
        setattr(owner, name, trick)


def sender_loop_run_plain(coroutine: Coroutine[Any, Any, None], *, wait: bool = True) -> None:
    """What `apps.live.realtime.sender_loop_run` saves: `async_to_sync`, a new event loop (and
    new Redis connections) per call; it always waits."""
    from asgiref.sync import async_to_sync

    async def awaited() -> None:
        await coroutine

    async_to_sync(awaited)()
