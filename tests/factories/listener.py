"""A tiny HTTP listener on 127.0.0.1 that records every request it receives.

Hostile test files point GDAL at it: a test then asserts that nothing came,
which is how "GDAL made no network request" is observed from outside.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_WGS84_WKT = (
    b'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    b'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
)


@dataclass
class Listener:
    """`url(path)` is an address on it; `requests` lists "METHOD /path" as they come."""

    port: int
    requests: list[str] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def listening() -> Iterator[Listener]:
    """Serve on a free port for the duration; answers every GET with a valid WKT CRS,
    so a request that does get through would make an import succeed, not fail."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    listener = Listener(port=server.server_address[1])
    server.listener = listener
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Handler(http.server.BaseHTTPRequestHandler):
    def _record(self) -> None:
        self.server.listener.requests.append(f"{self.command} {self.path}")

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", str(len(_WGS84_WKT)))
        self.end_headers()
        self.wfile.write(_WGS84_WKT)

    def do_HEAD(self) -> None:  # noqa: N802
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", str(len(_WGS84_WKT)))
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet in test output
        pass
