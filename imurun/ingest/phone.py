"""What the readers of phone-app exports share (:mod:`.sensorlogger`, :mod:`.phyphox`).

* an export's files, from its folder, from the zip the app shares, or from the folder of one of
  its files (:func:`export_files`);
* sensors sampled apart, put on one time base without interpolating across a hole
  (:func:`onto`);
* the one zip of the files read that the library keeps, the same bytes for the same export
  (:func:`pack_files`).

Files are named by their path inside the export, ``/``-separated, with any folder the zip puts
them in left out: ``Gyroscope.csv``, ``meta/time.csv``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import numpy.typing as npt

from imurun.errors import FileFormatError

FloatArray = npt.NDArray[np.float64]
#: How much of a file :meth:`TextReader.first_line` reads at most.
FIRST_LINE_BYTES = 64 * 1024


class TextReader:
    """One file of an export, read when asked.

    ``reader()`` gives its text, :meth:`first_line` only its first line, without reading the
    rest (telling an export's files apart by their headers must not read hundreds of
    megabytes). Both raise :class:`FileFormatError` when the file cannot be read.
    """

    def __init__(self, where: str, name: str,
                 read_bytes: Callable[[int | None], bytes]) -> None:
        self._where = where  # the zip or the file (for messages)
        self._name = name  # the member of the zip, or "" for a file
        self._read = read_bytes  # (None: all of it; n: its first line, at most n bytes)

    def _bytes(self, limit: int | None) -> bytes:
        try:
            return self._read(limit)
        except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:
            if self._name:
                raise FileFormatError(self._where, f"cannot read {self._name} from the zip "
                                                   f"({e}): a damaged zip; get the export "
                                                   "again") from e
            raise FileFormatError(self._where, "cannot read: "
                                               f"{getattr(e, 'strerror', None) or e}") from e

    def __call__(self) -> str:
        data = self._bytes(None)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            where = f"{self._where}: {self._name}" if self._name else self._where
            raise FileFormatError(where, "not UTF-8 text") from e
        # every line end as "\n", as a file opened as text reads (a lone "\r" would otherwise
        # stay inside a line, where the csv module refuses it)
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def first_line(self) -> str:
        """The file's first line (at most :data:`FIRST_LINE_BYTES`), without its line end.

        Bytes that are not UTF-8 are replaced (a header check only: the whole file is checked
        when it is read).
        """
        data = self._bytes(FIRST_LINE_BYTES)
        text = data.decode("utf-8-sig", errors="replace")
        return text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]


#: Subfolders of an export whose files are read too (phyphox's ``meta/``).
_SUBFOLDERS = ("meta",)


def _key(name: str) -> str:
    """A zip member's or file's name inside its export: ``x/y/meta/time.csv`` -> ``meta/time.csv``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if len(parts) >= 2 and parts[-2] in _SUBFOLDERS:
        return f"{parts[-2]}/{parts[-1]}"
    return parts[-1] if parts else ""


def is_zip_path(p: Path) -> bool:
    """Whether ``p`` is a file that starts as a zip does (whole or not)."""
    try:
        with open(p, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def export_files(path: str | Path, accept: Callable[[str], bool],
                 ) -> tuple[str, dict[str, TextReader]] | None:
    """``(where, {name inside the export: read its text})`` of the files ``accept`` takes.

    ``path`` is an export's folder, its zip, or one of its files (whose folder is read). In a
    zip, the first member of each name is taken, in the zip's order. ``None`` when ``accept``
    takes no file there, or ``path`` is a zip that cannot be opened (damaged or cut short: its
    folder is not read instead).
    """
    p = Path(path)
    if p.is_file() and is_zip_path(p):
        try:
            with zipfile.ZipFile(p) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
        except (OSError, zipfile.BadZipFile):
            return None
        found: dict[str, TextReader] = {}
        for n in names:
            k = _key(n)
            if k and not PurePosixPath(k).name.startswith(".") and accept(k) and k not in found:
                found[k] = _member(p, n)
        return (str(p), found) if found else None
    folder = p if p.is_dir() else p.parent
    try:
        files = [f for f in folder.iterdir() if f.is_file()]
        for sub in _SUBFOLDERS:
            if (folder / sub).is_dir():
                files += [f for f in (folder / sub).iterdir() if f.is_file()]
    except OSError:
        return None
    found = {}
    for f in sorted(files):
        k = f.name if f.parent == folder else f"{f.parent.name}/{f.name}"
        if not f.name.startswith(".") and accept(k):
            found[k] = _file(f)
    return (str(folder), found) if found else None


def _member(zip_path: Path, name: str) -> TextReader:
    def read_bytes(limit: int | None) -> bytes:
        with zipfile.ZipFile(zip_path) as z, z.open(name) as fh:
            return fh.read() if limit is None else fh.readline(limit)
    return TextReader(str(zip_path), name, read_bytes)


def _file(f: Path) -> TextReader:
    def read_bytes(limit: int | None) -> bytes:
        with open(f, "rb") as fh:
            return fh.read() if limit is None else fh.readline(limit)
    return TextReader(str(f), "", read_bytes)


def onto(t: FloatArray, ts: FloatArray, xs: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """``xs`` (sampled at ``ts``) interpolated onto ``t``, and where that is possible.

    Possible where ``t`` falls between two samples of ``xs`` at most 1.5 of its median periods
    apart (or on one): never across a hole in ``ts`` (samples lost, a pause).
    """
    step = float(np.median(np.diff(ts)))
    j = np.clip(np.searchsorted(ts, t), 1, len(ts) - 1)
    ok = (t >= ts[0]) & (t <= ts[-1]) & (ts[j] - ts[j - 1] <= 1.5 * step)
    with np.errstate(over="ignore", invalid="ignore"):  # (values beyond float64: not finite)
        out = np.column_stack([np.interp(t, ts, xs[:, k]) for k in range(3)])
    return out, ok


def pack_files(where: str, files: Mapping[str, TextReader],
               out_dir: str | os.PathLike[str]) -> Path:
    """The files of an export as one zip in ``out_dir``, named after its folder (or zip).

    The same export gives the same bytes (sorted members, fixed dates), so that a library,
    which keys a recording by its SHA-256, holds it once however often it is imported, as its
    folder, its zip or one of its files.
    """
    out = Path(out_dir) / f"{Path(where).stem}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name]().encode("utf-8"))
    return out
