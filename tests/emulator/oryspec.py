"""Response validation against the official Ory OpenAPI specs (Network spec first, then Kratos/Hydra OSS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import httpx
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from openapi_core.testing import MockRequest, MockResponse

SPECS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "ory-specs"
NETWORK_HOST = "https://playground.projects.oryapis.com"
OSS_HOST = "http://localhost"


def _without_spec_defects(content: bytes) -> bytes:
    body = json.loads(content)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"] = {k: v for k, v in body["error"].items() if k not in ("id", "details")}
    return json.dumps(body).encode()


def _without_null_lifespans(content: bytes) -> bytes:
    """Hydra sends unset client lifespans as null (its client handler); the OSS spec's NullDuration is not nullable."""
    try:
        body = json.loads(content)
    except ValueError:
        return content
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict):
            for key in [k for k, v in item.items() if k.endswith("_lifespan") and v is None]:
                del item[key]
    return json.dumps(body).encode()


def _load(name: str) -> OpenAPI:
    return OpenAPI.from_dict(json.loads((SPECS_DIR / name).read_text()))


class SpecChecker:
    """Validates emulator responses as if they came from a Network project host (and from OSS Kratos/Hydra)."""

    def __init__(self) -> None:
        self.network = _load("ory-network-client-v1.22.65.json")
        self.oss = [_load("kratos-v26.2.0.api.json"), _load("hydra-v26.2.0.api.json")]

    @staticmethod
    def _pieces(response: httpx.Response, spec_defects: bool) -> tuple[str, str, dict[str, str], MockResponse]:
        path = response.request.url.path
        ory_path = "/" + path.lstrip("/").partition("/")[2]
        query = dict(response.request.url.params)
        content_type = response.headers.get("content-type", "application/json")
        content = _without_spec_defects(response.content) if spec_defects else response.content
        mock = MockResponse(
            content, status_code=response.status_code, headers=dict(response.headers), content_type=content_type
        )
        return response.request.method.lower(), ory_path, query, mock

    def check(
        self, response: httpx.Response, *, spec_defects: bool = False, network_only: bool = False
    ) -> httpx.Response:
        """Raise if the response does not match the spec operation for its request; returns the response.

        network_only=True skips the OSS specs (the Keto API is only in the Network spec here).
        spec_defects=True first removes `error.id` and `error.details` from a herodot body: real Kratos sends
        them (e.g. session_aal2_required with details.redirect_browser_to, as Kratos sends it), but the Network spec
        limits `id` to two enum values and the Kratos spec forbids any key in `details`.
        """
        method, path, query, mock = self._pieces(response, spec_defects)
        self.network.validate_response(MockRequest(NETWORK_HOST, method, path, args=query), mock)
        if network_only:  # Ory Permissions: the Network spec is the only one here (no Keto OSS spec)
            return response
        matched = 0
        oss_mock = MockResponse(
            _without_null_lifespans(mock.data),
            status_code=mock.status_code,
            headers=dict(mock.headers),
            content_type=mock.content_type,
        )
        for spec in self.oss:
            try:
                spec.validate_response(MockRequest(OSS_HOST, method, path, args=query), oss_mock)
            except (PathNotFound, OperationNotFound, ServerNotFound):
                continue
            matched += 1
        assert matched == 1, f"{method.upper()} {path} should be in exactly one OSS spec, found {matched}"
        return response


M = TypeVar("M")


def parsed(model: type[M], text: str) -> M:
    """Deserialise with an ory_client pydantic model (raises on any mismatch) and insist on a value."""
    value = model.from_json(text)  # type: ignore[attr-defined]
    assert isinstance(value, model)
    return value
