"""Safe file writes: a file is either written in full or not at all, and never through a
link or over an input.

:func:`atomic_write` writes to a temporary file next to the target, flushes it to disk and
then renames it onto the target in one step (``os.replace``; without ``overwrite``, a hard
link that fails if the target appeared meanwhile). If anything fails on the way, the
temporary file is removed and the old target, if any, is left exactly as it was, so a
crash or a full disk never leaves a half-written file behind.

The temporary file (``.NAME.<hex>.tmp`` next to the target) is locked from the moment it
gets that name until it has been renamed onto the target: it is created under a name no
cleaner looks at (``.NAME.<hex>.new``), locked, and only then renamed. So a temporary file
left behind by a killed process is exactly one that nobody holds, and
:func:`clean_stale_temps` removes it on the next write to the same target, while several
processes writing the same target at once never remove each other's (POSIX; on Windows it
stays until deleted by hand). :func:`write_backup` copies a file's old content to a new
backup next to it, never replacing one (nor a link of any kind at a backup name).

A target that is a symbolic link is refused: cipmodel never writes through a link, nor
replaces one with a file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from cipmodel.errors import WorkbookError

try:  # POSIX advisory locks mark a temporary file as being written
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "atomic_write",
    "check_writable",
    "clean_stale_temps",
    "locked",
    "same_file",
    "write_backup",
]

#: Longest file name most file systems allow (bytes); a temporary name must fit in it.
NAME_MAX = 255
#: ``.`` + ``.<12 hex>`` + ``.bak`` + ``.tmp``: what a temporary name adds to the target's.
_TEMP_EXTRA = 1 + 13 + 4 + 4
#: A ``.new`` file (a temporary file being born) older than this and unlocked is stale.
_BIRTH_STALE_S = 60.0
#: Backup names tried before giving up (``NAME.bak.xlsx``, ``NAME.bak-2.xlsx``, ...).
_MAX_BACKUPS = 10_000


def _temp_stem(target: Path) -> str:
    """The target's name as used in its temporary names: the name itself, or, when a
    temporary name would be too long, a shortened name plus a digest of the full one."""
    name = target.name
    if len(os.fsencode(name)) + _TEMP_EXTRA <= NAME_MAX:
        return name
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:10]
    short = os.fsencode(name)[: NAME_MAX - _TEMP_EXTRA - 12].decode("utf-8", "ignore")
    return f"{short}~{digest}"


def _is_link(p: Path) -> bool:
    return os.path.islink(p)


def check_writable(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that ``path`` can be written and return it as a :class:`~pathlib.Path`.

    Raises
    ------
    WorkbookError
        If the folder does not exist, ``path`` is a folder or a symbolic link, or the file
        exists and ``overwrite`` is false.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        msg = f"cannot write {target.name}: the folder {str(folder)!r} does not exist"
        raise WorkbookError(msg)
    if _is_link(target):
        msg = (
            f"cannot write {target.name}: it is a symbolic link, and cipmodel never writes "
            "through a link; give the real file's path or another name"
        )
        raise WorkbookError(msg)
    if target.is_dir():
        msg = f"cannot write {target.name}: {str(target)!r} is a folder"
        raise WorkbookError(msg)
    if os.path.lexists(target) and not overwrite:
        msg = (
            f"{target.name} already exists: choose another name, delete it, "
            "or pass overwrite=True (--force on the command line)"
        )
        raise WorkbookError(msg)
    return target


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` are one file (through links, hard links, ``..``): both
    exist and share device and inode (or resolve to the same path)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return Path(a).resolve() == Path(b).resolve()
        except (OSError, RuntimeError):
            return False


def _os_error(target: Path, exc: OSError) -> WorkbookError:
    """A user-facing WorkbookError for an OS error while writing ``target``."""
    if isinstance(exc, PermissionError):
        msg = (
            f"cannot write {target.name}: permission denied (is it open in Excel, "
            "or is the folder read-only?)"
        )
    elif exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        msg = f"cannot write {target.name}: the disk is full (nothing was changed)"
    elif exc.errno == errno.ENAMETOOLONG:
        msg = f"cannot write {target.name[:60]}...: the file name is too long"
    elif isinstance(exc, FileNotFoundError):
        msg = f"cannot write {target.name}: the folder {str(target.parent)!r} does not exist"
    else:
        msg = f"cannot write {target.name}: {exc.strerror or exc}"
    return WorkbookError(msg)


def _locked_temp(folder: Path, stem: str, kind: str = "") -> tuple[Path, int]:
    """A new, empty temporary file ``.STEM.[kind.]<hex>.tmp`` in ``folder``, locked from
    before it has that name: (its path, the open descriptor holding the lock)."""
    token = secrets.token_hex(6)
    birth = folder / f".{stem}.{kind}{token}.new"
    tmp = folder / f".{stem}.{kind}{token}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    # O_EXCL: never reuse an existing file; mode 0o666 lets the umask decide
    fd = os.open(birth, flags, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(birth, tmp)
    except BaseException:
        os.close(fd)
        _remove(birth)
        raise
    return tmp, fd


def atomic_write(
    path: str | os.PathLike[str],
    writer_fn: Callable[[Path], object],
    *,
    overwrite: bool = True,
) -> Path:
    """Write a file through ``writer_fn`` so that it appears complete or not at all.

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    writer_fn : callable
        Called with the path of a new, empty temporary file in the same folder; it must
        write the whole content to that path (e.g. ``workbook.save``).
    overwrite : bool
        Replace an existing file (default). With False an existing file, or one that
        appears while this one is written, is an error and is left as it is.

    Returns
    -------
    pathlib.Path
        The target path.

    Raises
    ------
    WorkbookError
        If the folder is missing, the target is a symbolic link (never written through),
        it exists and ``overwrite`` is false, or the file cannot be written (permission,
        disk full). Any other exception raised by ``writer_fn`` propagates unchanged. In
        every failure the temporary file is removed and an existing target is left
        untouched.
    """
    target = check_writable(path, overwrite=overwrite)
    folder = target.parent
    try:
        tmp, fd = _locked_temp(folder, _temp_stem(target))
    except OSError as exc:
        raise _os_error(target, exc) from exc
    try:
        if os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.chmod(tmp, os.stat(target, follow_symlinks=False).st_mode & 0o7777)
        writer_fn(tmp)
        os.fsync(fd)  # the lock's descriptor is the same file: flushes what writer_fn wrote
        _put_in_place(tmp, target, overwrite)
    except OSError as exc:
        _remove(tmp)
        raise _os_error(target, exc) from exc
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(fd)
    _fsync_folder(folder)
    return target


def _put_in_place(tmp: Path, target: Path, overwrite: bool) -> None:
    """Rename ``tmp`` onto ``target`` in one step; without ``overwrite``, never over a
    file (or link) that exists by now."""
    if _is_link(target):
        msg = f"cannot write {target.name}: a symbolic link appeared at that name meanwhile"
        raise WorkbookError(msg)
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if the name is taken, whatever it is
    except FileExistsError:
        msg = f"{target.name} appeared while it was being written: it was left as it is"
        raise WorkbookError(msg) from None
    except OSError:  # no hard links on this file system
        if os.path.lexists(target):
            msg = f"{target.name} appeared while it was being written: it was left as it is"
            raise WorkbookError(msg) from None
        os.replace(tmp, target)
        return
    _remove(tmp)


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
    """``save`` as a writer for :func:`atomic_write` (kept for callers written when the lock
    was taken here: :func:`atomic_write` now holds it from the temporary file's creation)."""

    def writer(tmp: Path) -> None:
        save(tmp)

    return writer


def clean_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed write to ``target`` left behind; return them.

    A temporary file (``.NAME.<12 hex>.tmp``, or ``.NAME.bak.<12 hex>.tmp`` for a backup,
    next to ``target``) is stale when no process holds its lock; a ``.new`` one (killed
    in the microseconds between creating and locking it) when it is also a minute old.
    Nothing is removed where file locks are not available (Windows).
    """
    t = Path(target)
    if fcntl is None or not t.parent.is_dir():
        return []
    stem = re.escape(_temp_stem(t))
    pattern = re.compile(rf"^\.{stem}\.(?:bak\.)?[0-9a-f]{{12}}\.(tmp|new)$")
    removed = []
    for entry in t.parent.iterdir():
        m = pattern.match(entry.name)
        if m is None or (m.group(1) == "new" and not _older_than(entry, _BIRTH_STALE_S)):
            continue
        if _remove_if_unlocked(entry):
            removed.append(entry)
    return removed


def _older_than(p: Path, seconds: float) -> bool:
    try:
        return time.time() - os.stat(p, follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


def _remove_if_unlocked(entry: Path) -> bool:
    """Remove ``entry`` if it is a plain file nobody holds a lock on."""
    try:
        fd = os.open(entry, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False  # gone meanwhile, a link, or not ours to open
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False  # a live writer holds it
    try:
        # still the file we locked? (a writer may have renamed it onto its target)
        if os.path.samestat(os.fstat(fd), os.stat(entry, follow_symlinks=False)):
            entry.unlink()
            return True
        return False
    except OSError:
        return False
    finally:
        os.close(fd)


def _backup_path(p: Path) -> Path:
    """The first free backup name: ``NAME.bak.xlsx``, ``NAME.bak-2.xlsx``, ...; a name held
    by anything, a dangling or looping link included, is taken."""
    stem, suffix = p.stem, p.suffix
    for n in range(1, _MAX_BACKUPS + 1):
        name = f"{stem}.bak{suffix}" if n == 1 else f"{stem}.bak-{n}{suffix}"
        cand = p.with_name(name)
        if not os.path.lexists(cand):
            return cand
    msg = f"{p.name} was not changed: there are {_MAX_BACKUPS:,} backups of it already"
    raise WorkbookError(msg)


def write_backup(p: Path, data: bytes) -> Path:
    """Copy ``data`` to a new backup file next to ``p``; never replaces an existing file
    (nor a link)."""
    tmp: Path | None = None
    try:
        tmp, fd = _locked_temp(p.parent, _temp_stem(p), "bak.")
        try:
            with os.fdopen(os.dup(fd), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(OSError):
                shutil.copymode(p, tmp)
            backup = _link_backup(p, tmp)
        finally:
            os.close(fd)
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or exc)
        msg = f"{p.name} was not changed: its backup could not be written ({reason})"
        raise WorkbookError(msg) from exc
    finally:
        if tmp is not None:
            _remove(tmp)
    return backup


def _link_backup(p: Path, tmp: Path) -> Path:
    """Give ``tmp`` the first free backup name, atomically (a name taken meanwhile is
    skipped); every attempt moves to a later name, so this always ends."""
    tried: set[Path] = set()
    while True:
        backup = _backup_path(p)
        if backup in tried:  # pragma: no cover - lexists said free, link said taken
            msg = f"{p.name} was not changed: its backup name {backup.name} cannot be used"
            raise WorkbookError(msg)
        tried.add(backup)
        try:
            os.link(tmp, backup)  # atomic, and fails if the name was taken meanwhile
            return backup
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if os.path.lexists(backup):
                continue
            os.replace(tmp, backup)
            return backup
