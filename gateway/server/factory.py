"""The uvicorn factory for `gateway serve`: settings and policies from the environment."""

from __future__ import annotations

import logging
import os
import sys
import time

import orjson

from gateway.app import GatewayApp
from gateway.config.settings import Settings
from gateway.load import load_settings
from gateway.policy import PolicySet
from gateway.policy.isolated import load_isolated
from gateway.policy.reload import PolicyStore

#: attributes every LogRecord has; anything else on a record was passed as `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Messages that already are one (access and audit lines) pass
    through unchanged; others become {"ts", "level", "logger", "msg", **extra, "exc"}."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{") and not record.exc_info and record.name.startswith("gateway"):
            return message
        doc: dict[str, object] = {
            "ts": round(record.created if record.created else time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("gateway", "uvicorn", "opentelemetry"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("gateway").setLevel(level)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    logging.getLogger("opentelemetry").setLevel(logging.WARNING)  # the span exporter's trouble


def build_app(settings: Settings, policies: PolicySet) -> GatewayApp:
    """The app for loaded settings and policies (reloads load in a child: gateway.policy.isolated)."""
    configure_logging(settings.log_level)
    return GatewayApp(settings, PolicyStore(settings.policies_dir, settings, initial=policies, loader=load_isolated))


def app() -> GatewayApp:
    """uvicorn's factory, for `gateway serve --workers N`: each worker loads the settings and
    its policies (in a child process, so the serving heap holds only what stays)."""
    settings = load_settings(os.environ)
    return build_app(settings, load_isolated(settings.policies_dir, settings))
