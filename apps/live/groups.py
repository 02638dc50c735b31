"""The channel-layer groups one websocket belongs to: joined, left, renewed, left on close."""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from apps.live.protocol import LAYER_ERRORS

logger = logging.getLogger(__name__)

# channels-redis forgets group members after `group_expiry` (a day by default); clients
# ping every ~30 s, and a ping renews memberships older than this.
GROUP_RENEW_SECONDS = 3600


class Memberships:
    """The groups of one socket (`channel_name` on `layer`). A Redis failure while joining,
    leaving or renewing calls `layer_down`, which tells the client and ends the socket."""

    def __init__(
        self, *, layer: Any, channel_name: str, layer_down: Callable[[], Awaitable[NoReturn]]
    ) -> None:
        self.layer, self.channel_name, self.layer_down = layer, channel_name, layer_down
        self.joined: set[str] = set()
        self.renewed_at = time.monotonic()

    def __contains__(self, group: str) -> bool:
        return group in self.joined

    async def add(self, group: str) -> None:
        if group in self.joined:
            return
        try:
            await self.layer.group_add(group, self.channel_name)
        except LAYER_ERRORS:
            logger.warning("group_add %s failed", group, exc_info=True)
            await self.layer_down()
        self.joined.add(group)

    async def discard(self, group: str) -> None:
        try:
            await self.layer.group_discard(group, self.channel_name)
        except LAYER_ERRORS:
            await self.layer_down()
        self.joined.discard(group)

    async def renew(self) -> None:
        """Add the socket to its groups again, at most every GROUP_RENEW_SECONDS (on a ping).

        channels-redis forgets a group member `group_expiry` seconds (a day) after its
        `group_add`, even while the socket is open, and then the socket silently stops getting
        events; a repeated `group_add` restarts that clock.
        """
        if time.monotonic() - self.renewed_at < GROUP_RENEW_SECONDS:
            return
        self.renewed_at = time.monotonic()
        try:
            for group in self.joined:
                await self.layer.group_add(group, self.channel_name)
        except LAYER_ERRORS:
            await self.layer_down()

    async def leave_all(self) -> None:
        """On close; a Redis that is gone lets the group entries expire on their own."""
        for group in self.joined:
            try:
                await self.layer.group_discard(group, self.channel_name)
            except LAYER_ERRORS:
                break
