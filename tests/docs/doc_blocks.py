#!/usr/bin/env python3
"""Extract every ```c block of the given Markdown files into C sources and a CMake fragment.

    doc_blocks.py OUTDIR SRCROOT FILE.md...

Writes OUTDIR/<stem>_L<line>.c for each block (with #line directives, so a compiler error
names the Markdown file and line), OUTDIR/<stem>_L<line>.stdout (the expected output) and
OUTDIR/doc_blocks.cmake, which tests/docs/docs.cmake includes. Exits 2 with
"FILE:LINE: message" on a malformed block.

A block is one of two kinds:
  * a complete program (it defines main): built and run in debug mode once per `run:`
    marker; at least one is required;
  * a fragment (no main): its top-level definitions (lines starting at column 0 with
    static, typedef, struct, enum, union or #) are kept at file scope, everything else
    becomes the body of a wrapper function `int f(sf_ctx *sf, void *arg)`; it is compiled
    and linked, not run.

Markers are C comments anywhere in a line, /* key: value */ (or // key: value to the end
of the line):
  run: ARGS     program: run `./prog ARGS --sf-mode=debug` (shell-like quoting); repeatable
  expect: TEXT  program: one line of standard output; with none, the output must be empty;
                the output must equal these lines, in order, exactly
  exit: N       program: the expected exit status (default 0)
  stderr: TEXT  program: some line of standard error contains TEXT (literally); repeatable
  given: DECLS  fragment: declarations the fragment assumes (e.g. `sf_device alice;
                sf_obj x;`), placed at the top of the wrapper function; repeatable
"""
import os
import re
import shlex
import sys

MARKER = re.compile(r"/\*\s*(run|expect|exit|stderr|given):(.*?)\*/|//\s*(run|expect|exit|stderr|given):(.*)$")
MAIN = re.compile(r"^\s*int\s+main\s*\(")
TOPLEVEL = re.compile(r"^(static|typedef|struct|enum|union|#)")


class BlockError(Exception):
    pass


