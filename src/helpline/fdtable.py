"""The process's file-descriptor table, grown once at start rather than while connections
arrive (decision 057).

Linux keeps a process's open files in a table that starts with 64 slots and doubles when a
new descriptor does not fit. In a process with more than one thread, doubling waits for an
RCU grace period (`expand_fdtable` -> `synchronize_rcu`) so that no thread still reads the old
table: 5.6-18.7 ms each on this machine's quiet cores, in whichever call made the descriptor.
For a server that call is `accept` on the event loop, so a crowd of customers connecting paid
it at 256, 512, 1,024, ... 16,384 connections. The table never shrinks, so growing it once to
the open-file limit at start costs one grace period, before anyone waits, and ~8 bytes of
kernel memory a slot.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

# At most this many slots (1 MB of kernel memory): where the limit is set higher (a million
# is common in containers), the table grows past it as before.
RESERVE_CAP = 131_072


def reserve(cap: int = RESERVE_CAP) -> int:
    """Grows the descriptor table to hold the open-file limit (at most `cap`) descriptors;
    returns the slots reserved, 0 if nothing was done (no such limit, or a small one)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = min(soft if soft != resource.RLIM_INFINITY else cap, cap) - 1
    if top < 1024:  # the table needs no help below the usual default limit
        return 0
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        # A descriptor at the highest number grows the table to hold it; closing it keeps
        # the table. os.dup2 would close a descriptor at that number: only a free one is taken.
        while top > fd:
            try:
                os.fstat(top)
            except OSError:
                break
            top -= 1
        else:
            return 0
        os.dup2(fd, top, inheritable=False)
        os.close(top)
    except OSError as exc:
        log.debug("descriptor table not grown: %s", exc)
        return 0
    finally:
        os.close(fd)
    return top + 1
