"""Format-specific reading and writing: zip safety, Shapefile, GeoPackage, KML."""

from __future__ import annotations

import struct
import tempfile
import zipfile
from pathlib import Path

import geopandas
import pyogrio
import pytest
import shapely

from mlcore.vector.polygons import VectorFileError, read_polygons, write_polygons

SQUARE = shapely.box(98.690, 31.140, 98.691, 31.141)
KML_NS = "http://www.opengis.net/kml/2.2"


def slides(n: int = 2, crs: str | None = "EPSG:4326", **columns) -> geopandas.GeoDataFrame:
    """n squares 1 km apart with a `code` column, in lon/lat or reprojected to `crs`."""
    geometries = [shapely.affinity.translate(SQUARE, 0.01 * i) for i in range(n)]
    columns = {"code": [f"L{i}" for i in range(n)], **columns}
    frame = geopandas.GeoDataFrame(columns, geometry=geometries, crs="EPSG:4326")
    return frame.to_crs(crs) if crs else frame.set_crs(None, allow_override=True)


def shapefile_zip(
    tmp_path: Path,
    frame: geopandas.GeoDataFrame,
    *,
    folder: str = "",
    skip: tuple[str, ...] = (),
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A zipped Shapefile as a GIS would make it, its parts under `folder`."""
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir(exist_ok=True)
    pyogrio.write_dataframe(frame, shp_dir / "slides.shp", encoding="UTF-8")
    path = tmp_path / "slides.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(shp_dir.iterdir()):
            if part.suffix not in skip:
                archive.write(part, arcname=folder + part.name)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def raw_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """Point tempfile at a folder of the test's own, to see what is left behind."""
    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_zipped_shapefile_reads_and_leaves_no_temporary_files(tmp_path, own_tempdir):
    path = shapefile_zip(tmp_path, slides(crs="EPSG:32647"), folder="export/data/")

    result = read_polygons(path)

    assert (result.source_format, result.source_crs, result.layer) == (
        "ESRI Shapefile",
        "EPSG:32647",
        "slides",
    )
    assert result.frame.code.tolist() == ["L0", "L1"]
    assert result.frame.geometry.iloc[0].symmetric_difference(SQUARE).area < 1e-14
    assert list(own_tempdir.iterdir()) == []


def test_a_shapefile_without_prj_is_refused(tmp_path, own_tempdir):
    path = shapefile_zip(tmp_path, slides(crs="EPSG:32647"), skip=(".prj",))

    with pytest.raises(VectorFileError, match="no coordinate reference system; add its .prj"):
        read_polygons(path)
    assert list(own_tempdir.iterdir()) == []


def test_a_shapefile_without_dbf_is_refused(tmp_path):
    path = shapefile_zip(tmp_path, slides(), skip=(".dbf",))

    with pytest.raises(VectorFileError, match=r"'slides.shp' has no \.dbf beside it"):
        read_polygons(path)


def test_macos_resource_forks_are_ignored(tmp_path):
    path = shapefile_zip(tmp_path, slides(), extra={"__MACOSX/._slides.shp": b"junk"})

    assert len(read_polygons(path).frame) == 2


def test_a_zip_with_two_shapefiles_is_refused_naming_them(tmp_path):
    path = raw_zip(tmp_path / "two.zip", {"a.shp": b"", "b/c.shp": b""})

    with pytest.raises(VectorFileError, match=r"2 Shapefiles \('a.shp', 'b/c.shp'\)"):
        read_polygons(path)


def test_a_zip_without_shapefile_says_what_it_found(tmp_path):
    path = raw_zip(tmp_path / "none.zip", {"notes.txt": b"hello", "map.tif": b""})

    with pytest.raises(VectorFileError, match=r"no \.shp file \(found 'notes.txt', 'map.tif'\)"):
        read_polygons(path)


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("../evil.shp", "points outside"),
        ("/etc/evil.shp", "absolute path"),
        ("C:/evil.shp", "absolute"),
    ],
)
def test_a_zip_member_escaping_the_folder_is_refused(tmp_path, own_tempdir, member, why):
    path = raw_zip(tmp_path / "evil.zip", {member: b"", "evil.shx": b"", "evil.dbf": b""})

    with pytest.raises(VectorFileError, match=why):
        read_polygons(path)
    assert list(own_tempdir.iterdir()) == []


def test_a_symbolic_link_in_a_zip_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    link = zipfile.ZipInfo("slides.dbf")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("slides.shp", b"")
        archive.writestr("slides.shx", b"")
        archive.writestr(link, "/etc/passwd")

    with pytest.raises(VectorFileError, match="'slides.dbf', a symbolic link"):
        read_polygons(path)


def test_a_zip_that_unpacks_beyond_the_limit_is_refused_before_extraction(tmp_path, own_tempdir):
    path = raw_zip(tmp_path / "bomb.zip", {"a.shp": b"\0" * 5_000_000, "a.shx": b"", "a.dbf": b""})

    with pytest.raises(VectorFileError, match="would unpack to 5,000,000 bytes"):
        read_polygons(path, max_bytes=1_000_000)
    assert list(own_tempdir.iterdir()) == []


