"""bpftime: a userspace eBPF runtime for Python.

    import bpftime
    p = bpftime.Program(code, engine="jit")       # or engine="interp"
    r0 = p.run(b"input memory")
    res = p.test_run(repeat=1_000_000)            # .retval, .duration_ns, .data_out

See README.md for the architecture.
"""

import importlib.util as _util

if _util.find_spec(f"{__name__}._program") is None:
    # a source checkout on sys.path: use the installed, compiled build instead
    from ._checkout import load_installed

    load_installed()
else:
    from . import asm, btf, elf, maps, verifier
    from ._maps import MAP_TYPES, RawMap, Segment
    from ._program import NativeHelper, Program, TestRunResult, ubpf_test_helpers
    from .errors import (
        AsmError,
        AttachError,
        BpftimeError,
        ElfError,
        ExecutionError,
        JitError,
        KernelError,
        LoadError,
        MapError,
        MapKeyError,
        VerifierError,
    )
    from .insn import MapBinding
    from .object import BpfObject, load, open_segment
    from .uprobe import Session, attach, spawn

    __version__ = "0.1.0"

__all__ = [
    "MAP_TYPES",
    "AsmError",
    "AttachError",
    "BpfObject",
    "BpftimeError",
    "ElfError",
    "ExecutionError",
    "JitError",
    "KernelError",
    "LoadError",
    "MapBinding",
    "MapError",
    "MapKeyError",
    "NativeHelper",
    "Program",
    "RawMap",
    "Segment",
    "Session",
    "TestRunResult",
    "VerifierError",
    "__version__",
    "asm",
    "attach",
    "btf",
    "elf",
    "load",
    "maps",
    "open_segment",
    "spawn",
    "ubpf_test_helpers",
    "verifier",
]
