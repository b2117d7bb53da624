"""Whether a session may be used, as whoami and the login hook decide it, and the 403 bodies
that send a browser somewhere to fix it.

- Kratos' DoesSessionSatisfy (`session/manager_http.go`) with `session.whoami.required_aal`:
  `aal1` accepts any aal1 session; `highest_available` (the default) refuses an aal1 session of
  an identity that has a second factor: 403 `session_aal2_required`, redirect to
  `<public>/self-service/login/browser?aal=aal2`.
- Ory Network documents two more whoami errors; the emulator raises them on these triggers:
  `session_aal2_enrollment_required` when the project enforces second factors
  (`session.whoami.mfa_enrollment_required`) and the identity has none (redirect to the
  settings flow, `<public>/self-service/settings/browser`), and `session_credential_required`
  when the control API marked the session as needing a sign-in with a given method (redirect
  to `<public>/self-service/login/browser?refresh=true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import Response

from gateway.emulator.errors import herodot
from gateway.emulator.state import Identity, Project, Session

AAL2_REASON = (
    "An active session was found but it does not fulfill the requested Authenticator Assurance Level. "
    "Please verify yourself with a second factor to resolve this issue."
)
ENROLLMENT_REASON = (
    "An active session was found but the required Authenticator Assurance Level can not be reached because "
    "the identity has no second factor enrolled. Please enroll a second factor to resolve this issue."
)
CREDENTIAL_REASON = (
    "An active session was found but it must be authenticated with a specific credential first. "
    "Please sign in with that credential to resolve this issue."
)


@dataclass(frozen=True)
class Refusal:
    """A 403 that carries `redirect_browser_to` (in `error.details` and beside `error`)."""

    error_id: str
    message: str
    reason: str
    redirect_to: str

    def response(self, request_id: str = "") -> Response:
        url = {"redirect_browser_to": self.redirect_to}
        return herodot(
            403, self.message, error_id=self.error_id, reason=self.reason, request_id=request_id, details=url, extra=url
        )


def login_url(project: Project, **query: str) -> str:
    return f"{project.base_url}/self-service/login/browser?{urlencode(query)}"


def aal2_required(project: Project, return_to: str | None = None) -> Refusal:
    query = {"aal": "aal2"} | ({"return_to": return_to} if return_to else {})
    message = "Session does not fulfill the requested Authenticator Assurance Level"
    return Refusal("session_aal2_required", message, AAL2_REASON, login_url(project, **query))


def enrollment_required(project: Project) -> Refusal:
    url = f"{project.base_url}/self-service/settings/browser"
    message = "The identity has no second factor enrolled"
    return Refusal("session_aal2_enrollment_required", message, ENROLLMENT_REASON, url)


def credential_required(project: Project) -> Refusal:
    message = "Session must be authenticated with a specific credential"
    return Refusal("session_credential_required", message, CREDENTIAL_REASON, login_url(project, refresh="true"))


def satisfies_aal(project: Project, session: Session, identity: Identity) -> bool:
    """DoesSessionSatisfy with the project's `required_aal`."""
    if session.aal == "aal2" or project.config.required_aal == "aal1":
        return True
    return not identity.second_factors


def whoami_refusal(project: Project, session: Session, identity: Identity) -> Refusal | None:
    """Why whoami refuses this usable session, if it does."""
    if not satisfies_aal(project, session, identity):
        return aal2_required(project)
    if project.config.mfa_enrollment_required and not identity.second_factors:
        return enrollment_required(project)
    if session.credential_required is not None:
        return credential_required(project)
    return None
