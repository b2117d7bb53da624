"""Tokenized sessions (`tokenize_as`): the JWT of a template, verified with the JWKS the
emulator publishes for it, and Kratos' errors."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import ory_client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.emulator import RunningEmulator

from .conftest import REFRESHER_KEY, RITA_MEMBERSHIPS, RSA_KEY
from .kratos_helpers import api_login
from .oryspec import SpecChecker, parsed


def _verify(refresher: httpx.Client, template: str, token: str) -> tuple[dict[str, object], dict[str, object]]:
    jwks = refresher.get(f"/.well-known/ory/tokenizer/{template}/jwks.json")
    assert jwks.status_code == 200 and all("d" not in key for key in jwks.json()["keys"])
    keys = KeySet.import_key_set(jwks.json())
    algorithms = [str(key["alg"]) for key in jwks.json()["keys"]]
    decoded = jwt.decode(token, keys, algorithms=algorithms)
    return dict(decoded.header), dict(decoded.claims)


def test_tokenized_session(emu: RunningEmulator, refresher: httpx.Client, spec: SpecChecker) -> None:
    login = api_login(refresher, "rita@example.com", "rita-pass-1")
    response = spec.check(
        refresher.get("/sessions/whoami?tokenize_as=jwt", headers={"X-Session-Token": login["session_token"]})
    )
    session = parsed(ory_client.Session, response.text)
    assert session.tokenized is not None and "ory-session-cache-for" not in response.headers
    header, claims = _verify(refresher, "jwt", session.tokenized)
    jwks = refresher.get("/.well-known/ory/tokenizer/jwt/jwks.json").json()["keys"][0]
    assert header == {"alg": "ES256", "kid": jwks["kid"], "typ": "JWT"} and jwks["use"] == "sig"
    assert claims["iss"] == emu.project_url("refresher")
    assert claims["sub"] == login["session"]["identity"]["id"] and claims["sid"] == login["session"]["id"]
    assert claims["exp"] == claims["iat"] + 120 and claims["nbf"] == claims["iat"]  # type: ignore[operator]
    assert uuid.UUID(str(claims["jti"])).version == 4
    assert claims["memberships"] == RITA_MEMBERSHIPS and claims["aal"] == "aal1" and "nothing" not in claims
    listed = emu.control("GET", "projects").json()["refresher"]["tokenizer_jwks"]
    assert listed == {
        n: f"{emu.project_url('refresher')}/.well-known/ory/tokenizer/{n}/jwks.json" for n in ("jwt", "rsa")
    }


def test_sdk_to_session_tokenize_as(emu: RunningEmulator, refresher: httpx.Client) -> None:
    token = api_login(refresher, "rita@example.com", "rita-pass-1")["session_token"]
    config = ory_client.Configuration(host=emu.project_url("refresher"), access_token=REFRESHER_KEY)
    session = ory_client.FrontendApi(ory_client.ApiClient(config)).to_session(x_session_token=token, tokenize_as="rsa")
    assert session.tokenized is not None
    header, claims = _verify(refresher, "rsa", session.tokenized)
    assert header["alg"] == "RS256" and header["kid"] == RSA_KEY.kid == "rsa-test-key"
    assert claims["sub"] == "rita-ext"  # subject_source: external_id
    jwks = refresher.get("/.well-known/ory/tokenizer/rsa/jwks.json").json()
    assert jwks["keys"][0]["n"] == RSA_KEY.as_dict(private=False)["n"]


def test_tokenizer_errors(refresher: httpx.Client, customer: httpx.Client, spec: SpecChecker) -> None:
    noext = api_login(refresher, "noext@example.com", "noext-pass-1")["session_token"]
    missing = spec.check(refresher.get("/sessions/whoami?tokenize_as=rsa", headers={"X-Session-Token": noext}))
    assert missing.status_code == 400
    assert missing.json()["error"]["reason"] == (
        "The session's identity does not have an external ID set, but it is required for the subject claim."
    )
    unknown = spec.check(refresher.get("/sessions/whoami?tokenize_as=nope", headers={"X-Session-Token": noext}))
    assert unknown.json() == {
        "error": {
            "code": 400,
            "status": "Bad Request",
            "reason": 'Unable to find tokenizer template "nope".',
            "message": "The request was malformed or contained invalid parameters",
        }
    }
    assert refresher.get("/.well-known/ory/tokenizer/nope/jwks.json").status_code == 404
    # the AAL check comes first: an aal1 session of an identity with a second factor is refused
    mfa = api_login(customer, "mfa@example.com", "mfa-pass-1")["session_token"]
    assert customer.get("/sessions/whoami?tokenize_as=jwt", headers={"X-Session-Token": mfa}).status_code == 403
    assert refresher.get("/sessions/whoami?tokenize_as=jwt").status_code == 401


BAD_TEMPLATES = """
projects:
  p:
    session:
      colour: blue
      cookie: {same_site: Sometimes, persistent: maybe}
      whoami:
        required_aal: aal3
        tokenizer:
          templates:
            both: {jwks_url: "base64://e30=", algorithm: ES256}
            weak: {algorithm: HS256}
            empty: {jwks_url: "base64://e30="}
            remote: {jwks_url: "https://keys.example/jwks.json"}
            slow: {ttl: forever, subject_source: email, claims_mapper: {x: traits.email}}
            "bad name!": {}
    feature_flags: {cacheable_sessions: yes-please, cacheable_sessions_max_age: 0}
    identities:
      - traits: {email: a@example.com}
        totp_secret: "not base32!"
      - traits: {email: b@example.com}
        lookup_secrets: code
