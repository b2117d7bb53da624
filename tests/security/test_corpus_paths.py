"""Attack classes "Path confusion" and "Upstream URL building".

Every target is sent byte-for-byte over a raw socket (httpx would resolve `..`,
re-encode or refuse most of them). Ambiguous targets are 400 with nothing forwarded;
unambiguous ones reach the upstream as exactly the canonical path the gateway
authorized, re-encoded, at the upstream's configured host.
"""

from __future__ import annotations

import pytest

from tests.security.support import ALICE, Case, Expect, Sec, check_case, ids

OK = {**ALICE}


def bad(case_id: str, target: str, status: int = 400, **kw: object) -> Case:
    """An ambiguous target from an authenticated caller: refused, nothing forwarded."""
    return Case(case_id, "GET", target, who="alice", status=status, **kw)  # type: ignore[arg-type]


def good(case_id: str, target: str, upstream: str, **kw: object) -> Case:
    """An unambiguous target: forwarded as exactly `upstream` with alice's identity."""
    return Case(case_id, "GET", target, who="alice", expect=Expect(upstream, identity=OK), **kw)  # type: ignore[arg-type]


PATH_CONFUSION = [
    # dot segments, plain and encoded in every case and mix
    bad("dot-plain", "/customer/echo/./a"),
    bad("dotdot-plain", "/customer/echo/../echo/a"),
    bad("dotdot-to-other-tenant", "/customer/../admin/customers/x"),
    bad("dotdot-leading", "/../customer/echo/a"),
    bad("dotdot-trailing", "/customer/echo/a/.."),
    bad("dot-trailing", "/customer/echo/a/."),
    bad("dot-enc-lower", "/customer/echo/%2e/a"),
    bad("dot-enc-upper", "/customer/echo/%2E/a"),
    bad("dotdot-enc-lower", "/customer/echo/%2e%2e/a"),
    bad("dotdot-enc-upper", "/customer/echo/%2E%2E/a"),
    bad("dotdot-enc-mixed-1", "/customer/echo/.%2e/a"),
    bad("dotdot-enc-mixed-2", "/customer/echo/%2e./a"),
    bad("dotdot-enc-mixed-case", "/customer/echo/%2E%2e/a"),
    bad("dotdot-enc-to-admin", "/customer/%2e%2e/admin/customers/x"),
    bad("dotdot-double-enc", "/customer/echo/%252e%252e/a"),
    bad("dotdot-double-enc-upper", "/customer/echo/%252E%252E/a"),
    bad("dot-double-enc", "/customer/echo/%252e/a"),
    bad("dotdot-triple-enc", "/customer/echo/%25252e%25252e/a"),
    bad("dotdot-enc-slash", "/customer/echo/..%2fa"),
    bad("dotdot-enc-slash-upper", "/customer/echo/..%2Fa"),
    bad("dotdot-enc-all", "/customer/echo/%2e%2e%2fa"),
    bad("dotdot-unicode-u", "/customer/echo/%u002e%u002e/a"),
    bad("dotdot-overlong-utf8", "/customer/echo/%c0%ae%c0%ae/a"),
    bad("dotdot-fullwidth", "/customer/echo/%EF%BC%8E%EF%BC%8E/a"),
    bad("fullwidth-slash", "/customer/echo/a%EF%BC%8Fb"),
    bad("dotdot-one-of-many", "/customer/echo/a/b/c/../../../../admin"),
    # encoded slash and empty segments
    bad("enc-slash-lower", "/customer/echo/a%2fb"),
    bad("enc-slash-upper", "/customer/echo/a%2Fb"),
    bad("enc-slash-double", "/customer/echo/a%252fb"),
    bad("double-slash-mid", "/customer//echo/a"),
    bad("double-slash-lead", "//customer/echo/a"),
    bad("double-slash-tail", "/customer/echo/a//"),
    bad("triple-slash", "/customer/echo///a"),
    # matrix parameters
    bad("semicolon", "/customer/echo/a;x=1"),
    bad("semicolon-enc", "/customer/echo/a%3bx=1"),
    bad("semicolon-enc-upper", "/customer/echo/a%3Bx=1"),
    bad("semicolon-dotdot", "/customer/echo/..;/a"),
    bad("semicolon-tenant", "/customer;/echo/a"),
    # backslash
    bad("backslash", "/customer/echo\\a"),
    bad("backslash-enc", "/customer/echo/a%5cb"),
    bad("backslash-enc-upper", "/customer/echo/a%5Cb"),
    bad("backslash-dotdot", "/customer/echo/..\\a"),
    bad("backslash-dotdot-enc", "/customer/echo/..%5ca"),
    # NUL and control characters
    bad("nul-enc", "/customer/echo/a%00"),
    bad("nul-enc-mid", "/customer/echo/a%00.json"),
    bad("tab-enc", "/customer/echo/a%09"),
    bad("crlf-enc-header-injection", "/customer/echo/a%0d%0aX-Org-Id:%20evil"),
    bad("del-enc", "/customer/echo/a%7f"),
    bad("c1-control-enc", "/customer/echo/a%c2%85"),
    # malformed escapes and encodings
    bad("pct-alone", "/customer/echo/a%"),
    bad("pct-one-digit", "/customer/echo/a%2"),
    bad("pct-non-hex", "/customer/echo/a%zz"),
    bad("invalid-utf8", "/customer/echo/%ff"),
    bad("pct-25", "/customer/echo/100%25"),
    # raw bytes httptools rejects before the app
    bad("raw-nul", "/customer/echo/a\x00b"),
    bad("raw-space", "/customer/echo/a b"),
    bad("raw-utf8", "/customer/echo/caf\xc3\xa9"),
    # targets that do not start with '/'
    bad("target-at-host", "@evil.example/x"),
    bad("target-bare-host", "evil.example/customer/echo/a"),
    bad("target-asterisk", "*"),
    bad("target-question", "?x=1"),
    bad("target-empty-authority", "http:///customer/echo/a"),
    # case and prefix boundaries: another route or none, never this one
    bad("case-tenant", "/Customer/echo/a", status=404),
    bad("case-route", "/customer/Echo/a", status=404),
    bad("case-upper-all", "/CUSTOMER/ECHO/A", status=404),
    bad("prefix-no-boundary-tenant", "/customerx/echo/a", status=404),
    bad("prefix-no-boundary-route", "/customer/echox/a", status=404),
    bad("prefix-admin-no-boundary", "/adminx/customers/x", status=404),
    # canonical (unambiguous) targets reach the upstream decoded then re-encoded
    good("baseline", "/customer/echo/a", "/echo/a"),
    good("baseline-query", "/customer/echo/a?x=1&y=2", "/echo/a?x=1&y=2"),
    good("prefix-itself", "/customer/echo", "/echo"),
    good("trailing-slash-kept", "/customer/echo/a/", "/echo/a/"),
    good("unreserved-decoded", "/customer/echo/%61%62", "/echo/ab"),
    good("tenant-encoded", "/%63ustomer/echo/a", "/echo/a"),
    good("tilde-decoded", "/customer/echo/%7Euser", "/echo/~user"),
    good("space-reencoded", "/customer/echo/a%20b", "/echo/a%20b"),
    good("question-stays-encoded", "/customer/echo/a%3Fb", "/echo/a%3Fb"),
    good("hash-stays-encoded", "/customer/echo/a%23b", "/echo/a%23b"),
    good("utf8-reencoded", "/customer/echo/caf%C3%A9", "/echo/caf%C3%A9"),
    good("three-dots-literal", "/customer/echo/...", "/echo/..."),
    good("dotfile", "/customer/echo/.hidden", "/echo/.hidden"),
    good("dots-inside-name", "/customer/echo/a..b", "/echo/a..b"),
    bad("fragment-refused", "/customer/echo/a#/../../admin"),
    good("query-dots-untouched", "/customer/echo/a?p=../../admin&q=%2e%2e", "/echo/a?p=../../admin&q=%2e%2e"),
    good("query-slashes-untouched", "/customer/echo/a?next=//evil.example/x", "/echo/a?next=//evil.example/x"),
    good("plus-literal", "/customer/echo/a+b", "/echo/a+b"),
    bad("absolute-form-refused", "http://evil.example/customer/echo/a"),
    bad("absolute-form-https-refused", "https://evil.example:443/customer/echo/a?x=1"),
    good("host-routed", "/echo/a", "/echo/a", host="customer.example"),
    bad("host-routed-other-tenant-prefix-stays", "/admin/customers/x", status=404, host="customer.example"),
]

