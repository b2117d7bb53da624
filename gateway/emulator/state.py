"""In-memory state of the emulator: projects and everything they hold. Nothing is persisted."""

from __future__ import annotations

import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from gateway.emulator.faults import FaultStore
from gateway.emulator.keys import KeySets
from gateway.emulator.relations import RelationStore
from gateway.emulator.timeutil import Clock
from gateway.emulator.tokenizer import Template

DEFAULT_SESSION_LIFESPAN = 24 * 3600.0
DEFAULT_ACCESS_TOKEN_LIFESPAN = 3600.0
DEFAULT_API_KEY = "ory_pat_emulator"
FLOW_LIFESPAN = 3600.0
#: how many calls `GET /_emulator/requests` remembers
REQUEST_LOG_SIZE = 1000


def default_cookie_name(project: str) -> str:
    """Ory Network style session cookie name: ory_session_<project name without dashes>."""
    return "ory_session_" + project.replace("-", "")


@dataclass
class ProjectConfig:
    name: str
    api_key: str = DEFAULT_API_KEY
    cookie_name: str = ""
    session_lifespan: float = DEFAULT_SESSION_LIFESPAN
    access_token_lifespan: float = DEFAULT_ACCESS_TOKEN_LIFESPAN
    access_token_strategy: str = "opaque"
    #: Kratos' session.earliest_possible_extend (None: the lifespan, Kratos' default)
    earliest_possible_extend: float | None = None
    cookie_domain: str = ""
    cookie_path: str = "/"
    cookie_same_site: str = "Lax"
    cookie_persistent: bool = True
    #: session.whoami.required_aal: "highest_available" (Kratos' default) or "aal1"
    required_aal: str = "highest_available"
    #: Ory Network's second-factor enforcement: sessions of identities without one are refused
    mfa_enrollment_required: bool = False
    #: feature_flags.cacheable_sessions and cacheable_sessions_max_age (0: until expiry)
    cacheable_sessions: bool = False
    cacheable_sessions_max_age: float = 0.0
    #: session.whoami.tokenizer.templates
    tokenizer_templates: dict[str, Template] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.cookie_name:
            self.cookie_name = default_cookie_name(self.name)


@dataclass
class LookupCode:
    code: str
    used_at: float | None = None


@dataclass
class Identity:
    id: str
    schema_id: str
    traits: Any
    created_at: float
    state: str = "active"
    metadata_public: dict[str, Any] | None = None
    metadata_admin: dict[str, Any] | None = None
    organization_id: str | None = None
    external_id: str | None = None
    password_hash: str | None = None
    identifiers: list[str] = field(default_factory=list)
    #: base32 secret of the identity's TOTP credential (RFC 6238: SHA-1, 6 digits, 30 s)
    totp_secret: str | None = None
    #: one-time recovery codes (lookup_secret credential)
    lookup_codes: list[LookupCode] = field(default_factory=list)
    updated_at: float = 0.0
    state_changed_at: float = 0.0

    @property
    def second_factors(self) -> list[str]:
        """The second-factor methods the identity can complete (Kratos' order: totp, then lookup_secret)."""
        return [m for m, has in (("totp", self.totp_secret), ("lookup_secret", self.lookup_codes)) if has]


@dataclass
class AuthMethod:
    """One entry of `authentication_methods`."""

    method: str
    aal: str
    completed_at: float


@dataclass
class Session:
    id: str
    token: str
    identity_id: str
    authenticated_at: float
    expires_at: float
    issued_at: float = 0.0
    methods: list[AuthMethod] = field(default_factory=list)
    active: bool = True
    ip_address: str | None = None
    user_agent: str | None = None
    device_id: str = ""
    #: the browser logout flow's token (`ory_lo_...`), one per session as in Kratos
    logout_token: str = ""
    #: set by the control API: whoami answers session_credential_required until the
    #: session signs in again with this method
    credential_required: str | None = None

    @property
    def aal(self) -> str:
        """Kratos' SetAuthenticatorAssuranceLevel: aal2 needs an aal1 and an aal2 method."""
        levels = {m.aal for m in self.methods}
        if {"aal1", "aal2"} <= levels:
            return "aal2"
        return "aal1" if self.methods else "aal0"


@dataclass
class LoginFlow:
    id: str
    type: str
    issued_at: float
    expires_at: float
    request_url: str
    csrf_token: str = ""
    return_to: str | None = None
    #: what the last failed submission left on the flow (Kratos persists both)
    messages: list[dict[str, Any]] = field(default_factory=list)
    identifier: str = ""
    requested_aal: str = "aal1"
    refresh: bool = False
    #: second-factor methods offered (aal2 flows), as the strategies populated them
    second_factors: list[str] = field(default_factory=list)


@dataclass
class FlowError:
    """A self-service error container (`GET /self-service/errors?id=`)."""

    id: str
    error: dict[str, Any]
    created_at: float


@dataclass
class Client:
    data: dict[str, Any]
    secret: str | None


@dataclass
class AccessToken:
    key: str
    client_id: str
    scopes: list[str]
    audience: list[str]
    ext: dict[str, Any]
    issued_at: int
    expires_at: int
    jti: str
    active: bool = True


@dataclass
class Project:
    config: ProjectConfig
    base_url: str
    keys: KeySets
    cookie_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    token_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    identities: dict[str, Identity] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    flows: dict[str, LoginFlow] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    errors: dict[str, FlowError] = field(default_factory=dict)
    #: Ory Permissions: namespaces and relationships
    relations: RelationStore = field(default_factory=RelationStore)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def session_by_token(self, token: str) -> Session | None:
        return next((s for s in self.sessions.values() if secrets.compare_digest(s.token, token)), None)


@dataclass
class Emulator:
    """Everything the server knows: projects by name, the clock, call statistics, faults."""

    base_url: str
    clock: Clock = field(default_factory=Clock)
    projects: dict[str, Project] = field(default_factory=dict)
    stats: dict[str, Counter[str]] = field(default_factory=dict)
    faults: FaultStore = field(default_factory=FaultStore)
    #: what the last calls to the projects carried (`GET /_emulator/requests`), newest last
    requests: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))

    def add_project(self, config: ProjectConfig) -> Project:
        project = Project(config=config, base_url=f"{self.base_url}/{config.name}", keys=KeySets.generate())
        self.projects[config.name] = project
        self.stats[config.name] = Counter()
        return project

    def count(self, project: str, operation: str) -> None:
        self.stats.setdefault(project, Counter())[operation] += 1

    def record(self, project: str, operation: str, method: str, path: str, query: str, cookie: str | None) -> None:
        """One call as a test asks about it: where it went, its query, its Cookie header."""
        self.requests.append(
            {
                "project": project,
                "operation": operation,
                "method": method,
                "path": path,
                "query": query,
                "cookie": cookie,
            }
        )
