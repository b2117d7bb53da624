"""A raw asyncio HTTP upstream in a thread, for what a polite server never does:

* ``/never...``     reads the request head and never answers;
* ``/sse-idle...``  answers an event-stream head, then sends nothing, ever;
* ``/sse...``       answers an event stream with one event per 0.1 s.

``open_streams`` counts event streams whose connection the gateway still holds, so a
test can see the upstream connection released when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


class RawUpstream:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.open_streams = 0
        self.targets: list[str] = []
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("raw upstream did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            self.targets.append(target)
            if target.startswith("/never"):
                await reader.read()  # until the gateway gives up and closes
            elif target.startswith("/sse-idle"):
                writer.write(HEAD)
                await writer.drain()
                self.open_streams += 1
                try:
                    await reader.read()
                finally:
                    self.open_streams -= 1
            elif target.startswith("/sse"):
                writer.write(HEAD)
                self.open_streams += 1
                try:
                    n = 0
                    while not reader.at_eof() and not writer.is_closing():
                        n += 1
                        event = f'data: {{"n": {n}}}\n\n'.encode()
                        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                        await writer.drain()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(reader.read(1), 0.1)  # notices EOF early
                finally:
                    self.open_streams -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        self._thread.join(5)
