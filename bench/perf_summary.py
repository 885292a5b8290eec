"""Where a served process's CPU went, from `perf record -g` (`bench/run.py --perf DIR`).

py-spy (`--profile`) names Python functions, but only while a thread holds the interpreter
lock, and never the native code and the kernel under them. perf samples the whole process on
the CPU clock: here each sample is given to the shared object it was in (the interpreter, the
kernel, SQLite, libc, uvloop...), to its thread, and, when it was in the kernel, to the system
call it was serving (writes to sockets, SQLite's `pwrite64`, `epoll_wait`...) or to what else
brought it there (a page fault, an interrupt). CPython 3.11 writes no perf map, so Python
frames have no names here: pair it with `--profile` for those.

    python bench/perf_summary.py /tmp/perf/helpline-sqlite-1p-10-0-12345.data
    perf script -i FILE | python bench/perf_summary.py -      # the same, from perf's text
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# A frame line of `perf script`: address, symbol (+offset), then the object in parentheses.
_FRAME = re.compile(r"^\s*[0-9a-f]+\s+(?P<sym>.*?)\s+\((?P<dso>[^()]*)\)\s*$")
# The syscall entry's own names for the syscall it dispatches to.
_SYSCALL = re.compile(r"^(?:__x64_sys_|__ia32_sys_|__se_sys_|__do_sys_|ksys_|__sys_)(?P<name>\w+)")
_KERNEL = "[kernel.kallsyms]"


@dataclass
class Summary:
    samples: int = 0
    by_object: Counter[str] = field(default_factory=Counter)
    by_thread: Counter[str] = field(default_factory=Counter)
    # Samples in the kernel, by the system call being served (or how the kernel was entered).
    by_syscall: Counter[str] = field(default_factory=Counter)

    def lines(self, top: int = 12) -> list[str]:
        if not self.samples:
            return ["no samples"]
        n = self.samples
        out = [f"{n} samples"]
        out.append("by shared object: " + _shares(self.by_object, n, top))
        out.append("by thread: " + _shares(self.by_thread, n, top))
        if self.by_syscall:
            out.append("in the kernel, by system call: " + _shares(self.by_syscall, n, top))
        return out


def _shares(counts: Counter[str], total: int, top: int) -> str:
    return ", ".join(f"{name} {100 * c / total:.1f} %" for name, c in counts.most_common(top))


def _object(dso: str) -> str:
    """A short name for a shared object: `libsqlite3.so.0.8.6` → `libsqlite3`,
    `loop.cpython-311-x86_64-linux-gnu.so` → `loop`, `[kernel.kallsyms]` → `kernel`."""
    if dso == _KERNEL:
        return "kernel"
    name = Path(dso).name
    return re.split(r"\.(?:so|cpython)", name, maxsplit=1)[0] or name


def _kernel_entry(frames: list[tuple[str, str]]) -> str:
    """What a kernel sample was serving: the syscall under `do_syscall_64` (frames are innermost
    first), else the outermost kernel frame (an interrupt, a page fault)."""
    outermost = ""
    for i, (sym, dso) in enumerate(frames):
        if dso != _KERNEL:
            break
        base = sym.split("+", 1)[0]
        outermost = base
        if base == "do_syscall_64" and i > 0:
            inner = frames[i - 1][0].split("+", 1)[0]
            m = _SYSCALL.match(inner)
            return m.group("name") if m else inner
    return outermost or "?"


def summarize(script: Iterable[str], main_tid: int | None = None) -> Summary:
    """Reads `perf script`'s default text: a header line per sample (command, thread id, ...)
    followed by its stack, innermost frame first, and a blank line. `main_tid` (the process's
    id, which its first thread shares) is named "main thread" (the event loop's)."""
    summary = Summary()
    header: str | None = None
    frames: list[tuple[str, str]] = []

    def close() -> None:
        if header is None:
            return
        summary.samples += 1
        parts = header.split()
        tid = parts[1] if len(parts) >= 2 else "?"
        thread = "main thread" if tid == str(main_tid) else f"thread {tid}"
        summary.by_thread[thread] += 1
        if not frames:
            summary.by_object["?"] += 1
            return
        summary.by_object[_object(frames[0][1])] += 1
        if frames[0][1] == _KERNEL:
            summary.by_syscall[_kernel_entry(frames)] += 1

    for raw in script:
        line = raw.rstrip("\n")
        if not line.strip():
            close()
            header, frames = None, []
            continue
        m = _FRAME.match(line)
        if header is not None and m:
            frames.append((m.group("sym"), m.group("dso")))
        elif header is None:
            header = line
    close()
    return summary


def summarize_file(path: Path, main_tid: int | None = None) -> Summary:
    perf = shutil.which("perf")
    if perf is None:
        raise RuntimeError("perf is not installed (Debian: linux-perf)")
    proc = subprocess.run(
        [perf, "script", "-i", str(path)], capture_output=True, text=True, check=True
    )
    return summarize(proc.stdout.splitlines(), main_tid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("data", help="a perf.data file, or - for `perf script` text on stdin")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--pid", type=int, help="the process's id: its main thread is named so")
    args = p.parse_args()
    if args.data == "-":
        summary = summarize(sys.stdin, args.pid)
    else:
        summary = summarize_file(Path(args.data), args.pid)
    print("\n".join(summary.lines(args.top)))


if __name__ == "__main__":
    main()