def blocks(path):
    """Yield (first_code_line_number, [lines]) for every ```c block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```\s*c\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        start = i + 1
        j = start
        while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
            j += 1
        if j == len(lines):
            raise BlockError(f"{path}:{i + 1}: ```c block is never closed")
        yield start + 1, [l[indent:] if l[:indent].strip() == "" else l for l in lines[start:j]]
        i = j + 1


def markers(lines):
    out = []
    for n, line in enumerate(lines):
        for m in MARKER.finditer(line):
            key = m.group(1) or m.group(3)
            val = (m.group(2) if m.group(1) else m.group(4)).strip()
            out.append((n, key, val))
    return out


def strip_comments_and_strings(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    line = re.sub(r"/\*.*?\*/", "", line)
    return re.sub(r"//.*$", "", line)


def split_fragment(lines):
    """Split a fragment into (top-level chunks, body chunks), each a list of (index, line)."""
    top, body = [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        if TOPLEVEL.match(line):
            item = []
            depth = 0
            while i < len(lines):
                code = strip_comments_and_strings(lines[i])
                item.append((i, lines[i]))
                depth += code.count("{") + code.count("(") - code.count("}") - code.count(")")
                i += 1
                s = code.rstrip()
                if lines[i - 1].startswith("#"):
                    if not s.endswith("\\"):
                        break
                elif depth <= 0 and (s.endswith("}") or s.endswith(";")):
                    break
            top.append(item)
        else:
            if body and body[-1][-1][0] == i - 1:
                body[-1].append((i, line))
            else:
                body.append([(i, line)])
            i += 1
    return top, body


def cmake_arg(s):
    """A CMake bracket argument: no escapes needed inside."""
    eq = "="
    while f"]{eq}]" in s:
        eq += "="
    return f"[{eq}[{s}]{eq}]"


def ere_literal(text):
    """An extended regex matching `text` literally (';' would split a CMake list: '.')."""
    return re.sub(r"([\\.\[\](){}*+?|^$])", r"\\\1", text).replace(";", ".")


def emit_block(md, rel, stem, first, lines, outdir, cmake):
    where = f"{rel}:{first}"
    ms = markers(lines)
    is_prog = any(MAIN.match(l) for l in lines)
    runs = [v for _, k, v in ms if k == "run"]
    expects = [v for _, k, v in ms if k == "expect"]
    exits = [v for _, k, v in ms if k == "exit"]
    stderrs = [v for _, k, v in ms if k == "stderr"]
    givens = [v for _, k, v in ms if k == "given"]
    name = f"{stem}_L{first}"
    src = os.path.join(outdir, name + ".c")
    mdpath = md.replace("\\", "\\\\").replace('"', '\\"')
    if is_prog:
        if givens:
            raise BlockError(f"{where}: `given:` is for fragments; this block defines main")
        if not runs:
            raise BlockError(f"{where}: a block with main needs a /* run: ARGS */ marker "
                             "(the arguments it is run with in debug mode)")
        if len(exits) > 1:
            raise BlockError(f"{where}: more than one `exit:` marker")
        want_exit = exits[0] if exits else "0"
        if not re.fullmatch(r"\d+", want_exit):
            raise BlockError(f"{where}: `exit: {want_exit}`: expected an exit status number")
        code = [f'#line {first} "{mdpath}"'] + lines
        with open(src, "w", encoding="utf-8") as f:
            f.write("\n".join(code) + "\n")
        with open(os.path.join(outdir, name + ".stdout"), "w", encoding="utf-8") as f:
            f.write("".join(e + "\n" for e in expects))
        tgt = f"docblock_{name}"
        cmake.append(f"sf_doc_program({tgt} {cmake_arg(src)})")
        for k, run in enumerate(runs):
            try:
                args = shlex.split(run)
            except ValueError as e:
                raise BlockError(f"{where}: `run: {run}`: {e}")
            for a in args:
                if a.startswith("--sf-mode") and a != "--sf-mode=debug":
                    raise BlockError(f"{where}: `run: {run}`: blocks run in debug mode only")
            test = f"docs_{name}" + (f"_r{k + 1}" if len(runs) > 1 else "")
            cmake.append(
                f"sf_doc_test({test} {tgt} {want_exit} {cmake_arg(os.path.join(outdir, name + '.stdout'))}\n"
                f"  ARGS {' '.join(cmake_arg(a) for a in args)} --sf-mode=debug\n"
                f"  STDERR {' '.join(cmake_arg(ere_literal(s)) for s in stderrs)})")
        return "program", len(runs)
    if runs or expects or exits or stderrs:
        raise BlockError(f"{where}: run/expect/exit/stderr markers need a complete program "
                         "(this block has no main)")
    top, body = split_fragment(lines)
    fn = f"sf_doc_fragment_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"
    code = ['#include "sfmpi/sf.h"']
    for item in top:
        code.append(f'#line {first + item[0][0]} "{mdpath}"')
        code.extend(l for _, l in item)
    code.append('#line 1 "doc_blocks.py wrapper"')
    code.append(f"int {fn}(sf_ctx *sf, void *arg);")
    code.append(f"int {fn}(sf_ctx *sf, void *arg) {{")
    code.append("    (void)sf; (void)arg;")
    for g in givens:
        code.append(f"    {g}")
    for chunk in body:
        code.append(f'#line {first + chunk[0][0]} "{mdpath}"')
        code.extend(l for _, l in chunk)
    code.append('#line 2 "doc_blocks.py wrapper"')
    code.append("    return 0;")
    code.append("}")
    with open(src, "w", encoding="utf-8") as f:
        f.write("\n".join(code) + "\n")
    cmake.append(f"sf_doc_fragment({fn} {cmake_arg(src)})")
    return "fragment", 0


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, root = argv[1], argv[2]
    os.makedirs(outdir, exist_ok=True)
    for old in os.listdir(outdir):
        if old.endswith((".c", ".stdout")):
            os.remove(os.path.join(outdir, old))
    cmake = ["# generated by tests/docs/doc_blocks.py from " + " ".join(
        os.path.relpath(m, root) for m in argv[3:])]
    counts = {"program": 0, "fragment": 0, "runs": 0}
    try:
        for md in argv[3:]:
            rel = os.path.relpath(md, root)
            stem = re.sub(r"[^A-Za-z0-9]", "_", os.path.splitext(os.path.basename(rel))[0])
            n = 0
            for first, lines in blocks(md):
                kind, runs = emit_block(md, rel, stem, first, lines, outdir, cmake)
                counts[kind] += 1
                counts["runs"] += runs
                n += 1
            if n == 0:
                raise BlockError(f"{rel}: no ```c block found (expected at least one)")
    except (BlockError, OSError) as e:
        print(f"doc_blocks.py: {e}", file=sys.stderr)
        return 2
    cmake.append(f"set(SF_DOC_COUNTS \"{counts['program']} programs ({counts['runs']} runs), "
                 f"{counts['fragment']} fragments\")")
    with open(os.path.join(outdir, "doc_blocks.cmake"), "w", encoding="utf-8") as f:
        f.write("\n".join(cmake) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
