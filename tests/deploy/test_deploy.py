"""deploy/: what can be checked without a Docker engine or a cluster.

Every YAML parses; the compose file and the Kubernetes manifests reference only
things that exist; the gateway environment in both loads with `load_all` (settings
*and* the shipped policies) without a single problem; the manifests, as kustomize
would render them, validate against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: unknown fields are errors); the Dockerfiles are
non-root, health-checked and copy only paths that exist and survive .dockerignore.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from joserfc.jwk import ECKey

from gateway.config.settings import Settings
from gateway.forward.assertion import AssertionSigner
from gateway.load import load_all

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30"  # oldest Kubernetes minor the manifests are meant for
GRACEFUL_SHUTDOWN = 30  # uvicorn timeout_graceful_shutdown in gateway/cli/main.py
Obj = dict[str, Any]


# --- helpers -------------------------------------------------------------------------------------------------------


def yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def load_one(path: Path) -> Obj:
    docs = yaml_docs(path)
    assert len(docs) == 1, f"{path}: expected one document"
    assert isinstance(docs[0], dict)
    return docs[0]


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self.args
        return value


@dataclass
class Dockerfile:
    path: Path
    instructions: list[Instruction] = field(default_factory=list)

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        lines = [ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")]
        text = re.sub(r"\\\n", " ", "\n".join(lines))
        df, stage = cls(path), -1
        for line in (ln.strip() for ln in text.splitlines()):
            if not line:
                continue
            keyword, _, args = line.partition(" ")
            stage += keyword.upper() == "FROM"
            df.instructions.append(Instruction(keyword.upper(), args.strip(), stage))
        return df

    @property
    def final_stage(self) -> int:
        return max(i.stage for i in self.instructions)

    def final(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword and i.stage == self.final_stage]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for ins in self.final("ENV"):
            for token in shlex.split(ins.args):
                key, sep, value = token.partition("=")
                assert sep, f"{self.path}: use ENV KEY=VALUE, got {token!r}"
                env[key] = value
        return env

    def copies(self) -> list[tuple[list[str], str]]:
        """(sources, destination) of every COPY from the build context (not --from=stage)."""
        result = []
        for ins in self.all("COPY"):
            parts = shlex.split(ins.args)
            if any(p.startswith("--from") for p in parts):
                continue
            parts = [p for p in parts if not p.startswith("--")]
            result.append((parts[:-1], parts[-1]))
        return result


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    excluded = False
    prefixes = ["/".join(path.split("/")[: n + 1]) for n in range(path.count("/") + 1)]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if any(re.fullmatch(regex.replace(r"\?", "[^/]"), p) for p in prefixes):
            excluded = not negate
    return excluded


def dockerignore(dockerfile: Path) -> list[str]:
    path = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert path.is_file(), f"{path} missing (BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile)"
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def context_files(source: str) -> list[str]:
    base = ROOT / source
    assert base.exists(), f"COPY source {source!r} does not exist in the repository"
    files = [base] if base.is_file() else [p for p in base.rglob("*") if p.is_file()]
    return [p.relative_to(ROOT).as_posix() for p in files]


# --- every YAML -----------------------------------------------------------------------------------------------------


def test_every_yaml_in_deploy_parses() -> None:
    paths = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml") and "keys" not in p.parts)
    names = {p.relative_to(DEPLOY).as_posix() for p in paths}
    assert {"docker-compose.yml", "ory/kratos/kratos.yml", "ory/hydra/hydra.yml", "k8s/deployment.yaml"} <= names
    for path in paths:
        docs = yaml_docs(path)
        assert docs, f"{path} is empty"
        assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"


def test_identity_schema_is_a_json_schema_with_email_identifier() -> None:
    schema = json.loads((DEPLOY / "ory/kratos/identity.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    email = schema["properties"]["traits"]["properties"]["email"]
    assert email["ory.sh/kratos"]["credentials"]["password"]["identifier"] is True
    # organization and roles must not be user-editable traits: the gateway reads metadata_public
    assert set(schema["properties"]["traits"]["properties"]) == {"email"}
    assert schema["properties"]["traits"]["additionalProperties"] is False


# --- docker compose -------------------------------------------------------------------------------------------------

COMPOSE = DEPLOY / "docker-compose.yml"
ORY_PORTS = {"kratos": {4433, 4434}, "hydra": {4444, 4445}, "keto": {4466, 4467}, "redis": {6379}}


@pytest.fixture(scope="module")
def compose() -> Obj:
    return load_one(COMPOSE)


def service_ports(compose: Obj) -> dict[str, set[int]]:
    ports = {name: set(p) for name, p in ORY_PORTS.items()}
    durably_cmd = Dockerfile.parse(DEPLOY / "durably.Dockerfile").final("CMD")[-1].exec_form()
    ports["durably"] = {int(durably_cmd[durably_cmd.index("--port") + 1])}
    for demo in ("inventory", "dashboard"):  # the demo services shipped in the gateway package
        entrypoint = " ".join(compose["services"][demo]["entrypoint"])
        ports[demo] = {int(m) for m in re.findall(r"port=(\d+)", entrypoint)}
    return ports


def compose_gateway_env(compose: Obj) -> dict[str, str]:
    """The gateway container's environment: the image's ENV, then compose's, with the
    image path of the policies mapped back to the repository folder it is copied from."""
    image = Dockerfile.parse(DEPLOY / "Dockerfile")
    env = image.env() | {k: str(v) for k, v in compose["services"]["gateway"]["environment"].items()}
    copied = {dest.rstrip("/"): srcs for srcs, dest in image.copies()}
    sources = copied[env["GATEWAY_POLICIES_DIR"].rstrip("/")]
    return env | {"GATEWAY_POLICIES_DIR": str(ROOT / sources[0])}


def test_compose_references_only_existing_services_files_and_volumes(compose: Obj) -> None:
    services: dict[str, Obj] = compose["services"]
    assert {"gateway", "kratos", "kratos-migrate", "hydra", "hydra-migrate", "durably", "postgres"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown service {dep!r}"
            condition = spec["condition"]
            target = services[dep]
            if condition == "service_healthy":
                built = target.get("build", {}).get("dockerfile")
                has_check = "healthcheck" in target or (
                    built is not None
                    and Dockerfile.parse(COMPOSE.parent / target["build"]["context"] / built).all("HEALTHCHECK")
                )
                assert has_check, f"{name} waits for {dep} to be healthy, but {dep} has no health check"
            elif condition == "service_completed_successfully":  # a migration, or the edge's configuration
                command = target["command"]
                one_shot = str(command).startswith(("migrate sql", "migrate up")) or command[:2] == ["edge", "nginx"]
                assert one_shot, f"{dep} is neither a migration nor gateway edge nginx"
            else:
                assert condition == "service_started", condition
        if "build" in svc:
            context = COMPOSE.parent / svc["build"]["context"]
            assert (context / svc["build"]["dockerfile"]).is_file(), f"{name}: Dockerfile missing"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: bind mount source {source} missing"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: named volume {source} not declared"
        image = svc.get("image")
        if image is not None:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag ({image})"


def test_compose_runs_official_ory_images_with_their_migrations(compose: Obj) -> None:
    services: dict[str, Obj] = compose["services"]
    for ory in ("kratos", "hydra", "keto"):
        server, migrate = services[ory], services[f"{ory}-migrate"]
        assert server["image"] == migrate["image"] == f"oryd/{ory}:v26.2.0"
        expected = "migrate up -c /etc/config/keto/keto.yml --yes" if ory == "keto" else "migrate sql -e --yes"
        assert migrate["command"] == expected
        assert migrate["environment"]["DSN"] == server["environment"]["DSN"]
        assert urlsplit(server["environment"]["DSN"]).path == f"/{ory}"
        assert server["depends_on"][f"{ory}-migrate"]["condition"] == "service_completed_successfully"
        published = {str(p).rsplit(":", 1)[-1].split("/")[0] for p in server.get("ports", [])}
        admin_port = str(max(ORY_PORTS[ory]))
        assert admin_port not in published, f"{ory}'s unauthenticated admin port must not be published"
        # the config file named by -c is one that the bind mount provides
        config = server["command"].split("-c ", 1)[1].split()[0]
        mounts = dict(v.split(":")[:2][::-1] for v in server["volumes"])
        folder, _, filename = config.rpartition("/")
        assert (COMPOSE.parent / mounts[folder] / filename).is_file()
    init = DEPLOY / "postgres/init.sql"
    assert set(re.findall(r"CREATE DATABASE (\w+);", init.read_text())) == {"kratos", "hydra", "keto"}


def test_compose_gateway_environment_loads_with_the_shipped_policies(compose: Obj) -> None:
    env = compose_gateway_env(compose)
    settings, policies = load_all(env)  # raises ConfigError listing every problem
    assert set(settings.tenants) == {"customer", "admin", "dealer"}
    assert (settings.listen_host, settings.listen_port) == ("0.0.0.0", 8080)
    assert settings.upstreams == {
        "jobs": "http://durably:3000",
        "inventory": "http://inventory:3002",
        "dashboard": "http://dashboard:3003",
    }
    assert settings.redis_url == "redis://redis:6379/0"
    assert set(policies.routes) == {"customer", "admin", "dealer"}
    customer = settings.tenants["customer"]
    assert customer.mode == "self-hosted"
    assert (customer.kratos_public_url, customer.kratos_admin_url) == ("http://kratos:4433", "http://kratos:4434")
    assert (customer.hydra_public_url, customer.hydra_admin_url) == ("http://hydra:4444", "http://hydra:4445")
    # every URL the gateway is given names a compose service on a port that service listens on
    ports = service_ports(compose)
    for key, value in env.items():
        if key.startswith("GATEWAY_") and key.endswith("_URL") and key != "GATEWAY_PUBLIC_URL":
            parts = urlsplit(value)
            assert parts.hostname is not None and parts.hostname in compose["services"], (
                f"{key}: {parts.hostname} is not a compose service"
            )
            assert parts.port in ports[parts.hostname], f"{key}: {parts.hostname} does not listen on {parts.port}"


def test_compose_admin_token_placeholders_are_needed() -> None:
    """Without the placeholder tokens the gateway refuses the admin URLs (so they must stay)."""
    env = {k: v for k, v in compose_gateway_env(load_one(COMPOSE)).items() if not k.endswith("_ADMIN_TOKEN")}
    with pytest.raises(Exception) as caught:
        load_all(env)
    problems = "\n".join(getattr(caught.value, "problems", []))
    assert "GATEWAY_TENANT_CUSTOMER_KRATOS_ADMIN_TOKEN" in problems
    assert "GATEWAY_TENANT_DEALER_HYDRA_ADMIN_TOKEN" in problems


def test_ory_configs_match_what_the_gateway_expects(compose: Obj) -> None:
    kratos = load_one(DEPLOY / "ory/kratos/kratos.yml")
    hydra = load_one(DEPLOY / "ory/hydra/hydra.yml")
    settings, _ = load_all(compose_gateway_env(compose))
    assert {t.session_cookie_name for t in settings.tenants.values()} == {kratos["session"]["cookie"]["name"]}
    schema_url = kratos["identity"]["schemas"][0]["url"]
    mounted = dict(v.split(":")[:2][::-1] for v in compose["services"]["kratos"]["volumes"])
    folder, _, filename = urlsplit(schema_url).path.rpartition("/")
    assert (COMPOSE.parent / mounted[folder] / filename).is_file(), schema_url
    assert kratos["identity"]["default_schema_id"] == kratos["identity"]["schemas"][0]["id"]
    assert kratos["selfservice"]["methods"]["password"]["enabled"] is True
    assert all(len(s) == 32 for s in kratos["secrets"]["cipher"]), "xchacha20-poly1305 wants 32-byte secrets"
    assert all(len(s) >= 16 for s in kratos["secrets"]["cookie"] + hydra["secrets"]["system"])
    assert hydra["strategies"]["access_token"] == "opaque"
    assert hydra["urls"]["self"]["issuer"] == settings.tenants["customer"].hydra_public_url


SECRET_LIST = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 16}}
GO_DURATION = {"type": "string", "pattern": r"^([0-9]+(ns|us|ms|s|m|h))+$"}
#: the parts of the Ory components' configuration schemas (v26.2.0) that these configs rely on
ORY_SCHEMAS: dict[str, Obj] = {
    "kratos": {
        "type": "object",
        "required": ["secrets", "session", "selfservice"],
        "properties": {
            "secrets": {
                "type": "object",
                "additionalProperties": False,
                "required": ["pagination"],
                "properties": {n: SECRET_LIST for n in ("default", "cookie", "pagination", "cipher")},
            },
            "session": {
                "type": "object",
                "required": ["earliest_possible_extend", "whoami"],
                "properties": {
                    "lifespan": GO_DURATION,
                    "earliest_possible_extend": GO_DURATION,
                    "whoami": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["required_aal"],
                        "properties": {
                            "required_aal": {"enum": ["aal1", "highest_available"]},
                            "tokenizer": {"type": "object"},
                        },
                    },
                },
            },
            "selfservice": {
                "type": "object",
                "properties": {
                    "methods": {
                        "type": "object",
                        "required": ["totp", "lookup_secret"],
                        "properties": {
                            "totp": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["enabled", "config"],
                                "properties": {
                                    "enabled": {"const": True},
                                    "config": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["issuer"],
                                        "properties": {"issuer": {"type": "string", "minLength": 1}},
                                    },
                                },
                            },
                            "lookup_secret": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"enabled": {"const": True}},
                            },
                        },
                    }
                },
            },
        },
    },
    "hydra": {
        "type": "object",
        "required": ["secrets"],
        "properties": {
            "secrets": {
                "type": "object",
                "additionalProperties": False,
                "required": ["system", "pagination"],
                "properties": {n: SECRET_LIST for n in ("system", "cookie", "pagination")},
            }
        },
    },
    "keto": {
        "type": "object",
        "required": ["secrets"],
        "properties": {
            "secrets": {"type": "object", "required": ["pagination"], "properties": {"pagination": SECRET_LIST}}
        },
    },
}


def _seconds(duration: str) -> float:
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9]+)(ns|us|ms|s|m|h)", duration))


@pytest.mark.parametrize("component", ["kratos", "hydra", "keto"])
def test_ory_configs_set_pagination_secrets(component: str) -> None:
    """Every component encrypts its list APIs' page tokens with its own secret (Ory advisories
    GHSA-hgx2-28f8-6g2r, GHSA-c38g-mx2c-9wf2, GHSA-r9w3-57w2-gch2), and Kratos asks for
    second factors and renews sessions as the gateway expects."""
    config = load_one(DEPLOY / f"ory/{component}/{component}.yml")
    jsonschema.Draft7Validator(ORY_SCHEMAS[component]).validate(config)
    secrets = config["secrets"]
    others = {s for name, values in secrets.items() if name != "pagination" for s in values}
    assert not others & set(secrets["pagination"]), "the pagination secret must be a secret of its own"
    if component == "kratos":
        session = config["session"]
        assert 0 < _seconds(session["earliest_possible_extend"]) <= _seconds(session["lifespan"])


def test_ory_config_schema_excerpts_catch_mistakes() -> None:
    kratos = load_one(DEPLOY / "ory/kratos/kratos.yml")
    broken = json.loads(json.dumps(kratos))
    broken["secrets"]["pagination"] = ["short"]
    broken["session"]["whoami"]["required_aal"] = "aal2"
    errors = list(jsonschema.Draft7Validator(ORY_SCHEMAS["kratos"]).iter_errors(broken))
    assert len(errors) == 2


# --- Kubernetes -----------------------------------------------------------------------------------------------------


@dataclass
class Rendered:
    folder: Path
    objects: list[Obj]

    def of(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Obj:
        found = [o for o in self.of(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in self.of(kind)}


def kustomize(folder: Path) -> Rendered:
    """What `kubectl kustomize` produces for this kustomization (without name hashes)."""
    kust = load_one(folder / "kustomization.yaml")
    assert kust["kind"] == "Kustomization"
    objects: list[Obj] = []
    for resource in kust["resources"]:
        objects.extend(yaml_docs(folder / resource))
    for gen in kust.get("configMapGenerator", []):
        data = {Path(f).name: (folder / f).read_text() for f in gen["files"]}
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    for gen in kust.get("secretGenerator", []):
        data = {Path(f).name: base64.b64encode((folder / f).read_bytes()).decode() for f in gen["files"]}
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": gen.get("type", "Opaque"),
                "metadata": {"name": gen["name"]},
                "data": data,
            }
        )
    return Rendered(folder, objects)


def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s copied aside (no keys) and prepared by render.sh as an operator would."""
    folder = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, folder, ignore=shutil.ignore_patterns("keys"))
    env = dict(os.environ, K8S_DIR=str(folder))
    subprocess.run(["bash", str(K8S / "render.sh")], env=env, check=True, capture_output=True, timeout=60)
    return folder


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """deploy/k8s as kustomize renders it, once prepared."""
    yield kustomize(prepared(tmp_path_factory))


