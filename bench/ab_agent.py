"""A/B of two agent builds on the uprobe victim: which hot path is faster.

The uprobes section of bench/run.py compares us with the kernel; its absolute figures
move by 1-2 ns from run to run on a shared machine, more than many changes to the
agent are worth. This script alternates two builds of libbpftime_agent.so (say, one
copied aside before a change and the installed one) on the same victim, several times,
and prints each build's median and best ns per call (victim loop included, so compare
the two, not with run.py's added figures).

    python -c 'import bpftime.uprobe as u; print(u.agent_path())'   # the installed one
    cp THAT_PATH /tmp/a.so; # change the agent, pip install ., then:
    python bench/ab_agent.py /tmp/a.so INSTALLED --program up_empty --rounds 8
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import run  # bench/run.py: the uprobes section's victim, object and one timed run

from bpftime import elf, uprobe

SPEC = elf.load_spec(run.UPROBE_OBJ)


def once(agent: Path, victim: Path, program: str, calls: int) -> float:
    """Median ns per call the victim reports with ``program`` run by ``agent``."""
    uprobe.agent_path = lambda: agent  # type: ignore[assignment]
    return run._ours_once(SPEC, program, [str(victim), "target", str(calls), "5"])[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="agent .so (or INSTALLED)")
    ap.add_argument("b", help="agent .so (or INSTALLED)")
    ap.add_argument("--program", default="up_empty", help="program of uprobe_bench.bpf.o")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--calls", type=int, default=3_000_000)
    args = ap.parse_args(argv)
    installed = uprobe.agent_path()
    agents = {k: installed if v == "INSTALLED" else Path(v).resolve()
              for k, v in (("a", args.a), ("b", args.b))}  # fmt: skip
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        print("no C compiler for bench/uprobe_victim.c", file=sys.stderr)
        return 2
    victim = Path(tempfile.mkdtemp(prefix="bpftime-ab-")) / "uprobe_victim"
    subprocess.run([cc, "-O2", "-o", str(victim), str(run.UPROBE_VICTIM)], check=True)
    res: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(args.rounds):
        for k in ("a", "b"):
            res[k].append(once(agents[k], victim, args.program, args.calls))
    for k, v in res.items():
        print(f"{k} {agents[k]}: median {statistics.median(v):.2f} ns/call, "
              f"best {min(v):.2f} ({len(v)} runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
