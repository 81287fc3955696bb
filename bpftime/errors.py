"""The package's one exception hierarchy.

Every error the package raises on purpose is a BpftimeError. Messages say what
went wrong, where (instruction index, line, helper id) and, where it helps,
what to do about it.
"""

from __future__ import annotations


class BpftimeError(Exception):
    """Base class of every error this package raises on purpose."""


class LoadError(BpftimeError):
    """A program was refused at load: malformed encoding, bad jump, unknown helper.

    ``index`` is the instruction (slot) index, or None for whole-program problems.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class ExecutionError(BpftimeError):
    """A run stopped on a runtime error (bad memory access, call too deep, helper failure)."""

    def __init__(self, message: str, index: int | None = None, address: int | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.address = address


class JitError(BpftimeError):
    """The JIT could not lower or compile a program."""


class AsmError(BpftimeError):
    """The assembler could not parse a line; ``line`` is 1-based."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class KernelError(BpftimeError):
    """A bpf() syscall into the kernel failed (used by benchmarks and differential tests)."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class MapError(BpftimeError):
    """A map or shared-memory segment operation failed.

    ``errno`` is the kernel's errno for the same failure (E2BIG for a full hash map,
    EINVAL for bad attributes or flags, ...).
    """

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class MapKeyError(MapError, KeyError):
    """A map has no such key, or a queue/stack is empty (errno ENOENT)."""

    def __str__(self) -> str:
        # KeyError would quote the message like a key
        return str(self.args[0]) if self.args else ""


class ElfError(BpftimeError):
    """An ELF object or its BTF is unusable, or a spec was asked for something it lacks.

    ``section`` is the ELF section and ``offset`` the byte offset in it where the
    problem is, when known.
    """

    def __init__(self, message: str, section: str | None = None, offset: int | None = None) -> None:
        super().__init__(message)
        self.section = section
        self.offset = offset


class VerifierError(BpftimeError):
    """The verifier refused a program: some path could harm the process it runs in.

    ``index`` is the instruction (slot) index, ``reason`` the rule that failed,
    ``source_line``, ``file`` and ``line`` come from BTF line info when the
    program has it, and ``state`` is the register state there (verbose only).
    """

    def __init__(
        self,
        message: str,
        index: int | None = None,
        reason: str = "",
        source_line: str | None = None,
        file: str | None = None,
        line: int | None = None,
        state: str | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.reason = reason
        self.source_line = source_line
        self.file = file
        self.line = line
        self.state = state


class AttachError(BpftimeError):
    """A probe could not be attached, or a process could not be traced.

    Says which program and section, which binary and symbol, and what to do: a
    binary or symbol that does not exist, a section that names no target, a
    function too short to hook, a process that may not be traced.
    """
