"""User-chosen names in report downloads stay text: no mathtext in the PDF, no formula in a CSV."""

from __future__ import annotations

import csv
import io
import re
import zlib

import pytest

from tests.inventories.test_report_compare import compare_url, report_by, version
from tests.inventories.test_reports import make_world, run_here

MATH = r"$\foo$ and $x^2$"


def pdf_lines(data: bytes) -> list[str]:
    """The text of each text object of a matplotlib PDF, its kerned pieces joined again."""
    lines = []
    for stream in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            content = zlib.decompress(stream.group(1))
        except zlib.error:
            continue
        for block in re.finditer(rb"BT(.*?)ET", content, re.S):
            pieces = re.findall(rb"\(((?:\\.|[^\\)])*)\)", block.group(1))
            text = b"".join(re.sub(rb"\\(.)", rb"\1", p) for p in pieces)
            lines.append(text.decode("latin-1"))
    return lines


@pytest.mark.django_db
def test_a_report_named_like_mathtext_gets_a_pdf_that_shows_the_names_as_typed(people, api):
    world = make_world(people.a, predicted_name=f"{MATH} output")
    report = run_here(api.alice, world, name=f"{MATH} report")
    response = api.bob.get(f"/api/reports/{report.pk}/files/report.pdf/")
    assert response.status_code == 200
    lines = pdf_lines(b"".join(response.streaming_content))
    assert f"Accuracy report: {MATH} report" in lines
    assert any(line.startswith(f"Prediction: {MATH} output") for line in lines)


@pytest.mark.django_db
def test_the_comparison_csv_escapes_names_that_a_spreadsheet_would_run(people, api, client):
    model = version(people.a, "+cmd|' /C calc'!A0", "unet", "none", 10.0)
    first = report_by(api, people.a, model, '=HYPERLINK("http://x")')
    second = report_by(api, people.a, None, "@SUM(1+1)", shifts=(20, 30))
    client.force_login(people.bob)
    response = client.get(compare_url(people.a, first, second, fmt="csv"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    assert header[2].startswith("'=HYPERLINK(") and header[3].startswith("'@SUM(")
    cells = [cell for row in rows for cell in row]
    assert "'+cmd|' /C calc'!A0" in cells
    assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for cell in cells)
    # Numbers stay numbers: a figure is never given an apostrophe.
    f1 = next(row for row in rows if row[1].lower().startswith("f1"))
    assert all(re.fullmatch(r"-?[0-9.eE+-]+", v) for v in f1[2:]), f1
