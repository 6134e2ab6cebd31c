"""One atomic write for every file mlcore hands to someone else."""

import os
import stat

import pytest

from mlcore.atomic import atomic_path, write_atomic


@pytest.fixture
def group_umask():
    """The services' umask: files readable and writable by the group (web and worker users)."""
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_the_new_file_replaces_the_old_with_the_mode_the_umask_gives(tmp_path, group_umask):
    target = tmp_path / "report.json"
    target.write_text("old")

    write_atomic(target, '{"f1": 0.5}')

    assert target.read_text() == '{"f1": 0.5}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o664
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "polygons.gpkg"
    target.write_text("old")

    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        (tmp.parent / f"{tmp.name}.aux.xml").write_text("sidecar")
        raise RuntimeError("disk full")

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["polygons.gpkg"]


def test_the_temporary_path_keeps_the_name_so_libraries_pick_the_format_by_suffix(tmp_path):
    with atomic_path(tmp_path / "probability.tif") as tmp:
        assert tmp.name == "probability.tif"
        assert tmp.parent.parent == tmp_path
        tmp.write_bytes(b"II*\x00")

    assert (tmp_path / "probability.tif").read_bytes() == b"II*\x00"


def test_a_report_json_is_readable_by_the_other_service_user(tmp_path, group_umask):
    from mlcore.evaluation.report_files import write_json

    class Tiny:
        def to_json(self):
            return {"pixel": {"f1": 1.0}}

    path = write_json(Tiny(), tmp_path / "out" / "report.json")

    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.json"]
