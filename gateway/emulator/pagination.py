"""Kratos/Hydra keyset pagination: page_size / page_token and the Link header."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")


class PageError(ValueError):
    """page_size or page_token is malformed."""


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "v": 2}).encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PageError("The page token is invalid, do not craft your own page tokens.") from exc
    if offset < 0:
        raise PageError("The page token is invalid, do not craft your own page tokens.")
    return offset


def paginate(
    items: Sequence[T], page_size: str | None, page_token: str | None, default: int, maximum: int, path: str
) -> tuple[list[T], str]:
    """One page of items and its Link header value (rel first, and rel next unless this is the last page)."""
    try:
        size = int(page_size) if page_size else default
    except ValueError as exc:
        raise PageError("page_size must be an integer") from exc
    if size < 1:
        raise PageError("page_size must be at least 1")
    size = min(size, maximum)
    offset = _offset(page_token) if page_token else 0
    page = list(items[offset : offset + size])
    links = [f'<{path}?{urlencode({"page_size": size, "page_token": _token(0)})}>; rel="first"']
    if offset + size < len(items):
        links.append(f'<{path}?{urlencode({"page_size": size, "page_token": _token(offset + size)})}>; rel="next"')
    return page, ",".join(links)
