"""The benchmark's perf reader (bench/perf_summary.py): `bench/run.py --perf` prints where a
server's CPU went from it, so its attribution must be right. Fed `perf script` text as perf
writes it (no perf needed to run this)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import perf_summary

# Four samples of a server (pid 100) as `perf script` prints them: a socket write and a WAL
# write in the kernel, the interpreter, SQLite on another thread, and a page fault.
SCRIPT = """\
python 100 29174.912433:    1001001 cpu-clock:pppH:
\tffffffff81743681 tcp_sendmsg+0x31 ([kernel.kallsyms])
\tffffffff816dbbac vfs_write+0x29c ([kernel.kallsyms])
\tffffffff816dc483 ksys_write+0xa3 ([kernel.kallsyms])
\tffffffff8223b5d1 do_syscall_64+0x71 ([kernel.kallsyms])
\tffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])
\t           f64c7 __libc_write+0x57 (/usr/lib/x86_64-linux-gnu/libc.so.6)

python 100 29174.913011:    1001001 cpu-clock:pppH:
\tffffffff817ee95e ext4_da_write_end+0x6e ([kernel.kallsyms])
\tffffffff816dc483 __x64_sys_pwrite64+0xa3 ([kernel.kallsyms])
\tffffffff8223b5d1 do_syscall_64+0x71 ([kernel.kallsyms])
\tffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])
\t           f64c7 __libc_pwrite+0x57 (/usr/lib/x86_64-linux-gnu/libc.so.6)

python 100 29174.914011:    1001001 cpu-clock:pppH:
\t          17ccf5 _PyEval_EvalFrameDefault+0x35 (/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0)
\t          17ccf5 PyObject_Call+0x15 (/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0)

python 107 29174.915011:    1001001 cpu-clock:pppH:
\t           5a1b2 sqlite3VdbeExec+0x112 (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)

python 100 29174.916011:    1001001 cpu-clock:pppH:
\tffffffff81001234 clear_page_erms+0x4 ([kernel.kallsyms])
\tffffffff81005678 asm_exc_page_fault+0x26 ([kernel.kallsyms])
\t           2b3c4 _int_malloc+0x44 (/usr/lib/x86_64-linux-gnu/libc.so.6)
"""


def test_samples_go_to_their_object_thread_and_syscall() -> None:
    summary = perf_summary.summarize(SCRIPT.splitlines(keepends=True), main_tid=100)
    assert summary.samples == 5
    assert summary.by_object == {"kernel": 3, "libpython3.11": 1, "libsqlite3": 1}
    assert summary.by_thread == {"main thread": 4, "thread 107": 1}
    # The syscall under do_syscall_64, whatever prefix the kernel gives it; else the way in.
    assert summary.by_syscall == {"write": 1, "pwrite64": 1, "asm_exc_page_fault": 1}
    text = "\n".join(summary.lines())
    assert "kernel 60.0 %" in text
    assert "main thread 80.0 %" in text
    assert "write 20.0 %" in text


def test_no_samples_say_so() -> None:
    assert perf_summary.summarize([]).lines() == ["no samples"]
