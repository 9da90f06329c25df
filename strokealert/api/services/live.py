"""The live worklist feed: one task per process reads the changed cases and fans each change
out to every open event stream, so that no stream holds a database session or polls alone.

The task reads when woken (:meth:`CaseFeed.wake`, from any thread: a case written in this
process, or by another through the database's wake-ups that ``listen`` subscribes to) and at
the latest every ``poll_s`` seconds, the slow fallback; it runs while at least one stream is
open. Each user may hold at most ``max_streams_per_user`` streams; a stream whose browser falls
``queue_size`` changes behind is closed (the browser reconnects after the stream's retry delay).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

# A case row committed this long after its ``updated_at`` stamp is still sent (seconds).
COMMIT_LAG = timedelta(seconds=10)


class TooManyStreams(Exception):
    """The user already holds the allowed number of open streams."""


@dataclass(eq=False)
class Subscription:
    """One open event stream: the changes waiting for it, and whether it fell too far behind."""

    user_id: int
    queue: asyncio.Queue[dict[str, Any]]
    overflowed: bool = False


# ``read_changes(after, sent)`` → the cases with ``updated_at > after``, oldest first, less
# those whose (id, updated_at) is in ``sent``; each a dict with ``id``, ``updated`` (aware
# datetime) and what the stream sends.
ChangeReader = Callable[[datetime, Mapping[str, datetime]], list[dict[str, Any]]]
# ``listen(wake)`` → a context in which ``wake`` is called (from any thread) whenever a case may
# have changed; entered and left in a worker thread.
Listener = Callable[[Callable[[], None]], AbstractContextManager[object]]


@dataclass(eq=False)
class CaseFeed:
    """Reads case changes once for every stream of the process and fans them out."""

    read_changes: ChangeReader
    now: Callable[[], datetime]
    max_streams_per_user: int
    poll_s: float
    listen: Listener = lambda _wake: nullcontext()
    queue_size: int = 256
    _subscriptions: set[Subscription] = field(default_factory=set, init=False)
    _per_user: Counter[int] = field(default_factory=Counter, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _woken: asyncio.Event | None = field(default=None, init=False)

    @property
    def streams(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, user_id: int) -> Subscription:
        """A new stream for ``user_id`` (call in the event loop); TooManyStreams past the cap."""
        if self._per_user[user_id] >= self.max_streams_per_user:
            raise TooManyStreams(f"at most {self.max_streams_per_user} open live streams "
                                 "per user; close another tab")
        subscription = Subscription(user_id, asyncio.Queue(self.queue_size))
        self._subscriptions.add(subscription)
        self._per_user[user_id] += 1
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._woken = asyncio.Event()
            self._task = self._loop.create_task(self._run(), name="case-feed")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.discard(subscription)
            self._per_user[subscription.user_id] -= 1
            if self._per_user[subscription.user_id] <= 0:
                del self._per_user[subscription.user_id]

    def wake(self) -> None:
        """Read the changes now rather than at the next poll (safe from any thread)."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None and not loop.is_closed():
            loop.call_soon_threadsafe(woken.set)

    async def _run(self) -> None:
        while self._subscriptions:  # again if a stream opened while the listener was leaving
            listening = self.listen(self.wake)
            await asyncio.to_thread(listening.__enter__)
            try:
                await self._read_while_open()
            finally:
                await asyncio.to_thread(listening.__exit__, None, None, None)

    async def _read_while_open(self) -> None:
        assert self._woken is not None
        since = self.now()
        sent: dict[str, datetime] = {}  # case id → updated_at already sent, within COMMIT_LAG
        while self._subscriptions:
            try:
                await asyncio.wait_for(self._woken.wait(), self.poll_s)
            except TimeoutError:
                pass
            self._woken.clear()
            try:
                changes = await asyncio.to_thread(self.read_changes, since - COMMIT_LAG,
                                                  dict(sent))
            except Exception:
                log.exception("reading the worklist changes failed; retrying")
                continue
            for change in changes:
                updated = change.pop("updated")
                sent[change["id"]] = updated
                since = max(since, updated)
                self._publish(change)
            sent = {case_id: at for case_id, at in sent.items() if at > since - COMMIT_LAG}

    def _publish(self, change: dict[str, Any]) -> None:
        for subscription in list(self._subscriptions):
            try:
                subscription.queue.put_nowait(change)
            except asyncio.QueueFull:
                subscription.overflowed = True
                self.unsubscribe(subscription)
