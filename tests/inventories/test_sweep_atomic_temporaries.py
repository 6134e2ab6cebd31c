"""A dead worker's half-written file goes, and so does mlcore.atomic's temporary folder."""

import pytest

from inventories.services.files import media_path, new_relative_path, sweep_journal
from mlcore.atomic import atomic_path


def test_the_sweep_removes_the_temporary_folder_a_dead_worker_left(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    relative = new_relative_path("scenes", ".tif", stem="slope")
    target = media_path(relative)
    target.parent.mkdir(parents=True)
    journal = tmp_path / "journal"
    journal.write_text(relative + "\n")

    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a GeoTIFF")
        (tmp.parent / "slope.tif.aux.xml").write_text("<PAMDataset/>")
        sweep_journal(journal, keep=lambda relative: False)  # the worker is dead; the reaper runs
        assert not tmp.parent.exists()
        raise RuntimeError("the worker never comes back")

    assert not target.parent.exists()
    assert not journal.exists()


def test_the_sweep_keeps_a_file_the_job_stored(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    relative = new_relative_path("scenes", ".tif")
    target = media_path(relative)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stored")
    journal = tmp_path / "journal"
    journal.write_text(relative + "\n")

    sweep_journal(journal, keep=lambda relative: True)

    assert target.read_bytes() == b"stored"
