#!/usr/bin/env python3
"""The CSV to HDF5 ID converter (tools/sfmpi-csv2h5) on good and bad inputs.

usage: test_csv2h5.py good|bad SFMPI_CSV2H5 PSIDATA_DUMP

good: quoted fields (delimiters, line breaks and "" inside), CRLF and LF, a header by name
or an index, --no-header, a BOM, standard input, another delimiter, every type with
--trim/--lower/--hash, --skip-empty, int64 extremes, a file larger than one block; each
compared value by value with what Python's own reading expects, and the summary line.
bad: every bad input with its exact message, exit status 1 (usage errors 2), and no
output file left (an earlier output at the same path untouched).
"""
import hashlib
import os
import subprocess
import sys
import tempfile

failures = 0
ME = "sfmpi-csv2h5: "


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def dump(dumper, path, ds="ids"):
    p = subprocess.run([dumper, path, ds], capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"psidata_dump {path}: {p.stderr.strip()}"):
        return None, []
    lines = p.stdout.splitlines()
    head = lines[0].split()
    rows = [int(x) for x in lines[1:]] if head[0] == "int64" else [bytes.fromhex(x) for x in lines[1:]]
    return head, rows


def convert(conv, d, content, args, stdin=None, name="in.csv"):
    src = os.path.join(d, name)
    with open(src, "wb") as f:
        f.write(content)
    out = os.path.join(d, "out.h5")
    if os.path.exists(out):
        os.remove(out)
    argv = [conv, *args, "--out", out, "-" if stdin else src]
    p = subprocess.run(argv, capture_output=True, timeout=60, input=content if stdin else None,
                       cwd=d)
    return p, out, src


def good_case(conv, dumper, d, label, content, args, want_head, want, summary=None, stdin=False):
    p, out, src = convert(conv, d, content, args, stdin=stdin)
    err = p.stderr.decode(errors="replace").strip()
    if not check(p.returncode == 0, f"[{label}] exit {p.returncode}: {err}"):
        return
    head, rows = dump(dumper, out)
    check(head == want_head, f"[{label}] header {head}, expected {want_head}")
    check(rows == want, f"[{label}] values\n  {rows}\nexpected\n  {want}")
    if summary is not None:
        want_sum = ME + summary.replace("SRC", "(standard input)" if stdin else src).replace("OUT", out)
        check(err == want_sum, f"[{label}] summary\n  {err!r}\nexpected\n  {want_sum!r}")


def pad(s, n):
    b = s.encode() if isinstance(s, str) else s
    return b + b"\0" * (n - len(b))


