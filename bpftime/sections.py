"""Program kinds from ELF section names, by libbpf's ``section_defs`` conventions.

Owns: turning a program's section name (``SEC("uprobe/./app:main+0x10")``) into its
kind, its attach target and whether it is sleepable, with libbpf's matching rules:
a definition ending in ``+`` matches the exact name or the name followed by ``/...``;
any other definition matches only exactly. Kernel-only attach types (kprobes,
fentry/fexit, LSM, iterators, struct_ops, cgroup and socket hooks, ...) are refused
with an ElfError naming the program and its section.

Attach targets, by kind (an empty tuple means the section carries none, as in a bare
``SEC("uprobe")``, and the program is attached by hand):

* ``uprobe``/``uretprobe``: ``(binary, symbol or address, offset)``: the symbol is a
  str, an address in the binary an int (``uprobe/./app:main+0x10`` ->
  ``("./app", "main", 16)``, ``uprobe/./app:0x1234`` -> ``("./app", 0x1234, 0)``)
* ``ureplace`` (bpftime's UREPLACE, not a libbpf section): like ``uprobe``, without
  an offset; the program runs instead of the function and its return value (r0)
  becomes the function's
* ``usdt``: ``(binary, provider, name)``
* ``tracepoint``: ``(category, name)``
* ``raw_tracepoint``: ``(name,)``
* ``tc``: ``("ingress",)`` or ``("egress",)`` for ``tc/ingress``, ``tcx/egress``, ...

Does not own: attaching (a later stage), the program's instructions (bpftime.elf).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ElfError

Attach = tuple[str | int | None, ...]


@dataclass(frozen=True)
class SectionKind:
    kind: str
    attach: Attach
    sleepable: bool


def _fail(program: str, section: str, why: str) -> ElfError:
    return ElfError(f"program '{program}' in section '{section}': {why}", section)


def _none(program: str, section: str, rest: str) -> Attach:
    return ()


def _uprobe(program: str, section: str, rest: str) -> Attach:
    # libbpf: "%m[^/]/%m[^:]:%m[^\n]" then an optional trailing "+offset"
    if not rest:
        return ()
    binary, sep, target = rest.partition(":")
    if not sep or not binary or not target:
        raise _fail(
            program,
            section,
            "expected <kind>/<binary>:<function>[+<offset>] or <kind>/<binary>:<address>",
        )
    offset = 0
    head, plus, tail = target.rpartition("+")
    if plus and head:
        try:
            offset = int(tail, 0)
            target = head
        except ValueError:
            offset = 0
    if section.startswith("uretprobe") and offset:
        raise _fail(program, section, "uretprobes do not support an offset")
    if section.startswith("ureplace") and offset:
        raise _fail(program, section, "ureplace replaces a whole function: no offset")
    try:
        return (binary, int(target, 0), offset)
    except ValueError:
        return (binary, target, offset)


def _usdt(program: str, section: str, rest: str) -> Attach:
    if not rest:
        return ()
    parts = rest.split(":")
    if len(parts) != 3 or not all(parts):
        raise _fail(program, section, "expected usdt/<binary>:<provider>:<name>")
    return (parts[0], parts[1], parts[2])


def _tracepoint(program: str, section: str, rest: str) -> Attach:
    if not rest:
        return ()
    category, sep, name = rest.partition("/")
    if not sep or not category or not name:
        raise _fail(program, section, "expected tracepoint/<category>/<name> (or tp/...)")
    return (category, name)


def _raw_tracepoint(program: str, section: str, rest: str) -> Attach:
    return (rest,) if rest else ()


def _tc(direction: str) -> Callable[[str, str, str], Attach]:
    def parse(program: str, section: str, rest: str) -> Attach:
        return (direction,)

    return parse


_Parser = Callable[[str, str, str], Attach]

# (libbpf section definition, kind, sleepable, attach parser)
_USERSPACE: tuple[tuple[str, str, bool, _Parser], ...] = (
    ("socket", "socket", False, _none),
    ("uprobe+", "uprobe", False, _uprobe),
    ("uprobe.s+", "uprobe", True, _uprobe),
    ("uretprobe+", "uretprobe", False, _uprobe),
    ("uretprobe.s+", "uretprobe", True, _uprobe),
    ("ureplace+", "ureplace", False, _uprobe),
    ("usdt+", "usdt", False, _usdt),
    ("usdt.s+", "usdt", True, _usdt),
    ("tc/ingress", "tc", False, _tc("ingress")),
    ("tc/egress", "tc", False, _tc("egress")),
    ("tcx/ingress", "tc", False, _tc("ingress")),
    ("tcx/egress", "tc", False, _tc("egress")),
    ("tc", "tc", False, _none),
    ("classifier", "tc", False, _none),
    ("tracepoint+", "tracepoint", False, _tracepoint),
    ("tp+", "tracepoint", False, _tracepoint),
    ("raw_tracepoint+", "raw_tracepoint", False, _raw_tracepoint),
    ("raw_tp+", "raw_tracepoint", False, _raw_tracepoint),
    ("syscall", "syscall", True, _none),
    ("xdp.frags", "xdp", False, _none),
    ("xdp", "xdp", False, _none),
    ("perf_event", "perf_event", False, _none),
)

# libbpf program sections that only the kernel can attach
# fmt: off
_KERNEL = [
    "kprobe+", "kretprobe+", "kprobe.multi+", "kretprobe.multi+", "kprobe.session+",
    "ksyscall+", "kretsyscall+", "tp_btf+", "fentry+", "fmod_ret+", "fexit+", "fentry.s+",
    "fmod_ret.s+", "fexit.s+", "freplace+", "lsm+", "lsm.s+", "lsm_cgroup+", "iter+",
    "iter.s+", "struct_ops+", "struct_ops.s+", "raw_tracepoint.w+", "raw_tp.w+", "action",
    "sk_reuseport/migrate", "sk_reuseport", "netkit/primary", "netkit/peer",
    "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "lwt_in", "lwt_out",
    "lwt_xmit", "lwt_seg6local", "sockops", "sk_skb/stream_parser", "sk_skb/stream_verdict",
    "sk_skb/verdict", "sk_skb", "sk_msg", "lirc_mode2", "flow_dissector", "cgroup_skb/ingress",
    "cgroup_skb/egress", "cgroup/skb", "cgroup/sock_create", "cgroup/sock_release",
    "cgroup/sock", "cgroup/post_bind4", "cgroup/post_bind6", "cgroup/bind4", "cgroup/bind6",
    "cgroup/connect4", "cgroup/connect6", "cgroup/connect_unix", "cgroup/sendmsg4",
    "cgroup/sendmsg6", "cgroup/sendmsg_unix", "cgroup/recvmsg4", "cgroup/recvmsg6",
    "cgroup/recvmsg_unix", "cgroup/getpeername4", "cgroup/getpeername6",
    "cgroup/getpeername_unix", "cgroup/getsockname4", "cgroup/getsockname6",
    "cgroup/getsockname_unix", "cgroup/sysctl", "cgroup/getsockopt", "cgroup/setsockopt",
    "cgroup/dev", "sk_lookup", "netfilter",
]
# fmt: on

# libbpf program sections this runtime does not implement (not kernel-only)
_UNSUPPORTED = {
    "uprobe.multi+": "attach one uprobe/<binary>:<function> program per function",
    "uretprobe.multi+": "attach one uretprobe/<binary>:<function> program per function",
    "uprobe.multi.s+": "attach one uprobe.s/<binary>:<function> program per function",
    "uretprobe.multi.s+": "attach one uretprobe.s/<binary>:<function> program per function",
}


def _matches(definition: str, section: str) -> str | None:
    """libbpf's sec_def_matches; returns the part after ``<definition>/`` ('' if none)."""
    if definition.endswith("+"):
        prefix = definition[:-1]
        if section == prefix:
            return ""
        if section.startswith(prefix + "/"):
            return section[len(prefix) + 1 :]
        return None
    return "" if section == definition else None


def parse_section(section: str, program: str) -> SectionKind:
    """Kind, attach target and sleepability of ``program`` in ``section``; ElfError if none."""
    for definition, kind, sleepable, parser in _USERSPACE:
        rest = _matches(definition, section)
        if rest is not None:
            return SectionKind(kind, parser(program, section, rest), sleepable)
    for definition in _KERNEL:
        if _matches(definition, section) is not None:
            name = definition.rstrip("+")
            raise _fail(
                program,
                section,
                f"'{name}' is a kernel attach type, not supported in userspace;"
                " use uprobe/, uretprobe/, usdt/ or tracepoint/ sections",
            )
    for definition, hint in _UNSUPPORTED.items():
        if _matches(definition, section) is not None:
            raise _fail(
                program, section, f"'{definition.rstrip('+')}' is not supported by bpftime; {hint}"
            )
    raise _fail(
        program,
        section,
        "unknown section name, so the program kind is unknown; name the section after"
        ' its kind as libbpf does, e.g. SEC("uprobe/<binary>:<function>"),'
        ' SEC("tracepoint/<category>/<name>"), SEC("usdt/<binary>:<provider>:<name>")',
    )
