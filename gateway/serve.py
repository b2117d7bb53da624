"""The uvicorn factory for `gateway serve`: settings and policies from the environment."""

from __future__ import annotations

import logging
import os
import sys

from gateway.app import GatewayApp
from gateway.cli import load_all
from gateway.policy import PolicyStore


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("gateway")
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("GATEWAY_LOG_LEVEL", "INFO").upper())
    root.propagate = False


def app() -> GatewayApp:
    configure_logging()
    settings, policies = load_all(os.environ)
    return GatewayApp(settings, PolicyStore(settings.policies_dir, settings, initial=policies))
