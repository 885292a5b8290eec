"""The descriptor table is grown once at start (decision 057), so that accepting connections
never waits for the kernel to grow it. Each case runs in a fresh process, whose table starts
small; `FDSize` in /proc/self/status is the table's size."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

# Linux's own default hard limit is 4,096: room for the cases below everywhere.
LIMIT = min(8192, resource.getrlimit(resource.RLIMIT_NOFILE)[1])

SCRIPT = """
import json, os, resource, sys, threading
from helpline import fdtable

case, LIMIT = sys.argv[1], int(sys.argv[2])

_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))
stop = threading.Event()
threading.Thread(target=stop.wait).start()  # with two threads, growing waits for RCU

def fdsize():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("FDSize:")).split()[1])

def open_fds():
    return sorted(int(n) for n in os.listdir("/proc/self/fd"))

held = None
if case == "top-in-use":  # a descriptor already at the top number must survive
    held = os.open(os.devnull, os.O_RDONLY)
    os.dup2(held, LIMIT - 1)
before, fds_before = fdsize(), open_fds()
reserved = fdtable.reserve(cap=2048) if case == "capped" else fdtable.reserve()
after, fds_after = fdsize(), open_fds()
many = [os.dup(0) for _ in range(1500)]
grown = fdsize()
top_open = True
if held is not None:
    try:
        os.fstat(LIMIT - 1)
    except OSError:
        top_open = False
stop.set()
print(json.dumps({
    "before": before, "reserved": reserved, "after": after, "grown": grown,
    "same_fds": fds_before == fds_after, "top_open": top_open,
}))
"""


def _run(case: str) -> dict[str, int | bool]:
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, case, str(LIMIT)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_table_is_grown_to_the_limit_and_no_descriptor_is_left_open() -> None:
    out = _run("plain")
    assert out["before"] < 1024  # a fresh process starts small
    assert out["reserved"] == LIMIT
    assert out["after"] >= LIMIT
    assert out["same_fds"]  # the descriptor that grew it is closed again
    assert out["grown"] == out["after"]  # 1,500 more descriptors: the table did not grow


def test_the_table_is_grown_at_most_to_the_cap() -> None:
    out = _run("capped")
    assert out["reserved"] == 2048
    assert 2048 <= out["after"] < LIMIT
    assert out["same_fds"]


def test_a_descriptor_at_the_top_is_kept_open() -> None:
    out = _run("top-in-use")
    assert out["top_open"]  # dup2 onto it would have closed it
    assert out["reserved"] == LIMIT - 1  # the next number down grew the table
    assert out["same_fds"]