UPSTREAM_URL = [
    bad("url-scheme-relative", "//127.0.0.1:1/x"),
    bad("url-scheme-relative-in-route", "/customer/echo//127.0.0.1:1/x"),
    bad("url-absolute-in-route", "/customer/echo/http://evil.example/x"),
    bad("url-absolute-enc-slashes", "/customer/echo/http:%2f%2fevil.example/x"),
    bad("url-backslash-host", "/customer/echo/\\\\evil.example/x"),
    bad("url-dotdot-host", "/customer/echo/../../evil.example/x"),
    good("url-at-segment", "/customer/echo/@evil.example", "/echo/@evil.example"),
    good("url-userinfo-like", "/customer/echo/user:pass@evil.example/x", "/echo/user:pass@evil.example/x"),
    good("url-colon-segment", "/customer/echo/:@evil.example", "/echo/:@evil.example"),
    good("url-query-at", "/customer/echo/a?@evil.example/", "/echo/a?@evil.example/"),
    good("url-query-authority", "/customer/echo/a?x=http://evil.example", "/echo/a?x=http://evil.example"),
    good("url-host-header-evil", "/customer/echo/a", "/echo/a", host="evil.example"),
    good("url-host-header-upstream-port", "/customer/echo/a", "/echo/a", host="127.0.0.1:1"),
    bad("url-absolute-form-at", "http://user@evil.example/customer/echo/a"),
    bad("url-absolute-form-port", "http://127.0.0.1:1/customer/echo/a"),
]


@pytest.mark.parametrize("case", PATH_CONFUSION, ids=ids(PATH_CONFUSION))
def test_path_confusion(sec: Sec, case: Case) -> None:
    check_case(sec, case)


@pytest.mark.parametrize("case", UPSTREAM_URL, ids=ids(UPSTREAM_URL))
def test_upstream_url_building(sec: Sec, case: Case) -> None:
    check_case(sec, case)
