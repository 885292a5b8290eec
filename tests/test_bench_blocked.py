"""The benchmark's kernel-wait sampler (bench/blocked.py), which found decision 056: it must
follow the process it was pointed at, and its summary must count by thread and top frame, the
event loop's thread (the process id) named `main`."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import blocked

LOG = """\
pid 100
1796584599.303 D 100 python ext4_block_write_begin+0x367/0x4a0 | ext4_da_write_begin+0x14e/0x320 | vfs_write+0x29c/0x4c0
1796584599.314 D 100 python ext4_block_write_begin+0x367/0x4a0 | ext4_da_write_begin+0x14e/0x320 | vfs_write+0x29c/0x4c0
1796584599.646 D 104 python folio_wait_bit+0x120/0x250 | folio_wait_writeback+0x2a/0x90
1796584599.888 M dirty_kb 5228 writeback_kb 68 inflight 0
1796584600.009 D 100 python -
"""


def test_the_summary_counts_by_thread_and_top_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "blocked.log"
    log.write_text(LOG)
    blocked.summary(log)
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        ["2", "main", "ext4_block_write_begin"],
        ["1", "104", "folio_wait_bit"],
        ["1", "main", "-"],
    ]


def test_the_sampler_follows_its_process_until_it_ends(tmp_path: Path) -> None:
    marker = f"blocked-test-{uuid.uuid4().hex}"
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep(1.5)  # {marker}"])
    try:
        out = tmp_path / "blocked.log"
        blocked.sample(out, marker, interval=0.01, disk="vda")  # returns when the child ends
        lines = out.read_text().splitlines()
        assert lines[0] == f"pid {child.pid}"
        assert any(" M dirty_kb " in line for line in lines[1:])  # the machine, once a second
        assert all(line.split()[1] in ("D", "M") for line in lines[1:])
    finally:
        child.kill()
        child.wait()
