"""read_polygons' rules, geodesic areas and write_polygons round trips."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from mlcore.vector.polygons import (
    FeatureProblem,
    GeometryRefused,
    VectorFileError,
    geodesic_area_m2,
    read_polygons,
    repair_polygon,
    write_polygons,
)

INVENTORIES = Path(os.environ.get("SCARP_SHARED_DATA", "/work/shared/data")) / "inventories"
BRAZIL = INVENTORIES / "brazil_relict_scars_epsg32723.geojson"
WENCHUAN = INVENTORIES / "wenchuan_2009_predicted_shp.zip"

# A 100 m square near Baige, in lon/lat.
SQUARE = [[98.690, 31.140], [98.691, 31.140], [98.691, 31.141], [98.690, 31.141], [98.690, 31.140]]


def feature(geometry: dict | None, /, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon(ring: list[list[float]], *holes: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": [ring, *holes]}


def geojson_file(path: Path, features: list[dict], **extra) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", **extra, "features": features}))
    return path


def shifted(ring: list[list[float]], dx: float) -> list[list[float]]:
    return [[x + dx, y] for x, y in ring]


def test_polygons_and_attributes_are_read_as_multipolygons_with_json_values(tmp_path):
    multi = {"type": "MultiPolygon", "coordinates": [[shifted(SQUARE, 0.01)]]}
    path = geojson_file(
        tmp_path / "slides.geojson",
        [
            feature(polygon(SQUARE), id="A-1", n=1, f=1.5, ok=True, day="2020-01-02", note="x"),
            feature(multi, id="A-2", n=None, f=None, ok=None, day=None, note=None),
        ],
    )

    result = read_polygons(path)

    frame = result.frame
    assert (result.source_format, result.source_crs, result.repaired) == (
        "GeoJSON",
        "EPSG:4326",
        [],
    )
    assert frame.crs.to_epsg() == 4326
    assert list(frame.geom_type) == ["MultiPolygon", "MultiPolygon"]
    assert list(frame.columns) == ["id", "n", "f", "ok", "day", "note", "area_m2", "repaired"] + [
        "geometry"
    ]
    records = frame.drop(columns=["geometry", "area_m2"]).to_dict("records")
    assert records == [
        {
            "id": "A-1",
            "n": 1,
            "f": 1.5,
            "ok": True,
            "day": "2020-01-02",
            "note": "x",
            "repaired": False,
        },
        {
            "id": "A-2",
            "n": None,
            "f": None,
            "ok": None,
            "day": None,
            "note": None,
            "repaired": False,
        },
    ]
    assert frame.area_m2.between(9_000, 11_000).all()


def test_real_brazil_geojson_honours_its_legacy_utm_crs():
    result = read_polygons(BRAZIL)

    frame = result.frame
    assert (len(frame), result.source_crs) == (276, "EPSG:32723")
    assert set(frame.geom_type) == {"MultiPolygon"}
    assert 5_000 < frame.area_m2.median() < 5_600
    west, south, east, north = frame.total_bounds
    assert -46.0 < west < east < -45.0 and -24.0 < south < north < -23.0


def test_generated_legacy_crs_geojson_lands_where_the_metres_say(tmp_path):
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32648", always_xy=True)
    ring = [list(to_utm.transform(x, y)) for x, y in SQUARE]
    legacy = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32648"}}
    path = geojson_file(tmp_path / "utm.geojson", [feature(polygon(ring), id="a")], crs=legacy)

    result = read_polygons(path)

    assert result.source_crs == "EPSG:32648"
    assert np.allclose(result.frame.total_bounds, [98.690, 31.140, 98.691, 31.141], atol=1e-7)


def test_real_wenchuan_zipped_shapefile_reads_with_areas_matching_utm():
    started = time.perf_counter()
    result = read_polygons(WENCHUAN, target_crs="EPSG:32648")
    elapsed = time.perf_counter() - started

    frame = result.frame
    assert (len(frame), result.source_crs, result.source_format) == (
        10335,
        "EPSG:32648",
        "ESRI Shapefile",
    )
    assert result.layer == "2009"
    assert np.abs(frame.area_m2 / frame.area - 1).max() < 0.005
    assert len(result.repaired) == frame.repaired.sum() > 0
    print(f"Wenchuan read in {elapsed:.2f} s")


def test_a_small_self_intersecting_loop_is_repaired_and_flagged(tmp_path):
    # A 100 m square whose last corner is traced as a tiny twisted bow-tie.
    x0, y0, x1, y1, e = 98.690, 31.140, 98.691, 31.141, 0.00001
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0 + e, y1], [x0, y1 - e], [x0, y1], [x0 + e, y1 - e]]
    ring.append(ring[0])
    path = geojson_file(
        tmp_path / "bowtie.geojson",
        [feature(polygon(SQUARE), id="fine"), feature(polygon(ring), id="twisted")],
    )

    result = read_polygons(path)

    assert list(result.frame.repaired) == [False, True]
    assert result.frame.geometry.is_valid.all()
    [problem] = result.repaired
    assert (problem.number, problem.feature_id, problem.reason) == (
        2,
        "twisted",
        "Self-intersection",
    )
    assert np.allclose(problem.location, (x0 + e / 2, y1 - e / 2))


def test_a_classic_bow_tie_is_repaired_into_its_two_lobes(tmp_path):
    bow_tie = [[98.690, 31.140], [98.691, 31.141], [98.691, 31.140], [98.690, 31.141]]
    path = geojson_file(tmp_path / "bowtie.geojson", [feature(polygon([*bow_tie, bow_tie[0]]))])

    result = read_polygons(path)

    assert result.frame.repaired.tolist() == [True]
    assert result.frame.geometry.iloc[0].area == pytest.approx(0.001**2 / 2)
    assert str(result.repaired[0]) == "feature 1: Self-intersection at 98.6905, 31.1405"


def test_a_repair_that_would_change_the_area_is_refused(tmp_path):
    # A hole drawn outside its shell: make_valid would add it, the mapper meant to cut it.
    hole = [[x + 0.002, y] for x, y in SQUARE]
    path = geojson_file(tmp_path / "hole.geojson", [feature(polygon(SQUARE, hole), id="h")])

    with pytest.raises(VectorFileError, match="would change the area by 100% or more") as caught:
        read_polygons(path)

    assert [p.number for p in caught.value.problems] == [1]


def test_invalid_polygons_are_refused_when_repair_is_off(tmp_path):
    x0, y0, x1, y1, e = 98.690, 31.140, 98.691, 31.141, 0.00001
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0 + e, y1], [x0, y1 - e], [x0, y1], [x0 + e, y1 - e]]
    path = geojson_file(tmp_path / "bowtie.geojson", [feature(polygon([*ring, ring[0]]))])

    with pytest.raises(VectorFileError, match="feature 1: Self-intersection at 98.69"):
        read_polygons(path, repair=False)


def test_a_line_and_an_empty_geometry_are_named_with_their_ids(tmp_path):
    line = {"type": "LineString", "coordinates": SQUARE[:2]}
    empty = {"type": "Polygon", "coordinates": []}
    path = geojson_file(
        tmp_path / "mixed.geojson",
        [
            feature(polygon(SQUARE), id="A-1"),
            feature(line, id="A-2"),
            feature(empty, id="A-3"),
            feature(None, id="A-4"),
        ],
    )

    with pytest.raises(VectorFileError) as caught:
        read_polygons(path)

    problems = caught.value.problems
    assert [(p.number, p.feature_id) for p in problems] == [(2, "A-2"), (3, "A-3"), (4, "A-4")]
    message = str(caught.value)
    assert "mixed.geojson: 3 of 4 features cannot be imported" in message
    assert "feature 2 (id 'A-2'): not a polygon (LineString)" in message
    assert "feature 3 (id 'A-3'): empty geometry" in message
    assert "feature 4 (id 'A-4'): no geometry" in message


def test_projected_metres_declared_as_lon_lat_are_refused(tmp_path):
    metres = [[443797.0, 7374251.0], [443897.0, 7374251.0], [443897.0, 7374351.0]]
    path = geojson_file(tmp_path / "utm.geojson", [feature(polygon([*metres, metres[0]]))])

    with pytest.raises(VectorFileError, match="look like projected metres"):
        read_polygons(path)


def test_more_features_than_allowed_are_refused(tmp_path):
    path = geojson_file(tmp_path / "many.geojson", [feature(polygon(SQUARE))] * 3)

    with pytest.raises(VectorFileError, match="3 features, more than the 2 allowed"):
        read_polygons(path, max_features=2)


def test_a_collection_of_polygons_is_kept_and_a_mixed_one_refused(tmp_path):
    polygons = {"type": "GeometryCollection", "geometries": [polygon(SQUARE)]}
    mixed = {
        "type": "GeometryCollection",
        "geometries": [polygon(SQUARE), {"type": "Point", "coordinates": SQUARE[0]}],
    }
    good = geojson_file(tmp_path / "good.geojson", [feature(polygons)])
    bad = geojson_file(tmp_path / "bad.geojson", [feature(mixed)])

    assert list(read_polygons(good).frame.geom_type) == ["MultiPolygon"]
    with pytest.raises(VectorFileError, match=r"feature 1: not only polygons \(Point\)"):
        read_polygons(bad)


def test_z_coordinates_are_dropped(tmp_path):
    path = geojson_file(
        tmp_path / "z.geojson", [feature(polygon([[x, y, 1200.0] for x, y in SQUARE]))]
    )

    frame = read_polygons(path).frame

    assert not shapely.has_z(frame.geometry.values).any()


def test_columns_clashing_with_ours_get_a_src_prefix(tmp_path):
    path = geojson_file(
        tmp_path / "clash.geojson",
        [feature(polygon(SQUARE), area_m2=5, repaired="yes", geometry="x")],
    )

    frame = read_polygons(path).frame

    assert list(frame.columns) == [
        "src_area_m2",
        "src_repaired",
        "src_geometry",
        "area_m2",
        "repaired",
        "geometry",
    ]
    assert frame.src_area_m2.tolist() == [5] and frame.src_repaired.tolist() == ["yes"]


def test_an_unsupported_suffix_lists_the_supported_ones(tmp_path):
    path = tmp_path / "slides.shp"
    path.write_bytes(b"\x00\x00\x27\x0a")

    with pytest.raises(
        VectorFileError, match=r"slides.shp: .*\.geojson, \.json, \.gpkg, \.zip, \.kml"
    ):
        read_polygons(path)


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(VectorFileError, match="holds no features"):
        read_polygons(geojson_file(tmp_path / "none.geojson", []))


def test_the_error_lists_twenty_problems_then_a_count(tmp_path):
    line = {"type": "LineString", "coordinates": SQUARE[:2]}
    path = geojson_file(tmp_path / "lines.geojson", [feature(line)] * 25)

    with pytest.raises(VectorFileError) as caught:
        read_polygons(path)

    assert len(caught.value.problems) == 25
    assert str(caught.value).splitlines()[-2:] == [
        "- feature 20: not a polygon (LineString)",
        "- and 5 more",
    ]


def test_a_drawn_polygon_is_returned_as_a_multipolygon():
    shape = shapely.Polygon(SQUARE)

    repaired, reason = repair_polygon(shape)

    assert (repaired.geom_type, reason) == ("MultiPolygon", None)
    assert repaired.equals(shape)


def test_a_drawn_polygon_with_a_small_loop_is_repaired_with_its_reason():
    x0, y0, x1, y1, e = 98.690, 31.140, 98.691, 31.141, 0.00001
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0 + e, y1), (x0, y1 - e), (x0, y1), (x0 + e, y1 - e)]

    repaired, reason = repair_polygon(shapely.Polygon(ring))

    assert repaired.is_valid
    assert reason == "Self-intersection at 98.690005, 31.140995"


def test_a_drawn_shape_traced_twice_or_a_line_is_refused_with_the_reason():
    traced_twice = shapely.Polygon(SQUARE[:-1] * 2)

    expected = (
        r"Self-intersection \(repairing it would change the area by 50.0%\) at 98.691, 31.141"
    )
    with pytest.raises(GeometryRefused, match=expected):
        repair_polygon(traced_twice)
    with pytest.raises(GeometryRefused, match=r"not a polygon \(LineString\)"):
        repair_polygon(shapely.LineString(SQUARE))


def test_a_feature_problem_reads_as_a_sentence():
    problem = FeatureProblem(12, "A-7", "Self-intersection", (98.69, 31.14))

    assert str(problem) == "feature 12 (id 'A-7'): Self-intersection at 98.69, 31.14"


@pytest.mark.parametrize(
    ("lon", "lat", "size"),
    [
        (0.0, 0.0, 0.001),
        (98.69, 31.14, 0.01),
        (10.0, 60.0, 0.5),
        (-45.5, -23.6, 1.5),
        (20.0, 89.0, 0.05),
        (179.999, -70.0, 0.01),
        (100.0, 30.0, 5.0),
    ],
)
def test_geodesic_area_agrees_with_pyproj_geod(lon, lat, size):
    shape = shapely.Polygon(
        [(lon, lat), (lon + size, lat + size / 3), (lon + size / 2, lat + size), (lon, lat)]
    ).difference(shapely.Point(lon + size / 2, lat + size / 2).buffer(size / 10))
    expected = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape)[0])

    [area] = geodesic_area_m2([shape])

    assert area == pytest.approx(expected, rel=1e-4)


def test_geodesic_area_of_nothing_is_nan():
    assert np.isnan(geodesic_area_m2([None])).all()


def round_trip_frame(tmp_path):
    path = geojson_file(
        tmp_path / "source.geojson",
        [
            feature(polygon(SQUARE), name="A-1", n=1, f=1.5, ok=True, day="2020-01-02"),
            feature(polygon(shifted(SQUARE, 0.01)), name="A-2", n=None, f=2.0, ok=False, day=None),
        ],
    )
    return read_polygons(path).frame


def assert_same_polygons(a, b, tolerance=1e-9):
    assert len(a) == len(b)
    for left, right in zip(a.geometry, b.geometry, strict=True):
        assert left.equals_exact(right, tolerance), (left, right)


@pytest.mark.parametrize(
    ("name", "crs"),
    [
        ("out.geojson", None),
        ("out.gpkg", None),
        ("out.gpkg", "EPSG:32647"),
        ("out.zip", "EPSG:32647"),
    ],
)
def test_read_write_read_keeps_geometries_attributes_and_crs(tmp_path, name, crs):
    first = round_trip_frame(tmp_path)

    written = write_polygons(first, tmp_path / name, crs=crs)
    second = read_polygons(written)

    assert second.source_crs == (crs or "EPSG:4326")
    assert_same_polygons(first, second.frame)
    attributes = ["name", "n", "f", "ok", "day"]
    assert second.frame[attributes].to_dict("records") == first[attributes].to_dict("records")
    assert np.allclose(second.frame.area_m2, first.area_m2, rtol=1e-9)
    assert second.frame.src_repaired.tolist() == first.repaired.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["source.geojson", name])


def test_geojson_is_written_in_lon_lat_whatever_the_crs(tmp_path):
    frame = round_trip_frame(tmp_path).to_crs("EPSG:32647")

    written = write_polygons(frame, tmp_path / "out.geojson")

    document = json.loads(written.read_text())
    assert "crs" not in document
    assert document["features"][0]["geometry"]["coordinates"][0][0][0][0] == pytest.approx(98.69)
    again = write_polygons(frame, tmp_path / "other.geojson", crs="EPSG:32647")
    assert read_polygons(again).source_crs == "EPSG:4326"


def test_writing_an_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\.geojson, \.json, \.gpkg, \.zip"):
        write_polygons(round_trip_frame(tmp_path), tmp_path / "out.kml")
