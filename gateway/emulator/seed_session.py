"""The seed's `session:` and `feature_flags:` of a project, named as Kratos' configuration names
them (`session.earliest_possible_extend`, `session.cookie.*`, `session.whoami.required_aal`,
`session.whoami.tokenizer.templates`, `feature_flags.cacheable_sessions[_max_age]`), plus the
emulator's `session.whoami.mfa_enrollment_required` (Ory Network's second-factor enforcement).
Every problem is one line in `errors`."""

from __future__ import annotations

import re
from typing import Any

from gateway.emulator.state import ProjectConfig
from gateway.emulator.timeutil import parse_duration
from gateway.emulator.tokenizer import (
    MAPPER_ROOTS,
    SUBJECT_SOURCES,
    Template,
    TemplateError,
    generate_key,
    load_key,
)

SESSION_KEYS = {"earliest_possible_extend", "cookie", "whoami"}
COOKIE_KEYS = {"domain", "path", "same_site", "persistent"}
WHOAMI_KEYS = {"required_aal", "mfa_enrollment_required", "tokenizer"}
TEMPLATE_KEYS = {"ttl", "jwks_url", "algorithm", "subject_source", "claims_mapper"}
FLAG_KEYS = {"cacheable_sessions", "cacheable_sessions_max_age"}
SAME_SITE = ("Lax", "Strict", "None")
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # Kratos' config schema


def _mapping(where: str, value: Any, allowed: set[str], errors: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{where}: must be a mapping")
        return {}
    errors.extend(
        f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})" for key in value if key not in allowed
    )
    return value


def _seconds(where: str, value: Any, errors: list[str]) -> float | None:
    try:
        return parse_duration(value)
    except (ValueError, TypeError) as exc:
        errors.append(f"{where}: {exc}")
        return None


def _bool(where: str, value: Any, errors: list[str]) -> bool:
    if not isinstance(value, bool):
        errors.append(f"{where}: must be true or false")
        return False
    return value


def _cookie(config: ProjectConfig, where: str, data: dict[str, Any], errors: list[str]) -> None:
    for key in ("domain", "path"):
        if key in data and not isinstance(data[key], str):
            errors.append(f"{where}.{key}: must be a string")
    config.cookie_domain = str(data.get("domain") or "")
    config.cookie_path = str(data.get("path") or "/")
    if data.get("same_site", "Lax") not in SAME_SITE:
        errors.append(f"{where}.same_site: must be one of {', '.join(SAME_SITE)}")
    else:
        config.cookie_same_site = str(data.get("same_site", "Lax"))
    if "persistent" in data:
        config.cookie_persistent = _bool(f"{where}.persistent", data["persistent"], errors)


def _claims_mapper(where: str, value: Any, errors: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    roots = " or ".join(f"'{root}.'" for root in MAPPER_ROOTS)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.partition(".")[0] in MAPPER_ROOTS for k, v in value.items()
    ):
        errors.append(f"{where}: must map claim names to paths starting with {roots}")
        return {}
    return dict(value)


def _template(name: str, where: str, data: dict[str, Any], errors: list[str]) -> Template | None:
    before = len(errors)
    ttl = _seconds(f"{where}.ttl", data["ttl"], errors) if "ttl" in data else 60.0
    if data.get("subject_source", "id") not in SUBJECT_SOURCES:
        errors.append(f"{where}.subject_source: must be one of {', '.join(SUBJECT_SOURCES)}")
    mapper = _claims_mapper(f"{where}.claims_mapper", data.get("claims_mapper"), errors)
    if "jwks_url" in data and "algorithm" in data:
        errors.append(f"{where}: give jwks_url (a key) or algorithm (a generated key), not both")
        return None
    try:
        key = (
            load_key(str(data["jwks_url"])) if "jwks_url" in data else generate_key(str(data.get("algorithm", "ES256")))
        )
    except TemplateError as exc:
        errors.append(f"{where}: {exc}")
        return None
    if len(errors) > before or ttl is None:
        return None
    return Template(name, key, ttl, str(data.get("subject_source", "id")), mapper)


def _tokenizer(config: ProjectConfig, where: str, data: dict[str, Any], errors: list[str]) -> None:
    templates = _mapping(f"{where}.templates", data.get("templates"), set(data.get("templates") or {}), errors)
    for name, body in templates.items():
        at = f"{where}.templates.{name}"
        if not TEMPLATE_NAME.match(str(name)):
            errors.append(f"{at}: template names are letters, digits, '.', '_' and '-'")
            continue
        template = _template(str(name), at, _mapping(at, body, TEMPLATE_KEYS, errors), errors)
        if template is not None:
            config.tokenizer_templates[str(name)] = template


def _whoami(config: ProjectConfig, where: str, data: dict[str, Any], errors: list[str]) -> None:
    if data.get("required_aal", "highest_available") not in ("aal1", "highest_available"):
        errors.append(f"{where}.required_aal: must be 'aal1' or 'highest_available'")
    else:
        config.required_aal = str(data.get("required_aal", "highest_available"))
    if "mfa_enrollment_required" in data:
        config.mfa_enrollment_required = _bool(
            f"{where}.mfa_enrollment_required", data["mfa_enrollment_required"], errors
        )
    _tokenizer(
        config,
        f"{where}.tokenizer",
        _mapping(f"{where}.tokenizer", data.get("tokenizer"), {"templates"}, errors),
        errors,
    )


def apply_session(config: ProjectConfig, where: str, project: dict[str, Any], errors: list[str]) -> None:
    """Read the project's `session:` and `feature_flags:` into `config`."""
    session = _mapping(f"{where}.session", project.get("session"), SESSION_KEYS, errors)
    if "earliest_possible_extend" in session:
        at = f"{where}.session.earliest_possible_extend"
        config.earliest_possible_extend = _seconds(at, session["earliest_possible_extend"], errors)
    _cookie(
        config,
        f"{where}.session.cookie",
        _mapping(f"{where}.session.cookie", session.get("cookie"), COOKIE_KEYS, errors),
        errors,
    )
    _whoami(
        config,
        f"{where}.session.whoami",
        _mapping(f"{where}.session.whoami", session.get("whoami"), WHOAMI_KEYS, errors),
        errors,
    )
    flags = _mapping(f"{where}.feature_flags", project.get("feature_flags"), FLAG_KEYS, errors)
    if "cacheable_sessions" in flags:
        config.cacheable_sessions = _bool(
            f"{where}.feature_flags.cacheable_sessions", flags["cacheable_sessions"], errors
        )
    if "cacheable_sessions_max_age" in flags:
        at = f"{where}.feature_flags.cacheable_sessions_max_age"
        config.cacheable_sessions_max_age = _seconds(at, flags["cacheable_sessions_max_age"], errors) or 0.0
