# gdb helper for sfmpi debug mode (every rank is a coroutine of one thread).
#
#   gdb -x scripts/sfmpi-gdb.py --args ./prog --sf-mode=debug
#   (gdb) break my_task            # breakpoints on task functions and program lines work
#   (gdb) run
#   (gdb) sf-ranks                 # every rank: state, call number, call site, the line of
#                                  #   the program it is at now, what it waits for
#   (gdb) sf-bt bob                # backtrace of a suspended rank (by party name or index)
#
# A suspended rank's registers live on its own stack (runtime/coro_x86_64.S: the frame at
# the saved sp holds mxcsr/x87cw, r15, r14, r13, r12, rbx, rbp, then the return address).
# sf-bt points rsp/rbp/rip there, prints the backtrace, and restores the registers.
import gdb

STATES = {0: "ready", 1: "blocked", 2: "finished"}


def _exec():
    ex = gdb.parse_and_eval("sf__debug_exec_current")
    if int(ex) == 0:
        raise gdb.GdbError("no debug-mode run is active (is this a --sf-mode=debug process?)")
    return ex


def _str(p):
    try:
        return p.string() if int(p) != 0 else "?"
    except gdb.error:
        return "?"


def _objid(v):
    v = int(v)
    seq, idx = v >> 16, v & 0xFFFF
    return "#%d.%d" % (seq, idx) if idx else "#%d" % seq


def _find(ex, key):
    n = int(ex["n"])
    if key.isdigit() and int(key) < n:
        return int(key)
    for i in range(n):
        name = ex["ranks"][i]["name"].string()
        if name == key or name.split("/")[0] == key:
            return i
    raise gdb.GdbError("no rank named %r (see sf-ranks)" % key)


_LIB_DIRS = ("runtime", "mpi", "core", "devices", "io", "ml", "psi")
_lib_root = None


def _library_root():
    """The sfmpi source tree the library was built from (from sf_run's file), or ''."""
    global _lib_root
    if _lib_root is None:
        _lib_root = ""
        try:
            sym = gdb.lookup_global_symbol("sf_run")
            if sym is not None and sym.symtab is not None:
                f = sym.symtab.fullname()
                cut = f.rfind("/runtime/")
                _lib_root = f[: cut + 1] if cut >= 0 else ""
        except gdb.error:
            pass
    return _lib_root


def _in_library(filename):
    root = _library_root()
    return bool(root) and any(filename.startswith(root + d + "/") for d in _LIB_DIRS)


def _program_line(max_frames=64):
    """file:line of the innermost frame, from the selected one out, that is the user's
    code (has line information and is not in the sfmpi library); '?' if none."""
    f = gdb.newest_frame()
    for _ in range(max_frames):
        if f is None:
            break
        sal = f.find_sal()
        if sal.symtab is not None and sal.line > 0:
            name = sal.symtab.fullname()
            if not _in_library(name):
                return "%s:%d" % (name.split("/")[-1], sal.line)
        try:
            f = f.older()
        except gdb.error:
            break
    return "?"


class _OnRankStack:
    """Point rsp/rbp/rip at a suspended rank's switch frame (x86-64), restore on exit."""

    def __init__(self, sp):
        self.sp = sp

    def __enter__(self):
        if gdb.lookup_type("long").sizeof != 8 or "x86-64" not in gdb.selected_frame().architecture().name():
            raise gdb.GdbError("this reads the x86-64 switch frame; on this architecture, "
                               "break in sf__coro_switch instead")
        u64 = gdb.lookup_type("unsigned long").pointer()
        rbp = int(gdb.Value(self.sp + 48).cast(u64).dereference())
        rip = int(gdb.Value(self.sp + 56).cast(u64).dereference())
        self.saved = {reg: int(gdb.parse_and_eval("$" + reg)) for reg in ("rsp", "rbp", "rip")}
        gdb.execute("select-frame 0", to_string=True)
        try:
            gdb.execute("set $rsp = %d" % (self.sp + 64), to_string=True)
            gdb.execute("set $rbp = %d" % rbp, to_string=True)
            gdb.execute("set $rip = %d" % rip, to_string=True)
        except (gdb.error, gdb.GdbError):
            self.__exit__(None, None, None)  # put back what was changed
            raise
        return self

    def __exit__(self, *exc):
        gdb.execute("select-frame 0", to_string=True)
        for reg, val in self.saved.items():
            gdb.execute("set $%s = %d" % (reg, val), to_string=True)
        return False


def _rank_line(ex, i):
    """The program line rank i is at: the running rank's from the live frames, a suspended
    one's from its saved switch frame."""
    r = ex["ranks"][i]
    if i == int(ex["current"]):
        return _program_line()
    sp = int(r["co"]["sp"])
    if int(r["state"]) == 2 or sp == 0:
        return "-"
    try:
        with _OnRankStack(sp):
            return _program_line()
    except (gdb.error, gdb.GdbError):  # e.g. not x86-64: the line is unknown, the list goes on
        return "?"


class SfRanks(gdb.Command):
    """List the ranks of the sfmpi debug run: sf-ranks [max]"""

    def __init__(self):
        super().__init__("sf-ranks", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        ex = _exec()
        n = int(ex["n"])
        limit = int(arg) if arg.strip() else 64
        cur = int(ex["current"])
        for i in range(min(n, limit)):
            r = ex["ranks"][i]
            ctx = r["ctx"]
            st = STATES.get(int(r["state"]), "?")
            site = ctx["site"]
            line = "%s%-16s %-8s call #%-6d %s:%d %s, at %s" % (
                "*" if i == cur else " ", r["name"].string(), "running" if i == cur else st,
                int(ctx["call_seq"]), _str(site["file"]).split("/")[-1], int(site["line"]),
                _str(site["what"]), _rank_line(ex, i))
            if int(r["state"]) == 1:
                src = int(r["wait_src"])
                line += "  waits for %s from %s" % (
                    _objid(r["wait_obj"]), ex["ranks"][src]["name"].string() if src >= 0 else "?")
            print(line)
        if n > limit:
            print("  ... %d more (sf-ranks N to show more)" % (n - limit))


class SfBt(gdb.Command):
    """Backtrace of a suspended sfmpi rank: sf-bt NAME|INDEX [frames]"""

    def __init__(self):
        super().__init__("sf-bt", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if not args:
            raise gdb.GdbError("usage: sf-bt NAME|INDEX [frames]")
        ex = _exec()
        i = _find(ex, args[0])
        frames = args[1] if len(args) > 1 else ""
        r = ex["ranks"][i]
        if i == int(ex["current"]):
            gdb.execute("bt %s" % frames)
            return
        if int(r["state"]) == 2:
            print("%s has finished its program" % r["name"].string())
            return
        sp = int(r["co"]["sp"])
        if sp == 0:
            print("%s has not started yet" % r["name"].string())
            return
        with _OnRankStack(sp):
            print("backtrace of %s (suspended):" % r["name"].string())
            gdb.execute("bt %s" % frames)


SfRanks()
SfBt()