def test_good(conv, dumper):
    with tempfile.TemporaryDirectory(prefix="csv2h5.") as d:
        crlf = (b'id,email,note\r\n'
                b'17,"Alice@Example.COM ","has, a comma"\r\n'
                b'-4,"b""q""@y.org","two\r\nlines"\r\n'
                b'+9, c@z.net ,plain\r\n')
        good_case(conv, dumper, d, "int64 by name, CRLF, quotes", crlf, ["--column", "id"],
                  ["int64", "3"], [17, -4, 9],
                  'wrote 3 rows (int64) to OUT dataset "ids" from SRC column 1 (id); '
                  '0 empty values skipped')
        good_case(conv, dumper, d, "string by index, trim, lower", crlf,
                  ["--column", "2", "--type", "string:20", "--trim", "--lower"],
                  ["string", "3", "20", "nullpad"],
                  [pad("alice@example.com", 20), pad('b"q"@y.org', 20), pad("c@z.net", 20)])
        good_case(conv, dumper, d, "a quoted field across lines", crlf,
                  ["--column", "note", "--type", "bytes:12"], ["bytes", "3", "12"],
                  [pad("has, a comma", 12), pad("two\r\nlines", 12), pad("plain", 12)])
        emails = ["Alice@Example.COM ", 'b"q"@y.org', " c@z.net "]
        good_case(conv, dumper, d, "hash with trim and lower", crlf,
                  ["--column", "email", "--hash", "--trim", "--lower"], ["bytes", "3", "32"],
                  [hashlib.sha256(e.strip().lower().encode()).digest() for e in emails],
                  'wrote 3 rows (bytes:32, SHA-256) to OUT dataset "ids" from SRC column 2 '
                  '(email); 0 empty values skipped')
        good_case(conv, dumper, d, "hash of the raw value", crlf,
                  ["--column", "email", "--hash"], ["bytes", "3", "32"],
                  [hashlib.sha256(e.encode()).digest() for e in emails])
        lf = b"5\n6\n-9223372036854775808\n9223372036854775807\n007"  # no final newline
        good_case(conv, dumper, d, "no header, LF, extremes, no final newline", lf,
                  ["--column", "1", "--no-header"], ["int64", "5"],
                  [5, 6, -2 ** 63, 2 ** 63 - 1, 7],
                  'wrote 5 rows (int64) to OUT dataset "ids" from SRC column 1; '
                  '0 empty values skipped')
        bom = b"\xef\xbb\xbfkey;other\n1;x\n2;y\n"
        good_case(conv, dumper, d, "BOM, ';' delimiter, standard input", bom,
                  ["--column", "key", "--delimiter", ";"], ["int64", "2"], [1, 2],
                  'wrote 2 rows (int64) to OUT dataset "ids" from SRC column 1 (key); '
                  '0 empty values skipped', stdin=True)
        empties = b'a,b\n1,x\n,y\n"",z\n  ,w\n4,v\n'
        good_case(conv, dumper, d, "skip-empty with trim", empties,
                  ["--column", "a", "--skip-empty", "--trim"], ["int64", "2"], [1, 4],
                  'wrote 2 rows (int64) to OUT dataset "ids" from SRC column 1 (a); '
                  '3 empty values skipped')
        p, out, _ = convert(conv, d, b"x\ty\n1\t2\n",
                            ["--column", "y", "--delimiter", "\t", "--dataset", "grp/ids"])
        check(p.returncode == 0, f"--dataset grp/ids: {p.stderr}")
        head, rows = dump(dumper, out, "grp/ids")
        check(head == ["int64", "1"] and rows == [2], f"--dataset grp/ids: {head} {rows}")
        good_case(conv, dumper, d, "only a header", b"id,x\n", ["--column", "id"], ["int64", "0"], [],
                  'wrote 0 rows (int64) to OUT dataset "ids" from SRC column 1 (id); '
                  '0 empty values skipped')
        # more rows than several blocks, a quoted field on every 7th row
        n = 100003
        lines = ["n,id,tail"]
        want = []
        for i in range(n):
            v = (i * 7919 - 50000) * 1000003
            want.append(v)
            lines.append(f'{i},"{v}",t{i}' if i % 7 == 0 else f"{i},{v},t{i}")
        good_case(conv, dumper, d, "many blocks", ("\n".join(lines) + "\n").encode(),
                  ["--column", "id", "--block", "1000"], ["int64", str(n)], want)
        left = [f for f in os.listdir(d) if ".tmp." in f]
        check(not left, f"temporary files left: {left}")


def bad_case(conv, d, content, args, message, code=1, name="bad.csv"):
    p, out, src = convert(conv, d, content, args, name=name)
    err = p.stderr.decode(errors="replace").strip()
    want = ME + message.replace("SRC", src)
    check(p.returncode == code, f"{args} on {content[:40]!r}: exit {p.returncode}, expected {code}")
    check(err == want, f"{args} on {content[:40]!r}: stderr\n  {err!r}\nexpected\n  {want!r}")
    check(not os.path.exists(out), f"{args}: an output file was left after the error")
    left = [f for f in os.listdir(d) if ".tmp." in f]
    check(not left, f"{args}: temporary files left: {left}")


