"""User-chosen names in report downloads stay text: no markup in the PDF, no formula in a CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.inventories.test_report_compare import compare_url, report_by, version
from tests.inventories.test_report_pdf import images_of, pdf_link, pdf_of, squashed, text_of
from tests.inventories.test_reports import make_world, run_here


@pytest.mark.django_db
def test_names_in_the_pdf_are_text_not_markup_nor_mathtext(people, api, client):
    markup = '<b>bold</b> <img src="http://127.0.0.1:9/x.png"> $\\foo$'
    people.a.name = f"{markup} project"
    people.a.save()
    world = make_world(people.a, predicted_name=f"{markup} output")
    report = run_here(api.alice, world, name=f"{markup} report")
    client.force_login(people.bob)
    reader = pdf_of(client.get(pdf_link(client, people.a, report)))
    # A long name wraps, so compare without the spaces and line breaks.
    text = squashed(text_of(reader))
    for name in ("report", "output", "project"):
        assert squashed(f"{markup} {name}") in text, name
    assert reader.metadata.title == f"{markup} report"
    # Only the map and the area-frequency plot are pictures; the name's <img> is words.
    assert len(images_of(reader)) == 2


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