"""


def test_bad_session_seed_is_one_line_per_problem(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(BAD_TEMPLATES)
    result = subprocess.run(
        [sys.executable, "-m", "gateway.emulator", "--seed", str(seed)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    text = result.stderr
    at = "projects.p.session"
    for expected in (
        f"{at}: unknown key 'colour'",
        f"{at}.cookie.same_site: must be one of Lax, Strict, None",
        f"{at}.cookie.persistent: must be true or false",
        f"{at}.whoami.required_aal: must be 'aal1' or 'highest_available'",
        f"{at}.whoami.tokenizer.templates.both: give jwks_url (a key) or algorithm (a generated key), not both",
        f"{at}.whoami.tokenizer.templates.weak: algorithm must be one of ES256",
        f"{at}.whoami.tokenizer.templates.empty: jwks_url: no usable JSON Web Key",
        f"{at}.whoami.tokenizer.templates.remote: jwks_url must be a file:// or base64:// URL",
        f"{at}.whoami.tokenizer.templates.slow.ttl: invalid duration",
        f"{at}.whoami.tokenizer.templates.slow.subject_source: must be one of id, external_id",
        f"{at}.whoami.tokenizer.templates.slow.claims_mapper: must map claim names to paths starting with",
        f"{at}.whoami.tokenizer.templates.bad name!: template names are",
        "projects.p.feature_flags.cacheable_sessions: must be true or false",
        "projects.p.feature_flags.cacheable_sessions_max_age: duration must be positive",
        "projects.p.identities[0].totp_secret: must be a base32 secret",
        "projects.p.identities[1].lookup_secrets: must be a list of non-empty strings",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert len(text.strip().splitlines()) == 16, text


def test_template_keys_from_files(tmp_path: Path) -> None:
    from gateway.emulator.seed import load_seed

    public, private = tmp_path / "public.json", tmp_path / "private.json"
    public.write_text(json.dumps({"keys": [RSA_KEY.as_dict(private=False)]}))
    private.write_text(json.dumps({"keys": [RSA_KEY.as_dict(private=True)]}))
    seed = tmp_path / "seed.yaml"
    templates = f"{{a: {{jwks_url: 'file://{private}'}}, b: {{jwks_url: 'file://{public}'}}}}"
    seed.write_text(f"projects:\n  p:\n    session: {{whoami: {{tokenizer: {{templates: {templates}}}}}}}\n")
    seeds, errors = load_seed(seed, "ory_pat_x")
    where = "projects.p.session.whoami.tokenizer.templates.b"
    assert errors == [f"{seed}: {where}: jwks_url: the key must be private (it signs the tokens)"]
    assert seeds[0].config.tokenizer_templates["a"].key.kid == "rsa-test-key"
