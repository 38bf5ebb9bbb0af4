"""Safe file writes: a workbook is either written in full or not at all.

:func:`atomic_write` writes to a temporary file next to the target, flushes it to disk and
then renames it onto the target in one step (``os.replace``). If anything fails on the way,
the temporary file is removed and the old target, if any, is left exactly as it was, so a
crash or a full disk never leaves a half-written workbook behind.

The results writers also hold a lock on the temporary file while they write it
(:func:`locked`): a temporary file left behind by a killed process (``.NAME.<hex>.tmp`` next
to the target) is unlocked, and :func:`clean_stale_temps` removes it on the next write to
the same target (POSIX; on Windows it stays until deleted by hand). :func:`write_backup`
copies a file's old content to a new backup next to it, never replacing one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from cipmodel.errors import WorkbookError

try:  # POSIX advisory locks mark a temporary file as being written
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "NAME_MAX",
    "atomic_write",
    "check_writable",
    "clean_stale_temps",
    "locked",
    "temp_name",
    "write_backup",
]


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that ``path`` can be written and return it as a :class:`~pathlib.Path`.

    Raises
    ------
    WorkbookError
        If the folder does not exist, ``path`` is a folder, or the file exists and
        ``overwrite`` is false.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        msg = f"cannot write {target.name}: the folder {str(folder)!r} does not exist"
        raise WorkbookError(msg)
    if target.is_dir():
        msg = f"cannot write {target.name}: {str(target)!r} is a folder"
        raise WorkbookError(msg)
    if target.exists() and not overwrite:
        msg = (
            f"{target.name} already exists: choose another name, delete it, "
            "or pass overwrite=True (--force on the command line)"
        )
        raise WorkbookError(msg)
    return target


def _os_error(target: Path, exc: OSError) -> WorkbookError:
    """A user-facing WorkbookError for an OS error while writing ``target``."""
    if isinstance(exc, PermissionError):
        msg = (
            f"cannot write {target.name}: permission denied (is it open in Excel, "
            "or is the folder read-only?)"
        )
    elif exc.errno == errno.ENOSPC:
        msg = f"cannot write {target.name}: the disk is full"
    elif isinstance(exc, FileNotFoundError):
        msg = f"cannot write {target.name}: the folder {str(target.parent)!r} does not exist"
    else:
        msg = f"cannot write {target.name}: {exc.strerror or exc}"
    return WorkbookError(msg)


def atomic_write(path: str | os.PathLike[str], writer_fn: Callable[[Path], object]) -> Path:
    """Write a file through ``writer_fn`` so that it appears complete or not at all.

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    writer_fn : callable
        Called with the path of a new, empty temporary file in the same folder; it must
        write the whole content to that path (e.g. ``workbook.save``).

    Returns
    -------
    pathlib.Path
        The target path.

    Raises
    ------
    WorkbookError
        If the folder is missing or the file cannot be written (permission, disk full).
        Any other exception raised by ``writer_fn`` propagates unchanged. In every failure
        the temporary file is removed and an existing target is left untouched.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        msg = f"cannot write {target.name}: the folder {str(folder)!r} does not exist"
        raise WorkbookError(msg)
    tmp = folder / temp_name(target.name)
    try:
        # O_EXCL: never reuse an existing file; mode 0o666 lets the umask decide, as for a
        # normally created file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        if target.exists():
            with contextlib.suppress(OSError):
                os.chmod(tmp, target.stat().st_mode & 0o7777)
        writer_fn(tmp)
        with open(tmp, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise _os_error(target, exc) from exc
    except BaseException:
        _remove(tmp)
        raise
    _fsync_folder(folder)
    return target


def _remove(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def _fsync_folder(folder: Path) -> None:
    """Flush the rename to disk where the platform allows it (not on Windows)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def locked(save: Callable[[Path], object]) -> Callable[[Path], None]:
    """A writer for atomic_write that holds a lock on the temporary file while it writes."""

    def writer(tmp: Path) -> None:
        with open(tmp, "rb+") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            save(tmp)

    return writer


#: The longest file name most file systems allow, in bytes.
NAME_MAX = 255


def _temp_stem(name: str, middle: str) -> str:
    """``name`` shortened by whole characters so that ``.NAME.<middle><12 hex>.tmp`` stays
    within :data:`NAME_MAX` bytes (a legal 250-byte output name must still be writable)."""
    room = NAME_MAX - len(f"..{middle}{'0' * 12}.tmp".encode())
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= room:
        return name
    return encoded[:room].decode("utf-8", "ignore")


def temp_name(name: str, middle: str = "") -> str:
    """A new temporary name next to ``name``: ``.NAME.<middle><12 hex>.tmp`` (NAME shortened
    where the whole would pass :data:`NAME_MAX` bytes)."""
    return f".{_temp_stem(name, middle)}.{middle}{secrets.token_hex(6)}.tmp"


def clean_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed write to ``target`` left behind; return them.

    A temporary file (``.NAME.<12 hex>.tmp``, or ``.NAME.bak.<12 hex>.tmp`` for a backup,
    next to ``target``) is stale when no process holds its lock. Nothing is removed where
    file locks are not available (Windows).
    """
    t = Path(target)
    if fcntl is None or not t.parent.is_dir():
        return []
    pattern = re.compile(
        rf"^\.(?:{re.escape(_temp_stem(t.name, ''))}\.|{re.escape(_temp_stem(t.name, 'bak.'))}\.bak\.)"
        r"[0-9a-f]{12}\.tmp$"
    )
    removed = []
    for entry in t.parent.iterdir():
        if not pattern.match(entry.name):
            continue
        try:
            fd = os.open(entry, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _backup_path(p: Path) -> Path:
    stem, suffix = p.stem, p.suffix
    n = 1
    while True:
        name = f"{stem}.bak{suffix}" if n == 1 else f"{stem}.bak-{n}{suffix}"
        cand = p.with_name(name)
        if not cand.exists():
            return cand
        n += 1


def write_backup(p: Path, data: bytes) -> Path:
    """Copy ``data`` to a new backup file next to ``p``; never replaces an existing file."""
    tmp = p.with_name(temp_name(p.name, "bak."))
    try:
        with open(tmp, "xb") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(p, tmp)
        while True:
            backup = _backup_path(p)
            try:
                os.link(tmp, backup)  # atomic, and fails if the name was taken meanwhile
                break
            except FileExistsError:
                continue
            except OSError:  # no hard links on this file system
                if backup.exists():
                    continue
                os.replace(tmp, backup)
                break
    except OSError as exc:
        msg = f"{p.name} was not changed: its backup could not be written ({exc.strerror or exc})"
        raise WorkbookError(msg) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return backup
