"""--seed FILE: YAML describing projects, identities and OAuth2 clients to create at start (see README.md)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.emulator.clients import METADATA_ERROR, ClientError, build_client
from gateway.emulator.identities import IdentityError, build_identity
from gateway.emulator.relations import RelationError, tuple_from_json
from gateway.emulator.second_factor import check_secret
from gateway.emulator.seed_session import apply_session
from gateway.emulator.state import Emulator, Identity, LookupCode, ProjectConfig
from gateway.emulator.timeutil import parse_duration

PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PROJECT_KEYS = {
    "api_key",
    "session_cookie_name",
    "session_lifespan",
    "access_token_lifespan",
    "access_token_strategy",
    "identities",
    "clients",
    "namespaces",
    "relationships",
    "session",
    "feature_flags",
}
IDENTITY_KEYS = {
    "id",
    "schema_id",
    "traits",
    "password",
    "state",
    "metadata_public",
    "metadata_admin",
    "organization_id",
    "external_id",
    "totp_secret",
    "lookup_secrets",
}
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
NAMESPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
RELATIONSHIP_KEYS = {"namespace", "object", "relation", "subject_id", "subject_set"}


@dataclass
class ProjectSeed:
    config: ProjectConfig
    identities: list[dict[str, Any]] = field(default_factory=list)
    clients: list[dict[str, Any]] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)


def check_project_name(name: str) -> str | None:
    if name == "_emulator" or not PROJECT_NAME.match(name):
        return f"invalid project name {name!r} (use lower-case letters, digits and dashes)"
    return None


def _unknown_keys(where: str, data: dict[str, Any], allowed: set[str]) -> list[str]:
    return [
        f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})" for key in data if key not in allowed
    ]


def _duration(where: str, data: dict[str, Any], key: str, errors: list[str]) -> float | None:
    if key not in data:
        return None
    try:
        return parse_duration(data[key])
    except (ValueError, TypeError) as exc:
        errors.append(f"{where}.{key}: {exc}")
        return None


def _strings(where: str, data: dict[str, Any], keys: tuple[str, ...], errors: list[str]) -> None:
    for key in keys:
        if key in data and not isinstance(data[key], str):
            errors.append(f"{where}.{key}: must be a string")


def _project_config(name: str, where: str, data: dict[str, Any], default_key: str, errors: list[str]) -> ProjectConfig:
    errors.extend(_unknown_keys(where, data, PROJECT_KEYS))
    _strings(where, data, ("api_key", "session_cookie_name", "access_token_strategy"), errors)
    config = ProjectConfig(
        name=name,
        api_key=str(data.get("api_key") or default_key),
        cookie_name=str(data.get("session_cookie_name") or ""),
    )
    if not COOKIE_NAME.match(config.cookie_name):
        errors.append(f"{where}.session_cookie_name: not a valid cookie name")
    if data.get("access_token_strategy", "opaque") not in ("opaque", "jwt"):
        errors.append(f"{where}.access_token_strategy: must be 'opaque' or 'jwt'")
    else:
        config.access_token_strategy = str(data.get("access_token_strategy", "opaque"))
    config.session_lifespan = _duration(where, data, "session_lifespan", errors) or config.session_lifespan
    config.access_token_lifespan = (
        _duration(where, data, "access_token_lifespan", errors) or config.access_token_lifespan
    )
    apply_session(config, where, data, errors)
    return config


def _list_of_maps(where: str, value: Any, errors: list[str]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        errors.append(f"{where}: must be a list of mappings")
        return []
    return value


def _project(name: Any, data: Any, default_key: str, errors: list[str]) -> ProjectSeed | None:
    where = f"projects.{name}"
    problem = check_project_name(name) if isinstance(name, str) else "project names must be strings"
    if problem:
        errors.append(f"{where}: {problem}")
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        errors.append(f"{where}: must be a mapping")
        return None
    config = _project_config(name, where, data, default_key, errors)
    return ProjectSeed(
        config,
        _list_of_maps(f"{where}.identities", data.get("identities"), errors),
        _list_of_maps(f"{where}.clients", data.get("clients"), errors),
        _namespaces(f"{where}.namespaces", data.get("namespaces"), errors),
        _list_of_maps(f"{where}.relationships", data.get("relationships"), errors),
    )


def _namespaces(where: str, value: Any, errors: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(n, str) and NAMESPACE.match(n) for n in value):
        errors.append(f"{where}: must be a list of namespace names (a letter, then letters, digits, '_', '-')")
        return []
    if len(set(value)) != len(value):
        errors.append(f"{where}: a namespace is listed twice")
    return list(dict.fromkeys(value))


def load_seed(path: Path, default_key: str) -> tuple[list[ProjectSeed], list[str]]:
    """Parsed projects and every problem found (as 'FILE: where: what' lines)."""
    errors: list[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [], [f"{path}: cannot read seed file: {exc.strerror or exc}"]
    except yaml.YAMLError as exc:
        return [], [f"{path}: not valid YAML: {' '.join(str(exc).split())}"]
    if not isinstance(data, dict) or not isinstance(data.get("projects"), dict):
        return [], [f"{path}: the top level must be a mapping with a 'projects' mapping"]
    errors.extend(_unknown_keys("(top level)", data, {"projects"}))
    seeds = [_project(name, body, default_key, errors) for name, body in data["projects"].items()]
    return [s for s in seeds if s is not None], [f"{path}: {e}" for e in errors]


def _identity_body(item: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in item.items() if k not in ("id", "password", "totp_secret", "lookup_secrets")}
    if "password" in item:
        body["credentials"] = {"password": {"config": {"password": item["password"]}}}
    return body


def _seed_identity(emulator: Emulator, seed: ProjectSeed, index: int, item: dict[str, Any]) -> str | None:
    where = f"projects.{seed.config.name}.identities[{index}]"
    unknown = _unknown_keys(where, item, IDENTITY_KEYS)
    if unknown:
        return "; ".join(unknown)
    fixed = item.get("id")
    project = emulator.projects[seed.config.name]
    if fixed is not None:
        try:
            fixed = str(uuid.UUID(str(fixed)))
        except ValueError:
            return f"{where}.id: must be a UUID"
        if fixed in project.identities:
            return f"{where}.id: duplicate identity id {fixed}"
    problem = _second_factor_problem(item)
    if problem:
        return f"{where}.{problem}"
    try:
        identity = build_identity(project, _identity_body(item), emulator.clock.now(), fixed)
    except IdentityError as exc:
        return f"{where}: {exc}"
    _add_second_factors(identity, item)
    return None


def _second_factor_problem(item: dict[str, Any]) -> str | None:
    secret, codes = item.get("totp_secret"), item.get("lookup_secrets")
    if secret is not None and (not isinstance(secret, str) or check_secret(secret)):
        return f"totp_secret: {check_secret(secret) if isinstance(secret, str) else 'must be a string'}"
    if codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes)):
        return "lookup_secrets: must be a list of non-empty strings (one-time recovery codes)"
    return None


def _add_second_factors(identity: Identity, item: dict[str, Any]) -> None:
    """The seed's TOTP secret and recovery codes: credentials Kratos' admin API cannot import."""
    if item.get("totp_secret"):
        identity.totp_secret = str(item["totp_secret"]).upper()
    identity.lookup_codes = [LookupCode(code) for code in item.get("lookup_secrets") or []]


def _seed_client(emulator: Emulator, seed: ProjectSeed, index: int, item: dict[str, Any]) -> str | None:
    where = f"projects.{seed.config.name}.clients[{index}]"
    try:
        build_client(emulator.projects[seed.config.name], item, emulator.clock.now())
    except ClientError as exc:
        return f"{where}: {exc.description.replace(METADATA_ERROR, '').strip() or exc.error}"
    return None


def _seed_relationship(emulator: Emulator, seed: ProjectSeed, index: int, item: dict[str, Any]) -> str | None:
    where = f"projects.{seed.config.name}.relationships[{index}]"
    unknown = _unknown_keys(where, item, RELATIONSHIP_KEYS)
    if unknown:
        return "; ".join(unknown)
    try:
        relationship = tuple_from_json(item)
        emulator.projects[seed.config.name].relations.write([relationship])
    except RelationError as exc:
        return f"{where}: {exc.reason or exc.message} (namespaces: {', '.join(seed.namespaces) or 'none'})"
    return None


def apply_seed(emulator: Emulator, path: Path, seeds: list[ProjectSeed]) -> list[str]:
    """Create every project, identity, client and relationship; returns one line per problem."""
    errors: list[str] = []
    for seed in seeds:
        emulator.add_project(seed.config).relations.namespaces = list(seed.namespaces)
        errors += [e for i, item in enumerate(seed.identities) if (e := _seed_identity(emulator, seed, i, item))]
        errors += [e for i, item in enumerate(seed.clients) if (e := _seed_client(emulator, seed, i, item))]
        errors += [e for i, item in enumerate(seed.relationships) if (e := _seed_relationship(emulator, seed, i, item))]
    return [f"{path}: {e}" for e in errors]
