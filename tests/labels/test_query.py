"""Query rewriting: every spelling of the organization filter goes, exactly one is added."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.labels import (
    LabelError,
    canonical_run_query,
    form_decode,
    rewrite_query,
    run_id_from_query,
)
from tests.support.labels import org_filters

KEY = "organizationId"
ORG = "org_a"
MINE = b"label.organizationId=org_a"


def durably_labels(raw: bytes) -> dict[str, str]:
    """Mirror of Durably's parseLabelsFromParams (URLSearchParams, last wins)."""
    labels: dict[str, str] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        decoded = form_decode(name)
        if decoded.startswith("label."):
            labels[decoded[6:]] = form_decode(value)
    return labels


POLLUTED = [
    ("plain", b"label.organizationId=org_b"),
    ("duplicate", b"label.organizationId=org_a&label.organizationId=org_b"),
    ("encoded dot", b"label%2EorganizationId=org_b"),
    ("encoded dot lower", b"label%2eorganizationId=org_b"),
    ("encoded letters", b"%6c%61%62%65%6c.%6frganizationId=org_b"),
    ("all encoded", b"%6C%61%62%65%6C%2E%6F%72%67%61%6E%69%7A%61%74%69%6F%6E%49%64=org_b"),
    ("double encoded", b"label%252EorganizationId=org_b"),
    ("upper case", b"LABEL.ORGANIZATIONID=org_b"),
    ("mixed case", b"label.OrganizationId=org_b"),
    ("bracket form", b"label[organizationId]=org_b"),
    ("encoded brackets", b"label%5BorganizationId%5D=org_b"),
    ("no value", b"label.organizationId"),
    ("empty value", b"label.organizationId="),
    ("plus space", b"label.organizationId+=org_b"),
    ("encoded space", b"%20label.organizationId=org_b"),
    ("value with amp", b"label.organizationId=org_b%26label.organizationId%3Dorg_c"),
]


@pytest.mark.parametrize(("name", "query"), POLLUTED, ids=[c[0] for c in POLLUTED])
def test_every_client_filter_is_replaced(name: str, query: bytes) -> None:
    out = rewrite_query(query + b"&status=failed", KEY, ORG)
    assert out == b"status=failed&" + MINE
    assert org_filters(out, KEY) == [ORG]
    assert durably_labels(out) == {KEY: ORG}


def test_other_params_kept_byte_for_byte_in_order() -> None:
    query = b"jobName=a%20b&label.env=prod&status=failed&label.organizationId=x&limit=5&offset=%31"
    out = rewrite_query(query, KEY, ORG)
    assert out == b"jobName=a%20b&label.env=prod&status=failed&limit=5&offset=%31&" + MINE
    assert durably_labels(out) == {"env": "prod", KEY: ORG}


@pytest.mark.parametrize(
    ("org", "encoded"),
    [("org a", b"org%20a"), ("a&b=c", b"a%26b%3Dc"), ("a+b", b"a%2Bb"), ("é", b"%C3%A9"), ("x%41", b"x%2541")],
)
def test_org_is_encoded_unambiguously(org: str, encoded: bytes) -> None:
    out = rewrite_query(b"", KEY, org)
    assert out == b"label.organizationId=" + encoded
    assert durably_labels(out) == {KEY: org}


def test_empty_and_degenerate_queries() -> None:
    assert rewrite_query(b"", KEY, ORG) == MINE
    assert rewrite_query(b"&&", KEY, ORG) == MINE
    with pytest.raises(ValueError):
        rewrite_query(b"", KEY, "")


def test_similar_but_different_labels_are_kept() -> None:
    query = b"label.organizationIds=x&label.organization=y&labels.organizationId=z"
    assert rewrite_query(query, KEY, ORG) == query + b"&" + MINE


query_bytes = st.lists(
    st.one_of(
        st.sampled_from([p for _, p in POLLUTED]),
        st.text(alphabet="abcdel.%+=[]2EeOoIi", max_size=24).map(str.encode),
        st.binary(max_size=16).filter(lambda b: b"&" not in b),
    ),
    max_size=8,
).map(lambda parts: b"&".join(parts))
orgs = st.text(min_size=1, max_size=20)


@given(query_bytes, orgs)
def test_property_exactly_one_filter_and_idempotent(query: bytes, org: str) -> None:
    out = rewrite_query(query, KEY, org)
    assert org_filters(out, KEY) == [org]
    assert durably_labels(out)[KEY] == org
    assert rewrite_query(out, KEY, org) == out


@given(query_bytes, orgs, orgs)
def test_property_rewrite_for_another_org_replaces(query: bytes, org: str, other: str) -> None:
    assert org_filters(rewrite_query(rewrite_query(query, KEY, other), KEY, org), KEY) == [org]


# --- run id ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "run_id"),
    [
        (b"runId=01ABC", "01ABC"),
        (b"x=1&runId=01ABC&y=2", "01ABC"),
        (b"run%49d=01ABC", "01ABC"),  # Durably decodes names once
        (b"runId=a+b%2Fc", "a b/c"),
        (b"runid=zzz&runId=01ABC", "01ABC"),  # different name: Durably ignores it
        (b"runId%2500=x&runId=01ABC", "01ABC"),
    ],
)
def test_run_id_extraction_matches_durably(query: bytes, run_id: str) -> None:
    assert run_id_from_query(query) == run_id


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (b"", "run_id_required"),
        (b"runId=", "run_id_required"),
        (b"runId", "run_id_required"),
        (b"runid=x", "run_id_required"),
        (b"runId=a&runId=b", "ambiguous_run_id"),
        (b"runId=a&run%49d=b", "ambiguous_run_id"),
        (b"runId=a&runId=a", "ambiguous_run_id"),
    ],
)
def test_run_id_refusals(query: bytes, code: str) -> None:
    with pytest.raises(LabelError) as err:
        run_id_from_query(query)
    assert (err.value.status, err.value.code) == (400, code)


@given(st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_property_canonical_run_query_round_trips(run_id: str) -> None:
    assert run_id_from_query(canonical_run_query(run_id)) == run_id
