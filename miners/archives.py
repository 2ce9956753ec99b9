"""Source archives from registries, unpacked safely: no member escapes its folder, unsafe tar
members are dropped, unsafe zips refused."""

from __future__ import annotations

import os
import tarfile
import tempfile
import zipfile
from fnmatch import fnmatch
from pathlib import Path

from envmine.miners.registry_http import RegistryError


def readable(archive: Path) -> bool:
    """Whether `archive` is a zip or tar whose members can all be read."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return zf.testzip() is None
    try:
        with tarfile.open(archive) as tar:
            return tar.getmembers() is not None
    except (tarfile.TarError, EOFError, OSError):
        return False


def extract(archive: Path, dest: Path, ignored: tuple[str, ...], prefix: str | None = None) -> None:
    """Unpack a .tar.gz/.tgz/.crate/.tar.bz2/.zip into `dest`, dropping `prefix` (default:
    the single top folder) and members matching `ignored`. Unsafe members are refused."""
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        out = Path(scratch)
        if zipfile.is_zipfile(archive):
            _unzip(archive, out)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(out, filter=_safe_member)
        top = out / prefix if prefix else _single_top(out)
        for path in sorted(top.rglob("*"), key=lambda p: len(p.parts)):
            rel = path.relative_to(top).as_posix()
            if any(fnmatch(rel, pattern) or fnmatch(path.name, pattern) for pattern in ignored):
                continue
            target = dest / rel
            if path.is_symlink() or path.is_file():
                if not target.parent.is_dir():
                    continue  # its folder was ignored
                os.replace(path, target)
            elif path.is_dir() and (target.parent.is_dir()):
                target.mkdir(exist_ok=True)


def _safe_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's `data` filter, but an unsafe member is dropped instead of failing the archive."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def _unzip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise RegistryError(f"{archive.name}: unsafe member {info.filename!r}", False)
        zf.extractall(out)


def _single_top(out: Path) -> Path:
    children = list(out.iterdir())
    return children[0] if len(children) == 1 and children[0].is_dir() else out
