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

import bpftime
from bpftime import uprobe

BENCH = Path(__file__).resolve().parent
VICTIM_SRC = BENCH / "uprobe_victim.c"
OBJ = BENCH / "uprobe_bench.bpf.o"


def once(agent: Path, victim: Path, program: str, calls: int) -> float:
    """Median ns per call the victim reports with ``program`` run by ``agent``."""
    uprobe.agent_path = lambda: agent  # type: ignore[assignment]
    with bpftime.load(OBJ) as obj:
        for other in [p for p in obj.spec.programs if p != program]:
            del obj.spec.programs[other]
        r, w = os.pipe()
        with uprobe.spawn([str(victim), "target", str(calls), "5"], obj, stdout=w) as s:
            os.close(w)
            with os.fdopen(r) as f:
                out = f.read()
            s.wait(120)
    per = [float(x.split()[1]) for x in out.splitlines() if x.startswith("ns_per_call")]
    if not per:
        raise RuntimeError(f"the victim printed no timings: {out[-200:]!r}")
    return statistics.median(per)


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
    subprocess.run([cc, "-O2", "-o", str(victim), str(VICTIM_SRC)], check=True)
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
