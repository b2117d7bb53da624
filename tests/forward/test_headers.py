"""Response headers on their way back to the client (gateway.forward.headers)."""

from __future__ import annotations

from gateway.forward.headers import downstream_response_headers


def test_hop_by_hop_and_connection_listed_headers_go_whatever_the_upstream_case() -> None:
    upstream = [
        (b"Content-Type", b"application/json"),
        (b"Connection", b"keep-alive, X-Internal"),
        (b"X-Internal", b"secret"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Content-Length", b"2"),
        (b"X-Kept", b"1"),
    ]
    assert downstream_response_headers(upstream) == [
        (b"content-type", b"application/json"),
        (b"content-length", b"2"),
        (b"x-kept", b"1"),
    ]
    assert downstream_response_headers(upstream, keep_length=False) == [
        (b"content-type", b"application/json"),
        (b"x-kept", b"1"),
    ]