def test_bad(conv, dumper):
    with tempfile.TemporaryDirectory(prefix="csv2h5.") as d:
        hdr = b"id,email\n"
        cases = [
            (hdr + b"1,a\n2,b\n12a,c\n", ["--column", "id"],
             'SRC line 4, column 1 (id): "12a" is not an int64 (an optional sign and decimal digits)'),
            (hdr + b"1,a\n 5,b\n", ["--column", "id"],
             'SRC line 3, column 1 (id): " 5" is not an int64 (an optional sign and decimal digits)'),
            (hdr + b"9223372036854775808,a\n", ["--column", "id"],
             'SRC line 2, column 1 (id): "9223372036854775808" is out of the int64 range'),
            (hdr + b"-,a\n", ["--column", "id"],
             'SRC line 2, column 1 (id): "-" is not an int64 (an optional sign and decimal digits)'),
            (hdr + b"1,short\n2,much-too-long\n", ["--column", "email", "--type", "bytes:8"],
             'SRC line 3, column 2 (email): a value of 13 bytes is longer than 8 (--type bytes:8): '
             '"much-too-long"'),
            (hdr + b"1,abcdefghij\n", ["--column", "2", "--type", "string:4"],
             'SRC line 2, column 2 (email): a value of 10 bytes is longer than 4 (--type string:4): '
             '"abcdefghij"'),
            (hdr + b"1,a\n", ["--column", "mail"],
             'SRC line 1: column "mail" is not in the header ("id", "email")'),
            (hdr + b"1,a\n", ["--column", "3"], "SRC line 1: --column 3, but the header has 2 columns"),
            (b"1,a\n", ["--column", "3", "--no-header"],
             "SRC line 1: --column 3, but the first record has 2 columns"),
            (hdr + b"1,a\n2,b,extra\n", ["--column", "id"],
             "SRC line 3: 3 fields, but the header has 2"),
            (hdr + b"1,a\n2\n", ["--column", "id"], "SRC line 3: 1 field, but the header has 2"),
            (hdr + b"1,a\n\n2,b\n", ["--column", "id"],
             "SRC line 3: 1 field, but the header has 2 (a blank line)"),
            (hdr + b'1,a\n2,"open\n3,c\n', ["--column", "id"],
             "SRC line 3, column 2 (email): unterminated quoted field (it begins on this line)"),
            (hdr + b'1,a"b\n', ["--column", "id"],
             'SRC line 2, column 2 (email): a quote inside an unquoted field (quote the whole field '
             'and double the quote: "a""b")'),
            (hdr + b'1,"a"b\n', ["--column", "id"],
             'SRC line 2, column 2 (email): "b" after the closing quote of a quoted field'),
            (hdr + b"1,a\n,b\n", ["--column", "id"],
             "SRC line 3, column 1 (id): empty value (--skip-empty skips such rows)"),
            (hdr + b"1,a\n  ,b\n", ["--column", "id", "--trim"],
             "SRC line 3, column 1 (id): empty value (--skip-empty skips such rows)"),
            (b"id,id\n1,2\n", ["--column", "id"],
             'SRC line 1: column "id" appears twice in the header (columns 1 and 2); give its index'),
            (b"", ["--column", "id"], "SRC: no header line (the file is empty)"),
            (hdr + b"1,a\x00b\n", ["--column", "email", "--type", "string:8"],
             "SRC line 2, column 2 (email): a NUL byte in the value (--type string:8 cannot hold it)"),
        ]
        for content, args, msg in cases:
            bad_case(conv, d, content, args, msg)
        usage = [
            (["--column", "id", "--hash", "--type", "string:32"],
             "--hash stores 32-byte SHA-256 digests: use --type bytes:32, not string:32 (see --help)"),
            (["--column", "email", "--no-header"],
             "--column email: a name needs a header line (drop --no-header, or give the column's "
             "index) (see --help)"),
            (["--column", "0"], "--column 0: an index counts from 1 (see --help)"),
            (["--column", "id", "--type", "bytes:0"],
             "--type bytes:0: L must be a whole number from 1 to 4096 (see --help)"),
            (["--column", "id", "--type", "text"],
             "--type text: expected int64, bytes:L or string:L (see --help)"),
            (["--column", "id", "--delimiter", '"'],
             '--delimiter ": expected one character other than a quote, CR or LF (see --help)'),
            (["--column", "id", "--frob"], "unknown option --frob (see --help)"),
            (["--type", "int64"], "--column NAME|INDEX is required (see --help)"),
        ]
        for args, msg in usage:
            bad_case(conv, d, hdr + b"1,a\n", args, msg, code=2)
        # a missing input file
        out = os.path.join(d, "out.h5")
        p = subprocess.run([conv, "--column", "id", "--out", out, os.path.join(d, "nope.csv")],
                           capture_output=True, text=True, timeout=60)
        want = ME + os.path.join(d, "nope.csv") + ": cannot open: No such file or directory"
        check(p.returncode == 1 and p.stderr.strip() == want,
              f"missing input: exit {p.returncode}, {p.stderr.strip()!r}")
        # an error late in a large file leaves an earlier output at the same path untouched
        p, out, src = convert(conv, d, b"id\n1\n2\n", ["--column", "id"])
        check(p.returncode == 0, "setup of the earlier output")
        before = open(out, "rb").read()
        body = b"id\n" + b"".join(b"%d\n" % i for i in range(50000)) + b"x\n"
        with open(src, "wb") as f:
            f.write(body)
        p = subprocess.run([conv, "--column", "id", "--block", "100", "--out", out, src],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 1 and "line 50002, column 1 (id): \"x\" is not an int64" in p.stderr,
              f"late error: exit {p.returncode}, {p.stderr.strip()}")
        check(open(out, "rb").read() == before, "a failed run changed the earlier output")
        left = [f for f in os.listdir(d) if ".tmp." in f]
        check(not left, f"temporary files left: {left}")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    what, conv, dumper = sys.argv[1:]
    {"good": test_good, "bad": test_bad}[what](conv, dumper)
    if failures:
        print(f"{failures} check(s) failed", file=sys.stderr)
        return 1
    print(f"csv2h5 {what}: all checks held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
