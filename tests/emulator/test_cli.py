"""The command line: --help, bad --listen, seed errors (one line per problem, exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BAD_SEED = """
projects:
  customer:
    api_key: 12
    session_lifespan: forever
    access_token_strategy: magic
    colour: blue
    identities:
      - id: not-a-uuid
        traits: {email: a@example.com}
      - traits: "just a string"
      - traits: {email: b@example.com}
        password: pw
        organization_id: org-a
    clients:
      - client_id: short
        client_secret: "123"
      - scope: 5
  Bad_Name: {}
"""


def _run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.emulator", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_help_mentions_in_memory_and_cookie() -> None:
    result = _run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "IN-MEMORY" in text and "ory_session_" in text and "--seed" in text and "--api-key" in text


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:99999", ":80", "host:port"])
def test_bad_listen(listen: str) -> None:
    result = _run("--listen", listen, "--project", "x")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_projects_and_bad_project_name() -> None:
    none = _run("--listen", "127.0.0.1:4999")
    assert none.returncode == 2 and "no projects" in none.stderr
    bad = _run("--project", "Not_Valid")
    assert bad.returncode == 2 and "invalid project name" in bad.stderr


def test_bad_seed_structure(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(BAD_SEED)
    result = _run("--seed", str(seed))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"gateway emulate: error: {seed}: ") for line in lines)
    text = "\n".join(lines)
    for expected in (
        "projects.customer.api_key: must be a string",
        "projects.customer.session_lifespan:",
        "projects.customer.access_token_strategy: must be 'opaque' or 'jwt'",
        "projects.customer: unknown key 'colour'",
        "projects.Bad_Name: invalid project name",
    ):
        assert expected in text, text
    assert "identities[0].id: must be a UUID" in text  # records are checked too, in the same run
    assert len(lines) == 10


def test_bad_seed_records(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        BAD_SEED.replace("    api_key: 12\n", "")
        .replace("    session_lifespan: forever\n", "")
        .replace("    access_token_strategy: magic\n", "")
        .replace("    colour: blue\n", "")
        .replace("  Bad_Name: {}\n", "")
    )
    result = _run("--seed", str(seed))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    text = result.stderr
    for expected in (
        "identities[0].id: must be a UUID",
        "identities[1]: traits must be a JSON object",
        "identities[2]: organization_id must be a UUID or null",
        "clients[0]: Field client_secret must contain a secret that is at least 6 characters long.",
        "clients[1]: Field scope must be a string.",
    ):
        assert expected in text, text
    assert len(text.strip().splitlines()) == 5


def test_bad_seed_relationships(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        """
projects:
  customer:
    namespaces: [Organization, Organization, "not ok"]
  dealer:
    namespaces: [Organization]
    relationships:
      - {namespace: Organization, object: o, relation: member}
      - {namespace: Group, object: g, relation: member, subject_id: x}
      - {namespace: Organization, object: o, relation: member, subject_id: x, colour: red}
      - namespace: Organization
        object: o
        relation: member
        subject_set: {namespace: Group, object: g, relation: member}
"""
    )
    result = _run("--seed", str(seed))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    text = result.stderr
    for expected in (
        "projects.customer.namespaces: must be a list of namespace names",
        "projects.dealer.relationships[0]: subject is not allowed to be nil",
        'projects.dealer.relationships[1]: Unknown namespace with name "Group". (namespaces: Organization)',
        "projects.dealer.relationships[2]: unknown key 'colour'",
        'projects.dealer.relationships[3]: Unknown namespace with name "Group".',
    ):
        assert expected in text, text
    assert len(text.strip().splitlines()) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("projects: [1, 2", "not valid YAML"),
        ("- just\n- a list\n", "the top level must be a mapping with a 'projects' mapping"),
    ],
)
def test_unparsable_seed(tmp_path: Path, content: str, message: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(content)
    result = _run("--seed", str(seed))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_seed_file(tmp_path: Path) -> None:
    result = _run("--seed", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2 and "cannot read seed file" in result.stderr


def test_add_arguments_and_run_build_in_process(tmp_path: Path) -> None:
    import argparse

    from gateway.emulator import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--listen", "127.0.0.1:4460", "--project", "a", "--project", "b-c"])
    emulator, host, port = cli.build(args)
    assert (host, port) == ("127.0.0.1", 4460)
    assert emulator.projects["b-c"].base_url == "http://127.0.0.1:4460/b-c"
    assert emulator.projects["b-c"].config.cookie_name == "ory_session_bc"
    assert cli.run(parser.parse_args(["--listen", "bad"])) == 2


def test_busy_port_is_one_line() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run("--listen", f"127.0.0.1:{port}", "--project", "x")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"gateway emulate: error: --listen: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_shipped_example_seed_is_valid() -> None:
    from gateway.emulator.seed import apply_seed, load_seed
    from gateway.emulator.state import Emulator

    path = Path(__file__).resolve().parents[2] / "gateway" / "emulator" / "example-seed.yaml"
    seeds, errors = load_seed(path, "ory_pat_x")
    emulator = Emulator(base_url="http://127.0.0.1:1")
    assert errors == [] and apply_seed(emulator, path, seeds) == []
    assert emulator.projects["dealer"].config.cookie_name == "dealer_session"
    assert emulator.projects["dealer"].config.access_token_lifespan == 900
