"""How fast to send: a concurrency limit that adapts to rate limiting, and requests/tokens-per-minute buckets.

Concurrency starts at the configured maximum. When rate-limit answers (429) become a sizeable share of the
recent ones (a storm, not the odd 429 that any busy endpoint gives), the limit shrinks by 30 % and no new
request starts until the server's `Retry-After` has passed; after a full window of answers with hardly any
429, it grows by one again, up to the maximum. The per-minute limits are token buckets that hold one
second's worth at first, so a run starts at the steady rate instead of with a minute's burst.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

STORM_SHARE = 0.25  # this share of 429s among the recent answers means the endpoint is overloaded
CALM_SHARE = 0.05   # below this share a full window lets the limit grow again
SHRINK = 0.7


class Bucket:
    """A token bucket refilled at `per_minute / 60` per second, holding at most one minute's worth."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = per_minute
        self.level = max(1.0, self.rate)  # one second's worth at the start
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` can be taken (0: take it now). A request larger than the bucket waits
        for a full bucket and then goes, leaving a debt."""
        self._refill()
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def give_back(self, amount: float) -> None:
        """Correct an estimate once the real amount is known (negative: take more)."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class Throttle:
    """Slots handed out first come, first served (a waiter is woken only when there is room for it, so
    thousands of queued requests cost nothing while they wait), then paced by the per-minute buckets."""

    def __init__(self, concurrency: int, rpm: float | None = None, tpm: float | None = None):
        self.max = concurrency
        self.limit = concurrency
        self.active = 0
        self.requests = Bucket(rpm) if rpm else None
        self.tokens = Bucket(tpm) if tpm else None
        self._recent: deque[bool] = deque(maxlen=max(20, 2 * concurrency))
        self._paused_until = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self, tokens: int) -> AsyncIterator[None]:
        """Hold one of the `limit` slots, once the buckets allow a request of about `tokens` tokens."""
        await self._enter()
        try:
            await self._pace(tokens)
            yield
        finally:
            self.active -= 1
            self._admit()

    async def _enter(self) -> None:
        if self.active < self.limit and not self._waiting:
            self.active += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # `_admit` counted this request in before waking it
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.active -= 1
                self._admit()
            else:
                self._waiting.remove(turn)
            raise

    def _admit(self) -> None:
        while self._waiting and self.active < self.limit:
            turn = self._waiting.popleft()
            if not turn.done():
                self.active += 1
                turn.set_result(None)

    async def _pace(self, tokens: int) -> None:
        while (wait := max(self._paused_until - time.monotonic(),
                           self.requests.wait_for(1) if self.requests else 0.0,
                           self.tokens.wait_for(tokens) if self.tokens else 0.0)) > 0:
            await asyncio.sleep(wait)
        if self.requests:
            self.requests.take(1)
        if self.tokens:
            self.tokens.take(tokens)

    def used_tokens(self, estimated: int, actual: int) -> None:
        if self.tokens:
            self.tokens.give_back(estimated - actual)

    def answered(self, rate_limited: bool, retry_after: float | None = None) -> None:
        """Learn from one answer: shrink on a 429 storm (and pause for Retry-After), grow when calm."""
        self._recent.append(rate_limited)
        full = len(self._recent) == self._recent.maxlen
        share = sum(self._recent) / len(self._recent)
        if rate_limited and len(self._recent) >= 10 and share >= STORM_SHARE:
            self.limit = max(1, int(self.limit * SHRINK))
            if retry_after:
                self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
            self._recent.clear()
        elif full and share <= CALM_SHARE and self.limit < self.max:
            self.limit += 1
            self._recent.clear()
            self._admit()
