"""A request rate limit per API key: a token bucket in each API process.

A key may send `burst` requests at once and `rate_per_s` a second after that; each API process keeps
its own buckets, so behind N processes a key gets up to N times the rate (a shared store would put a
write on every request's path, which is what the limit protects).
"""

from __future__ import annotations

import math
import threading
import time

from sanacloud.platform.errors import TooManyRequests


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        """Spend one request of this key's allowance, or refuse it with when to retry."""
        now = time.monotonic()
        with self._lock:
            tokens, counted = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - counted) * self.rate_per_s)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                retry_after_s = max(1, math.ceil((1 - tokens) / self.rate_per_s))
                raise TooManyRequests(
                    f"this API key sent more than {self.burst} requests at once or {self.rate_per_s:g} a second "
                    "(SANACLOUD_RATE_LIMIT_BURST, SANACLOUD_RATE_LIMIT_PER_S); retry after "
                    f"{retry_after_s} s", retry_after_s=retry_after_s)
            self._buckets[key_id] = (tokens - 1, now)
