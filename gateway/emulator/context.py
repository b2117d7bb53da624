"""What a handler gets: the request, its project, path parameters and body helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from gateway.emulator.state import Emulator, Project


class BodyError(ValueError):
    """The request body could not be parsed."""


@dataclass
class Ctx:
    request: Request
    emulator: Emulator
    project: Project
    params: dict[str, str] = field(default_factory=dict)

    @property
    def now(self) -> float:
        return self.emulator.clock.now()

    @property
    def request_id(self) -> str:
        return self.request.headers.get("x-request-id", "")

    def query_list(self, name: str) -> list[str]:
        return self.request.query_params.getlist(name)

    async def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; raises BodyError."""
        raw = await self.request.body()
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            raise BodyError(f"Unable to decode JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise BodyError("The request body must be a JSON object.")
        return body

    async def form_lists(self) -> dict[str, list[str]]:
        """An urlencoded body as lists of values (empty if the body is empty); raises BodyError."""
        raw = await self.request.body()
        try:
            return parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BodyError(
                "Unable to parse HTTP body, make sure to send a properly formatted form request body."
            ) from exc

    async def fields(self) -> dict[str, str]:
        """JSON or form body flattened to first string values (Kratos accepts both)."""
        if "json" in self.request.headers.get("content-type", ""):
            return {k: v if isinstance(v, str) else json.dumps(v) for k, v in (await self.json_object()).items()}
        return {k: v[0] for k, v in (await self.form_lists()).items() if v}


Handler = Callable[[Ctx], Awaitable[Response]]
