"""Files only Helpline's own user may read: the data dir, databases, uploads, the secret key.

Everything is created private from the start, never made private afterwards: a file chmod'ed
after it was written was readable by anyone in between.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("helpline")

# Group and others get nothing on whatever the process creates, including files made by
# libraries we do not open ourselves (SQLite's database, -wal and -shm files, alembic's).
PRIVATE_UMASK = 0o077


def use_private_umask() -> None:
    os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> None:
    """Create `path` 0700 (parents too); an existing directory keeps its mode, with a warning
    when others can read it (an operator may share it on purpose, e.g. with a backup group)."""
    if path.is_dir():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o007:
            log.warning(
                "data directory %s is open to other users (mode %o): chmod 700 it", path, mode
            )
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; make it exact


def create_private_file(path: Path, *, exclusive: bool = False) -> int:
    """Open `path` for writing, created 0600 (truncated if it exists); returns the descriptor.
    `exclusive`: fail with FileExistsError if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    return os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
