"""`make run`'s web server is production's (issue #14, item 7), driven by real Chromium.

scripts/web.sh is started as `make run` starts it (DEBUG off, gunicorn,
static files collected and served by WhiteNoise) on a private port against
the test database. A person opening a wrong address sees Scarp's own 404 page,
not Django's list of URL patterns; the login page has its stylesheet and
the login works.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def production_server(tmp_path):
    db = connection.settings_dict
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "true",  # web.sh must turn it off whatever the caller's environment says
        "DATABASE_URL": (
            f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SCARP_PORT": str(port),
    }
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        ["bash", "scripts/web.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"{url}/accounts/login/", timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail((tmp_path / "web.log").read_text())
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_make_runs_server_shows_the_apps_own_pages_with_debug_off(
    browser, django_user_model, production_server
):
    django_user_model.objects.create_user("mapper", password="a long pass phrase")
    context = browser.new_context(
        base_url=production_server, viewport={"width": 1280, "height": 820}
    )
    page = context.new_page()
    try:
        missing = page.goto("/no-such-page/")
        assert missing.status == 404
        text = page.locator("body").inner_text()
        assert "Nothing here" in text
        assert "URLconf" not in text and "api/" not in text

        stylesheets = []
        page.on(
            "response",
            lambda r: stylesheets.append((r.url, r.status)) if r.url.endswith(".css") else None,
        )
        page.goto("/accounts/login/")
        assert stylesheets and all(status == 200 for _, status in stylesheets)
        page.fill("input[name=username]", "mapper")
        page.fill("input[name=password]", "a long pass phrase")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Log out mapper")
    finally:
        context.close()
