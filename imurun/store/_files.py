"""Durable file writes for the store: temp file + fsync + rename, then fsync of the directory.

A reader (or a process killed half-way) sees either the old file or the new one, never a torn
one. Temporary files are named ``.<name>.tmp-<pid>-<n>`` beside their target, on the same file
system so the rename is atomic; :func:`stale_temp_files` finds the ones a killed writer left.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from imurun.errors import StoreError

_counter = itertools.count()
_TEMP = re.compile(r"^\..+\.tmp-(\d+)-\d+$")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """``mkdir -p path``, durably: the entry of every directory created is fsynced in its parent.

    A file fsynced and renamed into a directory that was created just before is lost with it
    on a power cut unless the new directory's own entry is durable too.
    """
    missing: list[Path] = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)  # (another process may have made it meanwhile)
        fsync_dir(d.parent)


def _temp_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{next(_counter)}")


def atomic_write_chunks(target: Path, chunks: Iterable[bytes],
                        verify: Callable[[], None] | None = None) -> int:
    """Write ``chunks`` to ``target`` atomically; return the number of bytes written.

    ``verify`` runs after the data is durable and before the rename: if it raises, ``target``
    is left as it was.
    """
    try:
        make_dirs(target.parent)
        for stale in stale_temp_files(target.parent, recursive=False):  # killed writers'
            if stale.name.startswith(f".{target.name}.tmp-"):
                stale.unlink(missing_ok=True)
        tmp = _temp_for(target)
        n = 0
        try:
            with open(tmp, "wb") as fh:
                for c in chunks:
                    fh.write(c)
                    n += len(c)
                fh.flush()
                os.fsync(fh.fileno())
            if verify is not None:
                verify()
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
    except OSError as e:
        raise StoreError(f"cannot write {target}: {e.strerror or e}") from e
    return n


def atomic_write_bytes(target: Path, data: bytes) -> None:
    atomic_write_chunks(target, (data,))


def atomic_write_json(target: Path, obj: Any) -> None:
    atomic_write_bytes(target, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_copy(src: IO[bytes], target: Path, *, expect_sha256: str | None = None,
                block: int = 1 << 20) -> tuple[int, str]:
    """Copy the binary stream ``src`` to ``target`` atomically; return (size, sha256).

    With ``expect_sha256``, a copy whose digest differs is never published (:class:`StoreError`).
    """
    h = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        while chunk := src.read(block):
            h.update(chunk)
            yield chunk

    def verify() -> None:
        if expect_sha256 is not None and h.hexdigest() != expect_sha256:
            raise StoreError(f"{target.name}: SHA-256 {h.hexdigest()[:12]}.. differs from the "
                             f"expected {expect_sha256[:12]}.. (damaged copy)")

    n = atomic_write_chunks(target, chunks(), verify)
    return n, h.hexdigest()


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def read_json(path: Path) -> Any:
    """Parse a JSON file; :class:`StoreError` names the file when it is unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"cannot read {path}: {e}") from e


def _writer_alive(temp: Path) -> bool:
    m = _TEMP.match(temp.name)
    return m is not None and process_alive(int(m.group(1)))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (this one is)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    return True


def stale_temp_files(root: Path, *, recursive: bool = True) -> list[Path]:
    """Temporary files left by writers that were killed before their rename (their process is gone)."""
    found = root.rglob(".*.tmp-*") if recursive else root.glob(".*.tmp-*")
    return sorted(p for p in found if _TEMP.match(p.name) and not _writer_alive(p))


def remove_stale_temp_files(directory: Path) -> None:
    """Remove what killed writers left in ``directory`` (not below it)."""
    if directory.is_dir():
        for p in stale_temp_files(directory, recursive=False):
            p.unlink(missing_ok=True)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, limit: int = 80) -> str:
    """A file name made only of ``[A-Za-z0-9._-]``, never hidden, never empty."""
    base = _UNSAFE.sub("_", Path(name).name).lstrip(".") or "file"
    return base[-limit:]
