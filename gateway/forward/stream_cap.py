"""`StreamCap`: GATEWAY_MAX_STREAMS long-lived answers (SSE, streamed runs) open at once."""

from __future__ import annotations

from gateway.errors import TooManyStreams


class StreamCap:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        #: long-lived answers open now (read by the metrics at scrape time)
        self.open = 0

    def take(self) -> None:
        """One more stream open; 503 `too_many_streams` (Retry-After) when the cap is reached."""
        if self.open >= self.limit:
            raise TooManyStreams(
                f"{self.limit} streams are open; try again later", retry_after=5, reason="too_many_streams"
            )
        self.open += 1

    def release(self) -> None:
        self.open -= 1
