"""Run an ASGI app with uvicorn on a loopback port in a background thread (tests only)."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator

import numpy as np
from PIL import Image
from websockets.sync.client import ClientConnection, connect

from aura.bench.e2e import serve_in_thread
from aura.serve.protocol import SERVER_MESSAGES, pack_media


@contextlib.contextmanager
def running(app, *, ws_max_size: int = 4 * 1024 * 1024) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port); yield ``host:port``; stop it afterwards."""
    with serve_in_thread(app, ws_max_size) as address:
        yield address


def jpeg(value: int = 128, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small solid-colour JPEG."""
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


class Client:
    """A protocol client that validates every server message it receives."""

    def __init__(self, address: str, token: str | None = None) -> None:
        url = f"ws://{address}/ws" + (f"?token={token}" if token else "")
        self._cm = connect(url, max_size=None, open_timeout=20)
        self.ws: ClientConnection = self._cm.__enter__()
        self.received: list[dict] = []

    def send_json(self, obj: dict) -> None:
        self.ws.send(json.dumps(obj))

    def frame(self, t: float, data: bytes | None = None) -> None:
        self.ws.send(pack_media("F", t, data if data is not None else jpeg()))

    def recv(self, timeout: float = 10.0) -> dict:
        msg = json.loads(self.ws.recv(timeout=timeout))
        SERVER_MESSAGES.validate_python(msg)  # every server message follows the protocol
        self.received.append(msg)
        return msg

    def wait_for(self, pred, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching message; got types {[m['type'] for m in self.received][-30:]}")
            msg = self.recv(timeout=left)
            if pred(msg):
                return msg

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