def test_a_zip_declaring_a_huge_member_is_refused_with_the_default_limit(tmp_path):
    path = raw_zip(tmp_path / "bomb.zip", {"a.shp": b"\0" * 1000, "a.shx": b"", "a.dbf": b""})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # the first member's central directory entry
    data[central + 24 : central + 28] = struct.pack("<I", 0xF000_0000)
    path.write_bytes(bytes(data))

    with pytest.raises(VectorFileError, match="would unpack to 4,026,531,840 bytes"):
        read_polygons(path)


def test_a_zip_lying_about_its_sizes_is_refused(tmp_path):
    path = raw_zip(tmp_path / "liar.zip", {"a.shp": b"\0" * 100_000, "a.shx": b"", "a.dbf": b""})
    data = bytearray(path.read_bytes())
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(header)
        data[at + offset : at + offset + 4] = struct.pack("<I", 100)
    path.write_bytes(bytes(data))

    with pytest.raises(VectorFileError, match="'a.shp' (is damaged|unpacks to more)"):
        read_polygons(path)


def test_a_file_named_zip_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "slides.zip"
    path.write_text('{"type": "FeatureCollection"}')

    with pytest.raises(VectorFileError, match="named .zip but is not a zipped Shapefile"):
        read_polygons(path)


def test_a_geopackage_layer_reads_with_its_crs(tmp_path):
    path = tmp_path / "slides.gpkg"
    slides(crs="EPSG:32647").to_file(path, layer="landslides")

    result = read_polygons(path)

    assert (result.source_format, result.layer, result.source_crs) == (
        "GPKG",
        "landslides",
        "EPSG:32647",
    )
    assert result.frame.code.tolist() == ["L0", "L1"]


def test_a_geopackage_with_several_polygon_layers_needs_a_layer(tmp_path):
    path = tmp_path / "slides.gpkg"
    slides().to_file(path, layer="mapped_2019")
    slides(n=3).to_file(path, layer="mapped_2020")
    slides().set_geometry(slides().geometry.representative_point()).to_file(path, layer="points")

    with pytest.raises(
        VectorFileError, match="several polygon layers \\('mapped_2019', 'mapped_2020'\\)"
    ):
        read_polygons(path)
    assert len(read_polygons(path, layer="mapped_2020").frame) == 3
    with pytest.raises(VectorFileError, match="no layer 'other'"):
        read_polygons(path, layer="other")


def test_a_geopackage_layer_without_crs_is_refused(tmp_path):
    path = tmp_path / "slides.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        slides(crs=None).to_file(path, layer="landslides")

    with pytest.raises(VectorFileError, match="no coordinate reference system; assign the layer"):
        read_polygons(path)


def test_a_geopackage_feature_is_named_by_its_fid(tmp_path):
    path = tmp_path / "slides.gpkg"
    frame = slides()
    frame.loc[1, "geometry"] = shapely.LineString([(98.69, 31.14), (98.7, 31.15)])
    frame.to_file(path, layer="landslides")

    with pytest.raises(VectorFileError, match=r"feature 2 \(id '2'\): not a polygon"):
        read_polygons(path)


def test_a_text_file_named_gpkg_is_refused(tmp_path):
    path = tmp_path / "slides.gpkg"
    path.write_text("hello")

    with pytest.raises(VectorFileError, match="is not an SQLite database"):
        read_polygons(path)


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "slides.gpkg"
    slides().to_file(path)

    with pytest.raises(VectorFileError, match="more than the 1,000 allowed"):
        read_polygons(path, max_bytes=1000)


def kml(placemarks: str, *, namespace: str = KML_NS, prolog: str = "") -> str:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    body = f"<Document><Folder>{placemarks}</Folder></Document>"
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<kml{xmlns}>{body}</kml>'


def ring(geometry: shapely.Polygon | shapely.LinearRing, altitude: float = 0.0) -> str:
    points = geometry.exterior.coords if isinstance(geometry, shapely.Polygon) else geometry.coords
    return " ".join(f"{x},{y},{altitude}" for x, y in points)


DONUT = SQUARE.difference(SQUARE.centroid.buffer(0.0002))
KML_POLYGON = f"""<Polygon><outerBoundaryIs><LinearRing><coordinates>
{ring(SQUARE, 2500)}</coordinates></LinearRing></outerBoundaryIs><innerBoundaryIs><LinearRing>
<coordinates>{ring(DONUT.interiors[0])}</coordinates></LinearRing></innerBoundaryIs></Polygon>"""


