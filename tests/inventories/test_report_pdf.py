"""The report's PDF, as a reader gets it: through the page's download link, read back as text.

The world is test_reports' two squares: pixel precision, recall and F1 0.700,
14,000 TP pixels, one TP, one FP and one FN object.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image
from pypdf import PdfReader
from weasyprint import HTML

from inventories.services.report_pdf import report_url_fetcher
from tests.factories.listener import listening
from tests.inventories.test_reports import make_world, run_here


def pdf_link(client, project, report) -> str:
    """The href of the page's 'Printable report (PDF)' button."""
    page = client.get(f"/projects/{project.pk}/reports/{report.pk}/").content.decode()
    (href,) = re.findall(r'href="([^"]+)">Printable report \(PDF\)</a>', page)
    return href


def pdf_of(response) -> PdfReader:
    return PdfReader(io.BytesIO(b"".join(response.streaming_content)))


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def images_of(reader: PdfReader) -> dict:
    """The document's pictures by name (WeasyPrint's pages share one resource dictionary)."""
    return {img.name: img for page in reader.pages for img in page.images}


def squashed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.django_db
def test_a_member_downloads_the_pdf_the_page_links_with_its_tables_map_and_plot(
    people, api, client
):
    world = make_world(people.a)
    report = run_here(api.alice, world, name="v1 on the test extent")
    client.force_login(people.bob)
    href = pdf_link(client, people.a, report)
    assert href == f"/api/reports/{report.pk}/files/report.pdf/"

    response = client.get(href)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = pdf_of(response)
    text = text_of(reader)
    assert reader.metadata.title == "v1 on the test extent"
    for name in ("v1 on the test extent", "Project A", "Model v1 output", "Field mapping"):
        assert name in text, name
    assert "Made " in text and "by alice" in text
    # The page's tables, row by row: a label and its figures on one line, as in a table.
    for title in ("Pixel agreement", "Objects (one-to-one matching)", "Landslide area"):
        assert title in text, title
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()]
    assert "Precision 0.700" in lines, lines
    assert "F1 0.700" in lines
    assert "TP pixels 14,000" in lines and "FN pixels 6,000" in lines
    assert "Precision 0.500 1.000" in lines  # objects: one-to-one, then any overlap
    assert "Where they agree and differ" in text and "Area-frequency" in text

    # The map and the plot are the report's own PNGs, embedded at their full size.
    folder = Path(settings.MEDIA_ROOT) / report.directory
    sizes = {img.image.size for img in images_of(reader).values()}
    for name in ("map.png", "areafreq.png"):
        assert Image.open(folder / name).size in sizes, (name, sizes)

    client.force_login(people.charlie)  # a member of another project: nothing to see
    assert client.get(href).status_code == 404


def test_the_pdf_fetches_the_reports_images_and_refuses_anything_else(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "map.png").write_bytes(b"\x89PNG map")
    (folder / "report.json").write_text("{}")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG elsewhere")
    fetch = report_url_fetcher(folder)

    served = fetch((folder / "map.png").as_uri())
    assert served["string"] == b"\x89PNG map" and served["mime_type"] == "image/png"
    assert fetch("data:text/plain;base64,aGk=")["mime_type"] == "text/plain"
    for url in [
        "http://127.0.0.1:9/x.png",
        "https://example.org/map.png",
        (tmp_path / "secret.png").as_uri(),
        (folder / "report.json").as_uri(),  # a report file, but not a picture
        folder.as_uri() + "/../secret.png",
        folder.as_uri() + "/pr_curve.png",  # allowed name, absent file
        "file://elsewhere" + (folder / "map.png").as_posix(),
        "ftp://x/map.png",
    ]:
        with pytest.raises(ValueError, match="refused"):
            fetch(url)


def test_weasyprint_given_the_report_fetcher_reaches_no_url(tmp_path):
    with listening() as listener:
        html = f"""<link rel="stylesheet" href="{listener.url("/style.css")}">
        <style>@import "{listener.url("/import.css")}";
        @font-face {{ font-family: far; src: url({listener.url("/font.woff")}); }}
        body {{ font-family: far; background: url({listener.url("/background.png")}); }}</style>
        <img src="{listener.url("/picture.png")}"><p>text</p>"""
        folder = tmp_path / "report"
        folder.mkdir()
        fetcher = report_url_fetcher(folder)
        HTML(string=html, base_url=folder.as_uri() + "/", url_fetcher=fetcher).write_pdf(
            tmp_path / "ours.pdf"
        )
        assert listener.requests == []
        assert "text" in PdfReader(tmp_path / "ours.pdf").pages[0].extract_text()
        # The twin: WeasyPrint's own fetcher would have gone out for them.
        HTML(string=html).write_pdf(tmp_path / "default.pdf")
        assert "GET /picture.png" in listener.requests