def deployment_env(r: Rendered) -> dict[str, str]:
    container = r.one("Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            env |= r.one("ConfigMap", source["configMapRef"]["name"])["data"]
        else:
            secret = r.one("Secret", source["secretRef"]["name"])
            env |= secret.get("stringData", {})
            env |= {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    return env


def mounted_volumes(r: Rendered, into: Path) -> dict[str, Path]:
    """Materialize the pod's ConfigMap/Secret volumes under `into`, keyed by mount path."""
    spec = r.one("Deployment", "gateway")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    paths: dict[str, Path] = {}
    for mount in spec["containers"][0]["volumeMounts"]:
        volume = volumes[mount["name"]]
        target = into / mount["name"]
        target.mkdir(parents=True)
        if "configMap" in volume:
            for key, text in r.one("ConfigMap", volume["configMap"]["name"])["data"].items():
                (target / key).write_text(text)
        elif "secret" in volume:
            for key, b64 in r.one("Secret", volume["secret"]["secretName"])["data"].items():
                (target / key).write_bytes(base64.b64decode(b64))
        paths[mount["mountPath"]] = target
    return paths


def pod_settings(r: Rendered, tmp_path: Path) -> Settings:
    env = deployment_env(r)
    mounts = mounted_volumes(r, tmp_path)
    env = env | {k: str(mounts[v]) for k, v in env.items() if v in mounts}
    assert env["GATEWAY_POLICIES_DIR"] != deployment_env(r)["GATEWAY_POLICIES_DIR"], "policies are not mounted"
    settings, _ = load_all(env)
    return settings


def test_manifests_validate_against_the_kubernetes_schemas(rendered: Rendered) -> None:
    kinds = sorted(o["kind"] for o in rendered.objects)
    assert kinds == sorted(
        [
            "ConfigMap",
            "ConfigMap",
            "Secret",
            "Secret",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
        ]
    )
    for obj in rendered.objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")


def test_schema_validation_catches_a_misspelt_field(rendered: Rendered) -> None:
    broken = json.loads(json.dumps(rendered.one("Deployment", "gateway")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_selectors_ports_and_probes_line_up(rendered: Rendered) -> None:
    deploy = rendered.one("Deployment", "gateway")
    pod = deploy["spec"]["template"]
    labels: dict[str, str] = pod["metadata"]["labels"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = rendered.one("Service", "gateway")
    assert service["spec"]["selector"].items() <= labels.items()
    pdb = rendered.one("PodDisruptionBudget", "gateway")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < deploy["spec"]["replicas"] == 2

    container = pod["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    def resolve(port: int | str) -> int:
        return port if isinstance(port, int) else ports[port]

    env = deployment_env(rendered)
    listen_port = int(env["GATEWAY_LISTEN"].rsplit(":", 1)[1])
    metrics_port = int(env["GATEWAY_METRICS_LISTEN"].rsplit(":", 1)[1])
    assert resolve(container["livenessProbe"]["httpGet"]["port"]) == listen_port
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert resolve(container["readinessProbe"]["httpGet"]["port"]) == listen_port
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service_ports = {p["name"]: resolve(p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {"http": listen_port, "metrics": metrics_port}
    image_port = int(Dockerfile.parse(DEPLOY / "Dockerfile").final("EXPOSE")[0].args)
    assert listen_port == image_port

    hpa = rendered.one("HorizontalPodAutoscaler", "gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == (deploy["apiVersion"], "Deployment", "gateway")
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


def test_pod_is_hardened_and_drains(rendered: Rendered) -> None:
    spec = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    image_user = Dockerfile.parse(DEPLOY / "Dockerfile").final("USER")[-1].args.split(":")[0]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == int(image_user) != 0
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] > int(sleep[1]) + GRACEFUL_SHUTDOWN
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "/tmp" in mounts, "read-only root: /tmp must be a writable volume"
    env = deployment_env(rendered)
    assert mounts[env["GATEWAY_POLICIES_DIR"]]["readOnly"] is True
    assert mounts[env["GATEWAY_ASSERTION_KEYS_DIR"]]["readOnly"] is True


def test_every_referenced_configmap_and_secret_is_in_the_kustomization(rendered: Rendered) -> None:
    spec = rendered.one("Deployment", "gateway")["spec"]["template"]["spec"]
    wanted: set[tuple[str, str]] = set()
    for source in spec["containers"][0]["envFrom"]:
        if "configMapRef" in source:
            wanted.add(("ConfigMap", source["configMapRef"]["name"]))
        if "secretRef" in source:
            wanted.add(("Secret", source["secretRef"]["name"]))
    for volume in spec["volumes"]:
        if "configMap" in volume:
            wanted.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            wanted.add(("Secret", volume["secret"]["secretName"]))
    assert {
        ("ConfigMap", "gateway-env"),
        ("ConfigMap", "gateway-policies"),
        ("Secret", "gateway-secrets"),
        ("Secret", "gateway-assertion-keys"),
    } <= wanted
    for kind, name in wanted:
        assert name in rendered.names(kind), f"{kind} {name} is referenced but not in the kustomization"


def test_configmap_and_secret_env_load_with_the_mounted_policies(rendered: Rendered, tmp_path: Path) -> None:
    settings = pod_settings(rendered, tmp_path)
    assert set(settings.tenants) == {"customer", "admin", "dealer"}
    assert settings.tenants["dealer"].mode == "cloud"
    assert settings.tenants["customer"].kratos_admin_token == "REPLACE-ME-customer-kratos-admin-token"
    assert settings.redis_url is not None and settings.assertion_keys_dir is not None
    # every GATEWAY_ variable is in exactly one place: secrets never in the ConfigMap
    config = rendered.one("ConfigMap", "gateway-env")["data"]
    secret = rendered.one("Secret", "gateway-secrets")["stringData"]
    assert not set(config) & set(secret)
    assert not [k for k in config if re.search(r"TOKEN|SECRET|API_KEY|PASSWORD", k)]


def test_policies_configmap_is_an_exact_copy_of_policies(rendered: Rendered) -> None:
    shipped = {p.name: p.read_text() for p in sorted((ROOT / "policies").glob("*.yaml"))}
    assert rendered.one("ConfigMap", "gateway-policies")["data"] == shipped
    committed = {p.name: p.read_text() for p in sorted((K8S / "policies").glob("*.yaml"))}
    assert committed == shipped, "deploy/k8s/policies is stale: run deploy/k8s/render.sh"
    assert load_one(K8S / "kustomization.yaml") == load_one(rendered.folder / "kustomization.yaml")


def test_replicas_share_one_signing_key_per_tenant(rendered: Rendered, tmp_path: Path) -> None:
    settings = pod_settings(rendered, tmp_path)
    keys_dir = settings.assertion_keys_dir
    assert keys_dir is not None
    assert sorted(p.name for p in keys_dir.iterdir()) == sorted(f"{t}.pem" for t in settings.tenants)
    for pem in keys_dir.iterdir():
        key = ECKey.import_key(pem.read_bytes())
        assert key.as_dict(private=False)["crv"] == "P-256" and key.is_private
    replica_a = AssertionSigner(settings.public_url, settings.tenants, keys_dir)
    replica_b = AssertionSigner(settings.public_url, settings.tenants, keys_dir)
    assert replica_a.jwks_body == replica_b.jwks_body
    without_keys = AssertionSigner(settings.public_url, settings.tenants, None)
    assert without_keys.jwks_body != replica_a.jwks_body


def test_render_keeps_existing_keys(rendered: Rendered) -> None:
    before = {p.name: p.read_bytes() for p in (rendered.folder / "keys").iterdir()}
    env = dict(os.environ, K8S_DIR=str(rendered.folder))
    subprocess.run(["bash", str(K8S / "render.sh")], env=env, check=True, capture_output=True, timeout=60)
    assert {p.name: p.read_bytes() for p in (rendered.folder / "keys").iterdir()} == before
    assert (rendered.folder / "keys").stat().st_mode & 0o077 == 0


# --- Dockerfiles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Dockerfile", "durably.Dockerfile"])
def test_dockerfile_is_non_root_checked_and_copies_what_exists(name: str) -> None:
    df = Dockerfile.parse(DEPLOY / name)
    users = df.final("USER")
    assert users, f"{name}: no USER in the final stage"
    uid = users[-1].args.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name}: USER must be a numeric non-root id, got {uid!r}"
    assert df.final("HEALTHCHECK"), f"{name}: no HEALTHCHECK"
    assert all(":" in i.args.split()[0] for i in df.all("FROM")), "pin base image tags"
    ignore = dockerignore(DEPLOY / name)
    for sources, _ in df.copies():
        for source in sources:
            kept = [f for f in context_files(source) if not dockerignore_excludes(ignore, f)]
            assert kept, f"{name}: COPY {source} - nothing left after .dockerignore"
    for junk in (".venv/bin/python", "tests/durably/node_modules/x", ".git/HEAD", "gateway/__pycache__/x.pyc"):
        assert dockerignore_excludes(ignore, junk), f"{name}: .dockerignore lets {junk} into the context"


def test_gateway_image() -> None:
    df = Dockerfile.parse(DEPLOY / "Dockerfile")
    assert len({i.stage for i in df.all("FROM")}) >= 2, "multi-stage"
    # Python for the gateway; Node only to bundle the demo dashboard, whose files the final stage copies
    assert {i.args.split()[0] for i in df.all("FROM")} == {"python:3.11-slim", "node:20-slim"}
    assert df.all("FROM")[-1].args.split()[0] == "python:3.11-slim"
    copied = [i.args for i in df.all("COPY") if i.args.startswith("--from=dashboard")]
    assert copied and copied[-1].endswith("site-packages/gateway/demo/dashboard/dist")
    assert df.final("ENTRYPOINT")[-1].exec_form() == ["gateway"]
    assert df.final("CMD")[-1].exec_form() == ["serve"]
    assert df.final("EXPOSE")[-1].args == "8080"
    env = df.env()
    assert env["GATEWAY_LISTEN"] == "0.0.0.0:8080"
    assert (env["GATEWAY_POLICIES_DIR"].rstrip("/"), ["policies/"]) in [(d.rstrip("/"), s) for s, d in df.copies()]
    installs = " ".join(i.args for i in df.all("RUN"))
    assert "pip install ." in installs and "[dev]" not in installs
    check = df.final("HEALTHCHECK")[-1].args
    assert "/healthz" in check and "python" in check and "curl" not in check
    # the health check's program runs on this Python (the image has no curl)
    program = json.loads(check[check.index("[") :])[2]
    assert "urllib.request" in program
    compile(program, "HEALTHCHECK", "exec")


def test_durably_image() -> None:
    df = Dockerfile.parse(DEPLOY / "durably.Dockerfile")
    assert {i.args.split()[0] for i in df.all("FROM")} == {"node:20-slim"}
    runs = " ".join(i.args for i in df.all("RUN"))
    assert "npm ci" in runs and "better-sqlite3" in runs
    cmd = df.final("CMD")[-1].exec_form()
    assert cmd[:2] == ["node", "server.mjs"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert (ROOT / "tests/durably/server.mjs").read_text().count("args.host") == 1, "server.mjs reads --host"


def test_docs_cover_every_artifact() -> None:
    text = (ROOT / "docs/deploy.md").read_text()
    for needle in (
        "docker build",
        "docker compose",
        "kubectl apply -k",
        "render.sh",
        "GATEWAY_REDIS_URL",
        "GATEWAY_ASSERTION_KEYS_DIR",
        "_ADMIN_TOKEN",
        "pytest tests/deploy",
    ):
        assert needle in text, f"docs/deploy.md does not mention {needle}"
