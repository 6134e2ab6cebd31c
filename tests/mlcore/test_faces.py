"""mlcore's package faces: every listed name is there, and reading a face costs nothing."""

import importlib
import pkgutil
import subprocess
import sys

import pytest

import mlcore

FACES = ["mlcore", *(f"mlcore.{name}" for name in mlcore.__all__ if name[0].islower())]


@pytest.mark.parametrize("package", FACES)
def test_every_name_a_face_lists_resolves(package):
    face = importlib.import_module(package)

    missing = [name for name in face.__all__ if getattr(face, name, None) is None]

    assert face.__all__ and missing == []
    assert set(face.__all__) <= set(dir(face))


@pytest.mark.parametrize("package", FACES)
def test_no_face_name_hides_a_module_of_the_same_name(package):
    face = importlib.import_module(package)
    modules = {info.name for info in pkgutil.iter_modules(face.__path__)}

    clashes = set(face.__all__) & modules
    if package == "mlcore":  # the top face lists the stage packages themselves
        clashes -= {name for name in face.__all__ if name[0].islower()}

    assert clashes == set()


def test_an_unknown_name_is_an_attribute_error_naming_the_package():
    with pytest.raises(AttributeError, match="'mlcore.vector' has no attribute 'read_raster'"):
        mlcore.vector.read_raster  # noqa: B018


def test_submodules_still_import_through_the_face():
    from mlcore.vector import polygons

    assert polygons.read_polygons is mlcore.vector.read_polygons


def test_reading_the_vector_and_raster_faces_does_not_load_torch():
    code = (
        "import sys; from mlcore.vector import read_polygons; "
        "from mlcore.raster import open_geotiff; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
