"""The optional basemap (SCARP_BASEMAP_URL) on the editor's and the review's maps, in Chromium.

The tiles come from a small tile server this test runs on 127.0.0.1: nothing here
reaches the internet. Off (the default), the maps ask no server but Scarp.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from struct import pack

import pytest

from tests.browser.test_editor import map_url, project, ready
from tests.browser.test_review import predicted

__all__ = ["predicted", "project"]  # the fixtures, shared with the editor's and review's tests

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOAD = '<img src=x onerror="window.__xss=1">'


def png_tile() -> bytes:
    """A 256 x 256 plain light-green PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((200, 230, 200)) * 256 for _ in range(256))
    header = pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def tile_server() -> Iterator[tuple[str, list[str]]]:
    """(origin, the paths it was asked for) of a tile server answering any path with a tile."""
    tile, asked = png_tile(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", asked
    server.shutdown()
    server.server_close()


def requests_of(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_with_the_setting_the_editor_shows_the_basemap_under_the_imagery(
    open_page, people, project, settings, tile_server
):
    origin, asked = tile_server
    settings.SCARP_BASEMAP_URL = f"{origin}/tiles/{{z}}/{{x}}/{{y}}.png"
    settings.SCARP_BASEMAP_ATTRIBUTION = f"Test tiles {PAYLOAD}"
    page = open_page(people.bob, map_url(project))
    ready(page)
    page.wait_for_selector(f'.basemap-tile img.leaflet-tile-loaded[src^="{origin}/tiles/"]')
    assert asked and all(re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", path) for path in asked)
    # Under the imagery: its pane is drawn below the scene's.
    below = page.evaluate(
        "Number(scarp.map.getPane('basemap').style.zIndex)"
        " < Number(scarp.map.getPane('imagery').style.zIndex)"
    )
    assert below
    assert page.locator(".map-basemap-attribution").inner_text() == f"Test tiles {PAYLOAD}"
    assert page.evaluate("window.__xss") is None

    page.locator("#show-basemap").uncheck()
    assert page.locator(".basemap-tile img").count() == 0
    assert page.locator(".map-basemap-attribution").is_hidden()
    page.locator("#show-basemap").check()
    page.wait_for_selector(".basemap-tile img.leaflet-tile-loaded")
    assert page.errors == []


def test_the_review_map_shows_the_basemap_too(open_page, people, predicted, settings, tile_server):
    origin, asked = tile_server
    settings.SCARP_BASEMAP_URL = f"{origin}/{{z}}/{{x}}/{{y}}.png"
    page = open_page(people.rita, f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    page.wait_for_selector(f'.basemap-tile img.leaflet-tile-loaded[src^="{origin}/"]')
    assert asked
    assert page.errors == []


def test_without_the_setting_the_maps_ask_no_server_but_scarp(
    open_page, people, project, predicted, live_server
):
    page = open_page(people.bob, "about:blank")
    urls = requests_of(page)
    page.goto(map_url(project))
    ready(page)
    page.wait_for_load_state("networkidle")
    page.goto(f"/projects/{people.a.pk}/inventories/{predicted.pk}/review/")
    page.wait_for_function("window.scarpReview && window.scarpReview.ready === true")
    page.wait_for_load_state("networkidle")
    assert any("/api/scenes/" in url for url in urls)  # the imagery did load
    elsewhere = [u for u in urls if not u.startswith((live_server.url, "data:", "blob:"))]
    assert elsewhere == []
    assert page.locator("#show-basemap").count() == 0
    assert page.errors == []


def test_the_area_maps_of_the_projects_pages_show_the_basemap(
    open_page, people, settings, tile_server
):
    """Drawing an area of interest before any imagery is uploaded is where a basemap helps."""
    origin, asked = tile_server
    settings.SCARP_BASEMAP_URL = f"{origin}/area/{{z}}/{{x}}/{{y}}.png"
    page = open_page(people.alice, "/")  # the projects page, with its New project form
    page.wait_for_selector(
        f'#area-map .basemap-tile img.leaflet-tile-loaded[src^="{origin}/area/"]'
    )
    page.goto(f"/projects/{people.a.pk}/")  # alice is its admin: the area tools are there
    page.wait_for_selector(
        f'#area-map .basemap-tile img.leaflet-tile-loaded[src^="{origin}/area/"]'
    )
    assert asked and all(path.startswith("/area/") for path in asked)
    assert page.errors == []
