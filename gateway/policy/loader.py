"""Load every ``*.yaml`` / ``*.yml`` file of a folder into one `PolicySet`, or say all that is wrong.

Stages, each reporting ``file:line: problem`` and going on: YAML syntax and
duplicate keys, the JSON Schema (types, unknown keys), label profiles, routes
(see `gateway.policy.build`), duplicate route ids, and routes that would tie.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from gateway.config.problems import ConfigError
from gateway.config.settings import Settings
from gateway.labels.profile import LabelProfile
from gateway.labels.registry import BUILT_IN, HEADERS, RESERVED, compile_profile
from gateway.policy.build import FileContext, build_routes, file_tenants
from gateway.policy.matcher import Matcher, build_matcher
from gateway.policy.model import Route
from gateway.policy.policy_set import PolicySet
from gateway.policy.schema import SCHEMA
from gateway.policy.source import line_of, read_yaml

_VALIDATOR = Draft202012Validator(SCHEMA)


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_policies(directory: Path, settings: Settings) -> PolicySet:
    """Every policy file in `directory`, checked against `settings`; `ConfigError` lists all problems."""
    if not directory.is_dir():
        raise ConfigError([f"{directory}: policy folder not found (GATEWAY_POLICIES_DIR)"])
    problems: list[str] = []
    files = policy_files(directory)
    if not files:
        problems.append(f"{directory}: no policy files (*.yaml)")
    documents = [d for d in (_read(path, problems) for path in files) if d is not None]
    profiles, names = _label_profiles(documents, problems)
    routes: list[Route] = []
    for path, document, skip in documents:
        ctx = FileContext(path, document, settings, names)
        routes.extend(build_routes(ctx, file_tenants(ctx), skip))
        problems.extend(ctx.problems)
    problems.extend(_duplicate_ids(routes))
    by_tenant = {t: tuple(r for r in routes if r.tenant == t) for t in settings.tenants}
    matchers = {t: _matcher(rs, problems) for t, rs in by_tenant.items()}
    if problems:
        raise ConfigError(problems)
    roles = {t: human_roles(rs) for t, rs in by_tenant.items()}
    return PolicySet(routes=by_tenant, matchers=matchers, label_profiles=profiles, roles=roles)


def human_roles(routes: Iterable[Route]) -> frozenset[str]:
    """Every role name the routes require of people (what a Keto membership source asks about)."""
    return frozenset(
        role
        for route in routes
        for req in route.allow
        if req.kind == "human"
        for role in (*req.roles_any, *req.roles_all)
    )


def _read(path: Path, problems: list[str]) -> tuple[Path, Any, set[int]] | None:
    """A schema-valid document (bad routes' indexes to skip), or None."""
    document, yaml_problems = read_yaml(path)
    problems.extend(yaml_problems)
    if document is None:
        return None
    skip: set[int] = set()
    file_ok = True
    for error in _VALIDATOR.iter_errors(document):
        location = tuple(error.absolute_path)
        if len(location) >= 2 and location[0] == "routes" and isinstance(location[1], int):
            skip.add(location[1])
        else:
            file_ok = False
        problems.extend(f"{path}:{line}: {message}" for line, message in _describe(document, error))
    return (path, document, skip) if file_ok else None


def _describe(document: Any, error: ValidationError) -> Iterator[tuple[int, str]]:
    location = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        for key in sorted(set(error.instance) - known, key=str):
            yield line_of(document, (*location, key)), f"{_dotted((*location, key))}: unknown key {key!r}"
        return
    if error.validator in ("anyOf", "oneOf") and error.context:
        # the branch of the instance's own type explains best (e.g. an unknown key under `allow`)
        relevant = [e for e in error.context if e.validator not in ("type", "const")]
        for sub in relevant or [best_match(error.context)]:
            yield from _describe(document, sub)
        return
    yield line_of(document, location), f"{_dotted(location) or 'file'}: {error.message}"


def _dotted(location: Iterable[Any]) -> str:
    out = ""
    for step in location:
        out += f"[{step}]" if isinstance(step, int) else f".{step}" if out else str(step)
    return out


def _label_profiles(
    documents: list[tuple[Path, Any, set[int]]], problems: list[str]
) -> tuple[dict[str, LabelProfile], frozenset[str]]:
    """The compiled profiles by id (built-ins included) and every id a route may name.

    A profile with problems is reported at the line of each (and its id still known, so
    routes naming it are not reported again)."""
    profiles: dict[str, LabelProfile] = dict(BUILT_IN)
    where: dict[str, str] = {}
    for path, document, _ in documents:
        for name, spec in (document.get("label_profiles") or {}).items():
            here = f"{path}:{line_of(document, ('label_profiles', name))}"
            if name in RESERVED:
                problems.append(f"{here}: label profile {name!r} is built in and cannot be redefined")
                continue
            if name in where:
                problems.append(f"{here}: label profile {name!r} is already defined at {where[name]}")
                continue
            where[name] = here
            compiled = compile_profile(spec)
            if isinstance(compiled, LabelProfile):
                profiles[name] = compiled
                continue
            for location, text in compiled:
                line = line_of(document, ("label_profiles", name, *location))
                problems.append(f"{path}:{line}: label profile {name!r}: {text}")
    return profiles, frozenset(profiles) | frozenset(where) | {HEADERS}


def _duplicate_ids(routes: list[Route]) -> Iterator[str]:
    first: dict[str, str] = {}
    reported: set[str] = set()
    for route in routes:
        seen = first.setdefault(route.id, route.source)
        if seen != route.source and route.source not in reported:
            reported.add(route.source)
            yield f"{route.source}: duplicate route id {route.id!r} (first at {seen})"


def _matcher(routes: tuple[Route, ...], problems: list[str]) -> Matcher:
    matcher, ties = build_matcher(routes)
    for earlier, later in ties:
        methods = ", ".join(sorted(earlier.methods & later.methods or later.methods | earlier.methods))
        problems.append(
            f"{later.source}: route {later.id} ({later.pattern.text}) and route {earlier.id} "
            f"({earlier.pattern.text}, {earlier.source}) match the same requests for {methods} "
            "with no order between them"
        )
    return matcher
