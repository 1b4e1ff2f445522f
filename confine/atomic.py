"""The one atomic file writer: readers see the old or the whole new content, never a part.

Every file that another process may read while it is written (metrics.json,
a sweep's markers and table, benchmark records) goes through
:func:`write_text`: a temporary sibling, flushed and synced, then renamed over
the target. The file gets the mode the umask asks for (``mkstemp`` would make
it 0600, unreadable for the group on a shared project).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from confine import staging


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, creating its folder.

    The temporary file sits beside ``path`` (same file system, so the rename is
    atomic) and is removed if writing fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, staging.file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
