"""Failed authentications per client address: a token bucket each, in this process's memory."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict


def client_of(host: str | None) -> str:
    """Whom a bucket counts: the address uvicorn gives (behind a trusted proxy, the forwarded one); an IPv6 client by
    its /64, the block one subscriber usually holds, so that it cannot start afresh from each of its addresses."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


class FailureLimiter:
    """Each client may fail ``burst`` times in a row, then earns ``per_minute`` more tries a minute.

    Checked before a key is looked up, so a client over its limit costs no database work; recorded after a key is
    refused. Memory is bounded: at most ``size`` clients are kept, the one that failed longest ago forgotten first
    (which only gives it its burst back). Each process counts alone, so N worker processes allow N times the burst.
    """

    def __init__(self, burst: int, per_minute: float, size: int = 10_000) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self.size = size
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, monotonic time)
        self._lock = threading.Lock()

    def retry_after(self, host: str | None) -> int | None:
        """Seconds until ``host`` may try a key again; None if it may now."""
        with self._lock:
            tokens = self._tokens(client_of(host), time.monotonic())
        return None if tokens >= 1 else math.ceil((1 - tokens) / self.per_second)

    def failed(self, host: str | None) -> None:
        client, now = client_of(host), time.monotonic()
        with self._lock:
            self._buckets[client] = (max(self._tokens(client, now) - 1, 0.0), now)
            self._buckets.move_to_end(client)
            if len(self._buckets) > self.size:
                self._buckets.popitem(last=False)

    def _tokens(self, client: str, now: float) -> float:
        tokens, then = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - then) * self.per_second)
