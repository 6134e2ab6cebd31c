"""Copying the one Shapefile out of an uploaded zip, safely.

A zip's member names, sizes and file modes are the uploader's to choose, so
every member is checked before anything is written: no absolute paths, no
"..", no symbolic links, a bounded count and total size. The parts are
written under names we choose in a fresh folder that is always removed, and
GDAL opens only those copies.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from mlcore.vector.formats import (
    SHAPEFILE_PARTS,
    RawLayer,
    VectorFileError,
    check_size,
    quoted,
    read_gdal,
)

MAX_ZIP_MEMBERS = 1000
_REQUIRED_PARTS = (".shp", ".shx", ".dbf")
_SHAPE_FILE_CODE = b"\x00\x00\x27\x0a"  # 9994, big-endian: the .shp and .shx header
_DBF_VERSIONS = frozenset(
    {0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x32, 0x43, 0x63, 0x83, 0x8B, 0x8E, 0xCB, 0xE5, 0xF5, 0xFB}
)


def read_zipped_shapefile(
    path: Path, *, layer: str | None, max_bytes: int, max_features: int
) -> RawLayer:
    """Read the one Shapefile in the zip at `path`; its layer is the .shp's stem."""
    check_size(path, max_bytes)
    with extracted_shapefile(path, max_bytes) as (shp, stem):
        if layer not in (None, stem):
            raise VectorFileError(
                f"{path.name} holds one Shapefile layer, {stem!r}, not {layer!r}."
            )
        return read_gdal(path, str(shp), "ESRI Shapefile", None, stem, max_features)


@contextmanager
def extracted_shapefile(path: Path, max_bytes: int) -> Iterator[tuple[Path, str]]:
    """Copy the one Shapefile out of a zip into a fresh folder; yield its .shp and stem.

    Every member is checked before anything is written, and the copy stops at
    the sizes the zip declared, so a zip bomb or a hostile name never reaches
    the disk. The folder is removed however the caller leaves.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VectorFileError(f"{path.name} is not a readable zip file ({exc}).") from None
    with archive, tempfile.TemporaryDirectory(prefix="scarp-shp-") as folder:
        members = _checked_members(archive, path.name, max_bytes)
        shp = _the_one_shapefile(members, path.name)
        parts = _shapefile_parts(members, shp, path.name)
        for suffix, info in parts.items():
            _copy_bounded(archive, info, Path(folder) / f"layer{suffix}", path.name)
        _check_signatures(Path(folder), parts, path.name)
        yield Path(folder) / "layer.shp", PurePosixPath(shp.filename).stem


def _checked_members(archive: zipfile.ZipFile, name: str, max_bytes: int) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise VectorFileError(
            f"{name} holds {len(infos):,} files, more than {MAX_ZIP_MEMBERS}; "
            "zip only the Shapefile's .shp, .shx, .dbf, .prj and .cpg."
        )
    for info in infos:
        parts = re.split(r"[\\/]", info.filename)
        if info.filename.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", info.filename):
            raise VectorFileError(f"{name} holds {info.filename!r}, an absolute path; refused.")
        if ".." in parts:
            raise VectorFileError(f"{name} holds {info.filename!r}, which points outside; refused.")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise VectorFileError(f"{name} holds {info.filename!r}, a symbolic link; refused.")
        if info.flag_bits & 0x1:
            raise VectorFileError(f"{name} is password-protected; zip it again without one.")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise VectorFileError(
            f"{name} would unpack to {total:,} bytes, more than the {max_bytes:,} allowed; "
            "split the inventory into smaller files."
        )
    return [i for i in infos if not i.is_dir() and not i.filename.startswith("__MACOSX/")]


def _the_one_shapefile(members: list[zipfile.ZipInfo], name: str) -> zipfile.ZipInfo:
    shps = [info for info in members if info.filename.lower().endswith(".shp")]
    if len(shps) == 1:
        return shps[0]
    if not shps:
        found = quoted([info.filename for info in members][:10]) or "nothing"
        raise VectorFileError(
            f"{name} holds no .shp file (found {found}); zip a Shapefile's .shp, .shx, .dbf "
            "and .prj together."
        )
    raise VectorFileError(
        f"{name} holds {len(shps)} Shapefiles ({quoted([i.filename for i in shps])}); "
        "upload one Shapefile per zip."
    )


def _shapefile_parts(
    members: list[zipfile.ZipInfo], shp: zipfile.ZipInfo, name: str
) -> dict[str, zipfile.ZipInfo]:
    stem = shp.filename[:-4]
    parts: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        head, suffix = info.filename[:-4], info.filename[-4:].lower()
        if head == stem and suffix in SHAPEFILE_PARTS:
            parts[suffix] = info
    missing = [suffix for suffix in _REQUIRED_PARTS if suffix not in parts]
    if missing:
        raise VectorFileError(
            f"{name}: the Shapefile {shp.filename!r} has no {' or '.join(missing)} beside it; "
            "zip all of its files together."
        )
    return parts


def _copy_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, name: str) -> None:
    written = 0
    try:
        with archive.open(info) as source, target.open("xb") as sink:
            while chunk := source.read(1 << 20):
                written += len(chunk)
                if written > info.file_size:
                    raise VectorFileError(
                        f"{name}: {info.filename!r} unpacks to more than the size it declares; "
                        "refused as a possible zip bomb."
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise VectorFileError(f"{name}: {info.filename!r} is damaged ({exc}).") from None


def _check_signatures(folder: Path, parts: dict[str, zipfile.ZipInfo], name: str) -> None:
    """Refuse parts that are not what their names say before GDAL opens any of them.

    pyogrio cannot restrict which driver opens a .shp, so GDAL would open one
    that is really VRT XML with the VRT driver, which reads any file or URL it
    names. The Shapefile driver is the only one that claims a .shp with the
    Shapefile header, so checking the bytes is what names the driver here.
    """
    for suffix in _REQUIRED_PARTS:
        with (folder / f"layer{suffix}").open("rb") as fh:
            head = fh.read(100)
        if suffix == ".dbf":
            looks_right = len(head) >= 32 and head[0] in _DBF_VERSIONS
        else:
            looks_right = len(head) == 100 and head.startswith(_SHAPE_FILE_CODE)
        if not looks_right:
            member = parts[suffix].filename
            raise VectorFileError(
                f"{name}: {member!r} is not a Shapefile {suffix} (its first bytes are not a "
                f"Shapefile {suffix} header); zip the files your GIS wrote, unchanged."
            )