def test_kml_placemarks_read_with_holes_and_attributes(tmp_path):
    path = tmp_path / "slides.kml"
    second = shapely.affinity.translate(SQUARE, 0.01)
    path.write_text(
        kml(
            f"""<Placemark id="pm-1"><name>Slide 1</name><description>fresh scar</description>
            <ExtendedData><Data name="type"><value>debris flow</value></Data>
            <SchemaData schemaUrl="#s"><SimpleData name="area">1200</SimpleData></SchemaData>
            </ExtendedData>{KML_POLYGON}</Placemark>
            <Placemark><name>Slide 2</name><MultiGeometry><Polygon><outerBoundaryIs><LinearRing>
            <coordinates>{ring(second)}</coordinates></LinearRing></outerBoundaryIs></Polygon>
            </MultiGeometry></Placemark>"""
        )
    )

    result = read_polygons(path)

    frame = result.frame
    assert (result.source_format, result.source_crs) == ("KML", "EPSG:4326")
    assert frame.drop(columns=["geometry", "area_m2"]).to_dict("records") == [
        {
            "name": "Slide 1",
            "description": "fresh scar",
            "type": "debris flow",
            "area": "1200",
            "repaired": False,
        },
        {"name": "Slide 2", "description": None, "type": None, "area": None, "repaired": False},
    ]
    assert frame.geometry.iloc[0].symmetric_difference(DONUT).area < 1e-14
    assert not shapely.has_z(frame.geometry.values).any()


def test_kml_without_namespace_reads(tmp_path):
    path = tmp_path / "plain.kml"
    path.write_text(kml(f"<Placemark><name>a</name>{KML_POLYGON}</Placemark>", namespace=""))

    assert read_polygons(path).frame.name.tolist() == ["a"]
    with pytest.raises(VectorFileError, match="read as one layer"):
        read_polygons(path, layer="a")


def test_kml_points_and_bad_coordinates_are_named(tmp_path):
    path = tmp_path / "mixed.kml"
    path.write_text(
        kml(
            f"""<Placemark><name>ok</name>{KML_POLYGON}</Placemark>
            <Placemark><name>spring</name><Point><coordinates>98.69,31.14</coordinates></Point></Placemark>
            <Placemark><name>typo</name><Polygon><outerBoundaryIs><LinearRing>
            <coordinates>98.69,31.14 98.7;31.14 98.7,31.15 98.69,31.14</coordinates>
            </LinearRing></outerBoundaryIs></Polygon></Placemark>"""
        )
    )

    with pytest.raises(VectorFileError) as caught:
        read_polygons(path)

    assert [(p.number, p.feature_id) for p in caught.value.problems] == [(2, "spring"), (3, "typo")]
    assert "feature 2 (id 'spring'): not a polygon (Point)" in str(caught.value)
    assert "feature 3 (id 'typo'): coordinates cannot be read" in str(caught.value)


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE kml [<!ENTITY lol "lol">]>',
        '<!DOCTYPE kml SYSTEM "file:///etc/passwd">',
    ],
)
def test_kml_with_a_doctype_or_entities_is_refused(tmp_path, prolog):
    path = tmp_path / "evil.kml"
    path.write_text(kml(f"<Placemark><name>&lol;</name>{KML_POLYGON}</Placemark>", prolog=prolog))

    with pytest.raises(VectorFileError, match="evil.kml declares a DOCTYPE, entities"):
        read_polygons(path)


def test_broken_kml_is_refused(tmp_path):
    path = tmp_path / "broken.kml"
    path.write_text(kml("<Placemark><name>a</Placemark>"))

    with pytest.raises(VectorFileError, match="broken.kml is not well-formed XML"):
        read_polygons(path)


def test_kml_placemarks_beyond_the_limit_are_refused(tmp_path):
    path = tmp_path / "many.kml"
    path.write_text(kml(f"<Placemark>{KML_POLYGON}</Placemark>" * 3))

    with pytest.raises(VectorFileError, match="3 features, more than the 2 allowed"):
        read_polygons(path, max_features=2)


def test_shapefile_export_keeps_short_names_and_cuts_long_ones(tmp_path):
    frame = slides(landslide_type=["slide", "flow"])

    written = write_polygons(frame, tmp_path / "export.zip")

    with zipfile.ZipFile(written) as archive:
        assert sorted(archive.namelist()) == [
            "export.cpg",
            "export.dbf",
            "export.prj",
            "export.shp",
            "export.shx",
        ]
    assert list(read_polygons(written).frame.columns[:2]) == ["code", "landslide_"]


def test_shapefile_export_refuses_names_that_meet_when_cut(tmp_path):
    frame = slides(landslide_a=[1, 2], landslide_b=[3, 4])

    with pytest.raises(VectorFileError, match="would both be named 'landslide_'"):
        write_polygons(frame, tmp_path / "export.zip")
    assert not (tmp_path / "export.zip").exists()


def test_a_fid_column_survives_a_geopackage_export(tmp_path):
    written = write_polygons(slides(fid=["a", "b"]), tmp_path / "export.gpkg")

    assert read_polygons(written).frame.fid.tolist() == ["a", "b"]


def test_export_replaces_an_existing_file_whole(tmp_path):
    target = tmp_path / "export.gpkg"
    write_polygons(slides(n=3), target)

    write_polygons(slides(n=1), target)

    assert len(read_polygons(target).frame) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["export.gpkg"]
