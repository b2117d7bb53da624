"""One canonical request path, decided once.

`canonical_path` turns the raw request target (ASGI ``scope["raw_path"]``, no
query) into the decoded path that is matched, authorized and - re-encoded with
`quote_path` - forwarded. Anything that two parsers could read two ways is a
400 (`BadRequest`, reason ``ambiguous_path``) instead of a guess:

- a target that does not start with ``/`` (absolute-form URLs, ``@host``, ``*``)
- dot segments ``.`` / ``..``, plain or percent-encoded in any case
- an encoded slash ``%2F``, a backslash or ``%5C``, ``;`` or ``%3B`` (matrix params)
- ``%25`` (an encoded percent means double encoding, e.g. ``%252e``)
- empty segments (``//``), ``#``, NUL and other control characters, raw or encoded
- malformed escapes (``%`` not followed by two hex digits) and non-UTF-8 bytes
- non-ASCII text whose NFKC form would hide one of the above (``\\uff0e\\uff0e``)

Case is preserved: paths are case-sensitive. A trailing ``/`` is kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import quote, unquote_to_bytes

from gateway.errors import BadRequest

REASON = "ambiguous_path"

# Checked on the raw bytes: things decoding would hide or that are never valid.
_RAW_BAD = re.compile(rb"[\x00-\x20\x7f\\;#?]|%(?![0-9A-Fa-f]{2})|%2[fF]")
# Checked on the decoded text: `%` left after decoding means `%25` was sent.
_TEXT_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\\;%]|//|(?:^|/)\.{1,2}(?:/|$)")
# Re-encoding keeps RFC 3986 pchars except `;` (rejected anyway) readable.
_SAFE = "/!$&'()*+,=:@-._~"


def canonical_path(raw_path: bytes) -> str:
    """The decoded canonical path of `raw_path`, or `BadRequest` if it is ambiguous."""
    if not raw_path.startswith(b"/"):
        raise _bad("the request target must be an absolute path starting with '/'")
    found = _RAW_BAD.search(raw_path)
    if found is not None:
        raise _bad(f"the path contains {_describe(found.group().decode('latin-1'))}")
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the path is not valid UTF-8 after decoding") from None
    _check_text(path)
    if not path.isascii():
        _check_compat(path)
    return path


@functools.lru_cache(maxsize=4096)  # the same few paths again and again; urllib's quote is pure Python
def quote_path(path: str) -> str:
    """Percent-encode a canonical path for the upstream request line."""
    return quote(path, safe=_SAFE)


def is_canonical(path: str) -> bool:
    """True if `path` is already canonical (what policy patterns must be)."""
    try:
        return canonical_path(quote_path(path).encode("ascii")) == path
    except BadRequest:
        return False


def _check_compat(path: str) -> None:
    """Upstreams that apply NFKC must not see other segments than we matched."""
    folded = unicodedata.normalize("NFKC", path)
    if folded.count("/") != path.count("/"):
        raise _bad("the path contains a character that normalizes to '/'")
    _check_text(folded)


def _check_text(path: str) -> None:
    found = _TEXT_BAD.search(path)
    if found is None:
        return
    text = found.group()
    if text == "%":
        raise _bad("the path is double-encoded (%25)")
    if text == "//":
        raise _bad("the path contains an empty segment (//)")
    if "." in text:
        raise _bad("the path contains a dot segment")
    raise _bad(f"the path contains {_describe(text)}")


def _describe(found: str) -> str:
    if found.lower() == "%2f":
        return "an encoded slash (%2F)"
    if found.startswith("%"):
        return "a malformed percent escape"
    names = {"\\": "a backslash", ";": "';' (matrix parameters)", "#": "'#'", "?": "'?'"}
    return names.get(found, f"a control or space character (U+{ord(found[0]):04X})")


def _bad(description: str) -> BadRequest:
    return BadRequest(description, reason=REASON)
