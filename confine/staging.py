"""Folders published atomically: staged under a temporary name, renamed into place.

The mesh cache (:mod:`confine.mesh`) and the output folders (:mod:`confine.io`)
write into a hidden sibling first, so a reader never sees a half-written
folder. This module names those staging folders after their owner
(``<prefix>_<host>_<pid>_<random>``), creates them with the modes the umask
asks for (``tempfile.mkdtemp`` would make them 0700, and ``mkstemp`` files
0600: unreadable for the group on a shared project), removes the ones a
killed run left behind, and locks a name so that concurrent processes build
it once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("confine")

#: A staging folder of a dead process on this host is removed after this age (s);
#: the grace covers a folder whose owner has only just been started.
DEAD_OWNER_AGE = 60.0
#: Any staging folder is removed after this age (s): its owner cannot be checked
#: (another host, no owner in the name: older confine) or its pid was reused; no
#: build or output write lasts this long.
MAX_AGE = 24 * 3600.0
#: flock errors that mean "this file system does not lock" (Lustre without -o flock,
#: some NFS set-ups): go on without the lock, the atomic rename still holds.
_NO_LOCKING = frozenset({errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF})


def current_umask() -> int:
    """The process umask (read from /proc where it can be, so it is never changed)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def dir_mode() -> int:
    """Mode of a new folder under the umask (what ``mkdir`` would give)."""
    return 0o777 & ~current_umask()


def file_mode() -> int:
    """Mode of a new file under the umask (what ``open(..., "w")`` would give)."""
    return 0o666 & ~current_umask()


def _host() -> str:
    # "_" separates the fields of a staging name; hostnames never hold it
    return socket.gethostname().replace("_", "-") or "localhost"


def make_staging(parent: Path, prefix: str) -> Path:
    """Create ``parent/<prefix>_<host>_<pid>_<random>`` with the umask's mode.

    Args:
        parent: where the final folder will be (created if missing).
        prefix: e.g. ``.tmp-<hash>`` or ``.<name>.partial``; ends without ``_``.

    Returns:
        The new, empty folder.
    """
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / f"{prefix}_{_host()}_{os.getpid()}_{secrets.token_hex(4)}"
        try:
            path.mkdir(mode=0o777)  # mkdir applies the umask itself
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue
        return path


def owner_of(name: str) -> tuple[str, int] | None:
    """(host, pid) encoded in a staging folder's name, or None if it has none."""
    parts = name.rsplit("_", 3)
    if len(parts) != 4 or not parts[2].isdigit() or len(parts[3]) != 8:
        return None
    return parts[1], int(parts[2])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether a staging folder was left by a run that is gone.

    Stale: older than :data:`MAX_AGE`; or its owner ran on this host, is no
    longer alive and the folder is older than :data:`DEAD_OWNER_AGE`.
    """
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > MAX_AGE:
        return True
    owner = owner_of(path.name)
    if owner is None or owner[0] != _host():
        return False
    return age > DEAD_OWNER_AGE and not _pid_alive(owner[1])


def remove_stale(parent: Path, *patterns: str) -> list[Path]:
    """Remove the stale staging folders matching ``parent/<pattern>`` (see :func:`is_stale`).

    Returns:
        The folders removed.
    """
    removed = []
    with contextlib.suppress(FileNotFoundError):
        found = {path for pattern in patterns for path in parent.glob(pattern)}
        for path in sorted(found):
            if path.is_dir() and is_stale(path):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                log.debug("removed the stale staging folder %s", path)
    return removed


def _open_lock(lock_file: Path) -> int:
    try:
        return os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file without group write
        return os.open(lock_file, os.O_RDONLY)


@contextlib.contextmanager
def exclusive(lock_file: Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``lock_file`` for the block (waits for it).

    The holder removes the file when it is done, so a cache holds no lock files
    between builds; a waiter that then wakes up on the removed file opens the
    path again (the usual flock-and-unlink protocol). The kernel releases a
    lock when its holder exits, killed or not, so no lock outlives a run. Where
    the file system cannot lock, the block runs unlocked (with a warning).

    Yields:
        Whether the lock is held.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = _open_lock(lock_file)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as err:
            os.close(fd)
            if err.errno not in _NO_LOCKING:
                raise
            log.warning("warning: %s: cannot lock (%s); going on without the lock", lock_file, err)
            yield False
            return
        try:
            on_disk = os.stat(lock_file)
            held = os.fstat(fd)
            if (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the previous holder removed this file: lock the current one
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            lock_file.unlink()  # while still held (see above)
        os.close(fd)
