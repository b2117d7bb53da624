"""One canonical path, decided once: table-driven corpus plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadRequest
from gateway.front.paths import canonical_path, is_canonical, quote_path

ACCEPTED: list[tuple[bytes, str]] = [
    (b"/", "/"),
    (b"/customer", "/customer"),
    (b"/customer/", "/customer/"),
    (b"/customer/api/durably/runs", "/customer/api/durably/runs"),
    (b"/Customer/API", "/Customer/API"),  # case preserved
    (b"/a/%41%42", "/a/AB"),  # encoded unreserved decoded
    (b"/a/%7e", "/a/~"),
    (b"/a/b%20c", "/a/b c"),
    (b"/caf%C3%A9", "/caf\u00e9"),
    (b"/caf\xc3\xa9", "/caf\u00e9"),  # raw UTF-8
    (b"/a/...", "/a/..."),  # three dots is a name, not a dot segment
    (b"/a/.hidden", "/a/.hidden"),
    (b"/a/..b", "/a/..b"),
    (b"/a/b.", "/a/b."),
    (b"/a/%3F", "/a/?"),  # encoded ? is data
    (b"/a/%23", "/a/#"),
    (b"/a/b:c@d", "/a/b:c@d"),
    (b"/a/b+c", "/a/b+c"),
    (b"/.well-known/jwks.json", "/.well-known/jwks.json"),
    (b"/a/%E2%82%AC", "/a/\u20ac"),
]

REJECTED: list[tuple[bytes, str]] = [
    (b"", "empty target"),
    (b"*", "asterisk form"),
    (b"http://evil.example/x", "absolute form"),
    (b"@evil.example/x", "userinfo-like"),
    (b"evil/x", "relative"),
    (b"/a/../b", "plain dot-dot"),
    (b"/a/./b", "plain dot"),
    (b"/..", "leading dot-dot"),
    (b"/a/..", "trailing dot-dot"),
    (b"/a/.", "trailing dot"),
    (b"/a/%2e%2e/b", "encoded dot-dot"),
    (b"/a/%2E%2E/b", "encoded dot-dot upper"),
    (b"/a/.%2e/b", "half encoded dot-dot"),
    (b"/a/%2e./b", "other half encoded dot-dot"),
    (b"/a/%2e/b", "encoded dot"),
    (b"/a/%252e%252e/b", "double-encoded dot-dot"),
    (b"/a/%25", "encoded percent"),
    (b"/a/%2fb", "encoded slash"),
    (b"/a/%2Fb", "encoded slash upper"),
    (b"/a/%252fb", "double-encoded slash"),
    (b"/a\\b", "backslash"),
    (b"/a/%5cb", "encoded backslash"),
    (b"/a/%5Cb", "encoded backslash upper"),
    (b"/a/..\\b", "dot-dot backslash"),
    (b"/a\x00b", "raw NUL"),
    (b"/a/%00", "encoded NUL"),
    (b"/a/%0a", "encoded LF"),
    (b"/a/%0D%0A", "encoded CRLF"),
    (b"/a/%7f", "encoded DEL"),
    (b"/a/%c2%85", "encoded C1 control"),
    (b"/a\tb", "raw tab"),
    (b"/a b", "raw space"),
    (b"//evil.example/x", "leading double slash"),
    (b"/a//b", "empty segment"),
    (b"/a/b//", "trailing double slash"),
    (b"/a;b", "matrix params"),
    (b"/a/b;jsessionid=1", "jsessionid"),
    (b"/a/..;/b", "tomcat dot-dot-semicolon"),
    (b"/a/%3bb", "encoded semicolon"),
    (b"/a/%", "lone percent"),
    (b"/a/%2", "short escape"),
    (b"/a/%zz", "non-hex escape"),
    (b"/a/%g0", "non-hex escape first digit"),
    (b"/a/%ff", "invalid UTF-8"),
    (b"/a/%c0%ae%c0%ae/b", "overlong UTF-8 dot"),
    (b"/a/\xff", "raw invalid UTF-8"),
    (b"/a#frag", "fragment"),
    (b"/a?b", "query in raw path"),
    (b"/\xef\xbc\x8e\xef\xbc\x8e/x", "fullwidth dot-dot (NFKC)"),
    (b"/a%EF%BC%8Fb", "fullwidth solidus (NFKC)"),
    (b"/a/%EF%B9%A8b", "small reverse solidus (NFKC)"),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED, ids=[r.decode("latin-1") for r, _ in ACCEPTED])
def test_accepted_paths_decode_to_one_canonical_form(raw: bytes, expected: str) -> None:
    assert canonical_path(raw) == expected


@pytest.mark.parametrize(("raw", "why"), REJECTED, ids=[why for _, why in REJECTED])
def test_ambiguous_paths_are_400(raw: bytes, why: str) -> None:
    with pytest.raises(BadRequest) as info:
        canonical_path(raw)
    assert info.value.status == 400
    assert info.value.reason == "ambiguous_path"
    assert info.value.description


def test_corpus_is_large() -> None:
    assert len(ACCEPTED) + len(REJECTED) >= 60


def test_quote_path_encodes_what_must_not_appear_raw() -> None:
    assert quote_path("/a/b c/?#/\u00e9") == "/a/b%20c/%3F%23/%C3%A9"
    assert quote_path("/a/b:c@d+e") == "/a/b:c@d+e"


def test_is_canonical() -> None:
    assert is_canonical("/api/durably/runs")
    assert not is_canonical("/api/../x")
    assert not is_canonical("/api//x")
    assert not is_canonical("/api/%2e")


segment_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="/\\;%"),
    min_size=1,
    max_size=8,
)


@given(st.lists(segment_text, min_size=0, max_size=6))
def test_round_trip(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    try:
        canonical = canonical_path(quote_path(path).encode("ascii"))
    except BadRequest:
        return  # dot segments or NFKC look-alikes: rejected, never rewritten
    assert canonical == path
    assert canonical_path(quote_path(canonical).encode("ascii")) == canonical


@given(st.binary(max_size=40))
def test_canonical_paths_are_never_ambiguous(tail: bytes) -> None:
    try:
        path = canonical_path(b"/" + tail)
    except BadRequest:
        return
    segments = path.split("/")[1:]
    assert "." not in segments and ".." not in segments
    assert "//" not in path and "\x00" not in path and "\\" not in path and ";" not in path
    assert canonical_path(quote_path(path).encode("ascii")) == path


@given(st.lists(st.sampled_from(["a", "..", ".", "%2e", "%2E%2e", "%2f", "%252e", "b", ";", "%00", "\\"]), max_size=6))
def test_dot_and_slash_tricks_never_pass(parts: list[str]) -> None:
    raw = ("/" + "/".join(parts)).encode()
    try:
        path = canonical_path(raw)
    except BadRequest:
        return
    assert set(path.split("/")[1:]) <= {"a", "b", ""}
    assert path == "/" or "" not in path.split("/")[1:]
