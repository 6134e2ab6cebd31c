"""The pages' scripts by role (issue #13, item 5): lib/, map/, pages/, and no API path by hand.

Every address a script calls comes from the table base.html renders
(inventories/url_templates.py, made with reverse); a name a script asks
for must be in it, or the page would throw at the first call.
"""

from __future__ import annotations

import re
from pathlib import Path

from inventories.url_templates import API_URLS, api_urls

JS = Path(__file__).resolve().parents[1] / "static" / "js"


def scripts() -> dict[str, str]:
    return {
        str(path.relative_to(JS)): path.read_text()
        for path in JS.rglob("*.js")
        if "vendor" not in path.parts
    }


def test_every_script_lives_in_lib_map_or_pages():
    placed = {name.split("/")[0] for name in scripts()}
    assert placed == {"lib", "map", "pages"}


def test_no_script_writes_an_api_path_by_hand():
    hand_written = {name for name, text in scripts().items() if re.search(r"""["'`]/api/""", text)}
    assert hand_written == set()


def test_every_address_a_script_asks_for_is_in_the_table():
    asked = {
        match
        for text in scripts().values()
        for match in re.findall(r"""(?:\burl\(\s*|urlName:\s*|\bsend\(\s*)["'](\w+)["']""", text)
    }
    assert asked and asked <= set(API_URLS)
    table = api_urls()
    assert table["job"] == "/api/jobs/{pk}/"
    assert table["landslideTiles"].endswith("/{z}/{x}/{y}.mvt")


def test_map_pages_start_from_the_shared_start_up_code():
    for name, text in scripts().items():
        if name.startswith("pages/"):
            assert "--topbar-h" not in text, name
            assert "JSON.parse(document.getElementById" not in text, name


def test_every_import_of_a_script_names_a_file_that_exports_it():
    """A moved file left behind shows here, not as a blank page in a browser."""
    files = scripts()
    for name, text in files.items():
        for names, target in re.findall(
            r"""import\s*\{([^}]*)\}\s*from\s*["'](\.{1,2}/[^"']+)["']""", text
        ):
            path = (JS / Path(name).parent / target).resolve()
            assert path.is_file(), f"{name} imports {target}, which is not there"
            exported = path.read_text()
            for imported in (n.strip().split(" as ")[0] for n in names.split(",") if n.strip()):
                assert re.search(
                    rf"export\s+(?:async\s+)?(?:function|class|const|let)\s+{imported}\b", exported
                ), f"{name} imports {imported} from {target}, which does not export it"
