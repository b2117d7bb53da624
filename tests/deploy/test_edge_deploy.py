"""deploy/: edge mode in docker compose (`edge-config` renders, the official nginx image serves)
and in Kubernetes (deploy/k8s/edge: nginx beside the gateway in the pod, its configuration
rendered by an init container).

Without a Docker engine or a cluster: the configuration each renders from its gateway's
environment and policies is rendered here too (`--no-resolve`: their service names resolve only
there) and accepted by `nginx -t`; the two sides line up (ports, addresses, volumes, trust); the
Kubernetes variant, as kustomize renders it, validates against the Kubernetes schemas.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from gateway.config.settings import parse_listen
from tests.deploy.test_deploy import (
    COMPOSE,
    K8S_VERSION,
    Obj,
    Rendered,
    compose_gateway_env,
    deployment_env,
    kustomize,
    load_one,
    mounted_volumes,
    prepared,
)
from tests.support.processes import ROOT

OFFICIAL_NGINX = re.compile(r"nginx:\d+\.\d+\.\d+")


def render(env: dict[str, str], args: list[str], tmp_path: Path) -> str:
    """What `gateway edge nginx ARGS` writes for `env` (names resolved nowhere: --no-resolve)."""
    out = tmp_path / "default.conf"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *_without_out(args), "--no-resolve", "--out", str(out)],
        env=clean | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out.read_text()


def _without_out(args: list[str]) -> list[str]:
    if "--out" not in args:
        return args
    i = args.index("--out")
    return args[:i] + args[i + 2 :]


def nginx_accepts(conf: str, tmp_path: Path) -> None:
    """`nginx -t` on `conf` as an http include, its upstream names and cache moved onto this machine."""
    local = re.sub(r"server [a-z][a-z0-9.-]*:(\d+);", r"server 127.0.0.1:\1;", conf)
    local = local.replace("/var/cache/nginx/ory-gateway", str(tmp_path / "cache"))
    (tmp_path / "edge.conf").write_text(local)
    main = tmp_path / "main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/edge.conf;\n}}\n"
    )
    args = ["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# --- docker compose -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Obj:
    return load_one(COMPOSE)


def test_compose_edge_renders_with_the_gateways_environment_and_nginx_accepts_it(compose: Obj, tmp_path: Path) -> None:
    services = compose["services"]
    renderer, edge, gateway = services["edge-config"], services["edge"], services["gateway"]
    assert renderer["environment"] == gateway["environment"]
    assert renderer.get("image") == gateway["image"] and renderer["read_only"] is True
    conf = render(compose_gateway_env(compose), renderer["command"], tmp_path)
    nginx_accepts(conf, tmp_path)
    args = renderer["command"]
    # nginx listens where compose publishes it, reaches the gateway where it listens
    listen = args[args.index("--listen") + 1]
    assert {p.rsplit(":", 1)[1] for p in edge["ports"]} == {listen}
    assert f"listen {listen} default_server;" in conf
    host, port = args[args.index("--gateway") + 1].split(":")
    assert host == "gateway" and int(port) == parse_listen(compose_gateway_env(compose)["GATEWAY_LISTEN"])[1]  # type: ignore[index]
    assert args[args.index("--trusted-proxies") + 1] == ""  # clients reach nginx directly
    assert "geo $edge_trusted_peer" not in conf
    # the rendered file is what nginx reads
    out = Path(args[args.index("--out") + 1])
    written = {v.split(":")[0]: v.split(":")[1] for v in renderer["volumes"]}
    read = {v.split(":")[0]: v.split(":")[1] for v in edge["volumes"]}
    assert written.keys() == read.keys() and read[next(iter(read))] == "/etc/nginx/conf.d"
    assert written[next(iter(written))] == str(out.parent) and out.name.endswith(".conf")
    assert edge["depends_on"]["edge-config"]["condition"] == "service_completed_successfully"


def test_compose_edge_is_the_official_nginx_the_gateway_trusts_with_its_cache_in_memory(compose: Obj) -> None:
    edge = compose["services"]["edge"]
    assert OFFICIAL_NGINX.fullmatch(edge["image"]), edge["image"]
    address = edge["networks"]["default"]["ipv4_address"]
    assert compose_gateway_env(compose)["GATEWAY_TRUSTED_PROXIES"] == f"{address}/32"
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert address.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]
    assert "/var/cache/nginx" in edge["tmpfs"]
    volume = compose["volumes"]["edge-config"]["driver_opts"]
    assert volume["type"] == "tmpfs" and "uid=10001" in volume["o"]  # the gateway image's user writes it


# --- Kubernetes -----------------------------------------------------------------------------------------------------


def strategic_merge(base: Any, patch: Any) -> Any:
    """kustomize's strategic merge for the shapes the edge patches use: maps merge, lists of maps
    merge by `name` (containers, volumes, ports), other values are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        items = [copy.deepcopy(i) for i in base]
        for item in patch:
            at = next((n for n, i in enumerate(items) if i.get("name") == item["name"]), None)
            items.append(copy.deepcopy(item)) if at is None else items.__setitem__(at, strategic_merge(items[at], item))
        return items
    return copy.deepcopy(patch)


