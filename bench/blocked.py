"""Where a process's threads wait for the kernel: samples them and notes each one found in
uninterruptible sleep (state D: a disk read, a flush, a lock in the kernel) with its kernel
stack. Needs root for the stacks (`/proc/<pid>/task/<tid>/stack`); Linux only.

    python bench/blocked.py /tmp/blocked.log "m helpline serve" &   # waits for the process
    python bench/run.py 6 --soak-minutes 10
    python bench/blocked.py --summary /tmp/blocked.log              # per thread and top frame

Each sample of a thread in D is a line `<unix time> D <tid> <name> <frame> | <frame> ...`; once
a second a line `<unix time> M` has the machine's dirty and writeback kB and the disk's
in-flight requests. Sampling every 10 ms costs ~7 % of a core: use it to find a stall, not
while measuring a target. Decision 056 was found with it.
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from pathlib import Path


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _find(pattern: str) -> int:
    """The first other process whose command line holds `pattern` (as `pgrep -f`), waited for."""
    me = os.getpid()
    while True:
        for entry in sorted(os.listdir("/proc"), key=lambda e: (len(e), e)):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if pattern.encode() in cmdline:
                return int(entry)
        time.sleep(0.5)


def _state(stat: str | None) -> str:
    """The state letter of a `/proc/.../stat` line ('' if none): it follows the name, which is
    in parentheses and may hold spaces and parentheses of its own."""
    return stat[stat.rfind(")") + 2 :][:1] if stat else ""


def _alive(pid: int) -> bool:
    """Running, not gone or a zombie (ended, its parent not yet told)."""
    return _state(_read(f"/proc/{pid}/stat")) not in ("Z", "X", "")


def _machine(disk: str) -> str:
    meminfo = _read("/proc/meminfo") or ""
    kb = {
        line.split(":")[0]: line.split()[1]
        for line in meminfo.splitlines()
        if line.startswith(("Dirty:", "Writeback:"))
    }
    inflight = "?"
    for line in (_read("/proc/diskstats") or "").splitlines():
        fields = line.split()
        if len(fields) > 11 and fields[2] == disk:
            inflight = fields[11]
    dirty, writeback = kb.get("Dirty", "?"), kb.get("Writeback", "?")
    return f"dirty_kb {dirty} writeback_kb {writeback} inflight {inflight}"


def sample(out: Path, pattern: str, interval: float, disk: str) -> None:
    pid = _find(pattern)
    last = 0.0
    with out.open("w", buffering=1) as log:
        log.write(f"pid {pid}\n")
        while _alive(pid):
            now = time.time()
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except FileNotFoundError:  # it ended just now
                break
            for tid in tids:
                stat = _read(f"/proc/{pid}/task/{tid}/stat")
                if stat is None or _state(stat) != "D":
                    continue
                name = stat[stat.find("(") + 1 : stat.rfind(")")].replace(" ", "_")
                stack = _read(f"/proc/{pid}/task/{tid}/stack") or ""
                frames = " | ".join(line.split("] ", 1)[-1] for line in stack.splitlines())
                log.write(f"{now:.3f} D {tid} {name} {frames or '-'}\n")
            if now - last >= 1:
                last = now
                log.write(f"{now:.3f} M {_machine(disk)}\n")
            time.sleep(interval)


def summary(path: Path) -> None:
    pid = ""
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in path.read_text().splitlines():
        parts = line.split(" ", 4)
        if parts[0] == "pid":
            pid = parts[1]
        elif len(parts) == 5 and parts[1] == "D":
            top = parts[4].split(" | ")[0].split("+")[0]
            thread = "main" if parts[2] == pid else parts[2]
            seen[(thread, top)] += 1
    for (thread, top), n in seen.most_common():
        print(f"{n:6d}  {thread:>8}  {top}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the log to write (or read, with --summary)")
    parser.add_argument(
        "pattern", nargs="?", default="m helpline serve", help="a part of its command line"
    )
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between samples")
    parser.add_argument("--disk", default="vda", help="the disk of /proc/diskstats to note")
    parser.add_argument("--summary", action="store_true", help="count a log's samples")
    args = parser.parse_args()
    if args.summary:
        summary(args.out)
    else:
        sample(args.out, args.pattern, args.interval, args.disk)


if __name__ == "__main__":
    main()
