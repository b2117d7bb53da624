"""Incremental filter for Server-Sent Events streams of run events.

Durably frames every event as ``data: <one-line JSON>\\n\\n`` with a ``labels``
object; the filter is written for any valid SSE framing (LF, CRLF or CR line
ends, multi-line ``data``, ``event``/``id``/``retry`` fields, ``:`` comments)
because chunk boundaries fall anywhere.

Rules, per event (the lines up to a blank line):
* no ``data`` field (comments, keep-alives, ``retry:``): passed through;
* ``data`` that is a JSON object whose ``labels[key] == org``: passed through,
  byte-for-byte;
* anything else (another organization, no labels, not JSON): dropped.
An incomplete event at the end of the stream is discarded, as SSE clients do.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.labels.errors import bad_upstream
from gateway.labels.responses import run_belongs_to

_LINE_END = re.compile(rb"\r\n|\r|\n")
DEFAULT_MAX_EVENT_BYTES = 1 << 20


class SseLabelFilter:
    def __init__(self, key: str, org: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if not org:
            raise ValueError("organization must be non-empty")
        self.key = key
        self.org = org
        self.max_event_bytes = max_event_bytes
        self.passed = 0  # events forwarded
        self.dropped = 0  # events withheld (for metrics and tests)
        self._buf = bytearray()
        self._event = bytearray()
        self._data: list[bytes] = []
        self._has_data = False

    @property
    def between_events(self) -> bool:
        """No part of an event (or of a line) is held back: what was passed on ends with a
        whole event, so a comment written downstream now cannot land inside one."""
        return not self._buf and not self._event

    def feed(self, chunk: bytes) -> bytes:
        """Bytes to send downstream for this chunk (possibly empty)."""
        self._buf += chunk
        out = bytearray()
        pos = 0
        while (m := _LINE_END.search(self._buf, pos)) is not None:
            if m.group() == b"\r" and m.end() == len(self._buf):
                break  # may be the first half of a CRLF split across chunks
            self._line(bytes(self._buf[pos : m.start()]), bytes(self._buf[pos : m.end()]), out)
            pos = m.end()
        del self._buf[:pos]
        if len(self._buf) + len(self._event) > self.max_event_bytes:
            raise bad_upstream("sse_event_too_large", "an upstream event exceeds the size limit")
        return bytes(out)

    def flush(self) -> bytes:
        """End of stream: a lone trailing CR still ends a line; partial events are discarded."""
        out = bytearray()
        if self._buf.endswith(b"\r"):
            self._line(bytes(self._buf[:-1]), bytes(self._buf), out)
        self._buf.clear()
        self._reset()
        return bytes(out)

    def _line(self, line: bytes, raw: bytes, out: bytearray) -> None:
        if line:
            self._event += raw
            self._field(line)
            return
        if not self._event:
            out += raw  # a blank line with no event: harmless, keeps framing as sent
        elif self._accept():
            self.passed += 1
            out += self._event + raw
        else:
            self.dropped += 1
        self._reset()

    def _field(self, line: bytes) -> None:
        if line.startswith(b":"):
            return
        name, colon, value = line.partition(b":")
        if name == b"data":
            self._has_data = True
            self._data.append(value[1:] if colon and value.startswith(b" ") else value)

    def _accept(self) -> bool:
        if not self._has_data:
            return True
        try:
            event: Any = json.loads(b"\n".join(self._data))
        except (ValueError, RecursionError):
            return False
        return isinstance(event, dict) and run_belongs_to(event, self.key, self.org)

    def _reset(self) -> None:
        self._event.clear()
        self._data = []
        self._has_data = False