def kustomize_edge(folder: Path) -> Rendered:
    """deploy/k8s/edge as kustomize renders it: the base, then each patch on its object."""
    kust = load_one(folder / "kustomization.yaml")
    assert kust["resources"] == ["../"]
    base = kustomize(folder.parent)
    objects = list(base.objects)
    for entry in kust["patches"]:
        patch = load_one(folder / entry["path"])
        at = next(
            n
            for n, o in enumerate(objects)
            if (o["kind"], o["metadata"]["name"]) == (patch["kind"], patch["metadata"]["name"])
        )
        objects[at] = strategic_merge(objects[at], patch)
    return Rendered(folder, objects)


@pytest.fixture(scope="module")
def edge_pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    """deploy/k8s prepared as for the base, then its edge variant rendered."""
    yield kustomize_edge(prepared(tmp_path_factory) / "edge")


def pod(r: Rendered) -> Obj:
    spec: Obj = r.one("Deployment", "gateway")["spec"]["template"]["spec"]
    return spec


def test_edge_variant_validates_against_the_kubernetes_schemas(edge_pod: Rendered) -> None:
    for obj in edge_pod.objects:
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc}")
    names = [c["name"] for c in pod(edge_pod)["containers"]]
    assert names == ["gateway", "edge"] and [c["name"] for c in pod(edge_pod)["initContainers"]] == ["edge-config"]


def test_edge_variant_sends_clients_to_nginx_beside_the_gateway(edge_pod: Rendered) -> None:
    spec = pod(edge_pod)
    gateway, nginx = spec["containers"]
    assert OFFICIAL_NGINX.fullmatch(nginx["image"]), nginx["image"]
    ports = {p["name"]: p["containerPort"] for p in nginx["ports"]}
    service = {p["name"]: p["targetPort"] for p in edge_pod.one("Service", "gateway")["spec"]["ports"]}
    assert service == {"http": "edge", "metrics": "metrics"} and "edge" in ports
    init = spec["initContainers"][0]
    assert init["image"] == gateway["image"] and init["envFrom"] == gateway["envFrom"]
    args = init["args"]
    assert args[:2] == ["edge", "nginx"] and args[args.index("--listen") + 1] == str(ports["edge"])
    # what the init container writes is what nginx reads; its cache and run files in memory
    volumes = {v["name"]: v for v in spec["volumes"]}
    written = next(m for m in init["volumeMounts"] if m["mountPath"] == str(Path(args[args.index("--out") + 1]).parent))
    read = {m["mountPath"]: m for m in nginx["volumeMounts"]}
    assert read["/etc/nginx/conf.d"]["name"] == written["name"] and read["/etc/nginx/conf.d"]["readOnly"] is True
    assert volumes[read["/var/cache/nginx"]["name"]]["emptyDir"]["medium"] == "Memory"
    assert (
        nginx["securityContext"]["readOnlyRootFilesystem"] is True and spec["securityContext"]["runAsNonRoot"] is True
    )
    assert nginx["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "edge"}


def test_edge_variant_renders_from_the_pods_environment_and_nginx_accepts_it(
    edge_pod: Rendered, tmp_path: Path
) -> None:
    env = deployment_env(edge_pod)
    assert "127.0.0.1/32" in env["GATEWAY_TRUSTED_PROXIES"].split(",")  # the gateway believes nginx beside it
    mounts = mounted_volumes(edge_pod, tmp_path / "mounts")
    env = env | {k: str(mounts[v]) for k, v in env.items() if v in mounts}
    init = pod(edge_pod)["initContainers"][0]
    conf = render(env, init["args"], tmp_path)
    nginx_accepts(conf, tmp_path)
    assert "server 127.0.0.1:8080;" in conf  # the gateway's GATEWAY_LISTEN, on loopback
    assert "geo $edge_trusted_peer {\n    default 0;\n    10.0.0.0/8 1;\n}" in conf  # the ingress, not nginx itself
    upstreams = {urlsplit(u).hostname for k, u in env.items() if k.startswith("GATEWAY_UPSTREAM_")}
    assert {h for h in re.findall(r"server ([a-z][a-z0-9.-]*):\d+;", conf)} <= upstreams
