#!/usr/bin/env python3
"""plot_malformed_test.py ROOT: bench/plot refuses a results file with a malformed line,
naming the file and the line number, and draws nothing; the same file without the bad
line is accepted (so each refusal is for the line, not for the rest of the file)."""
import json
import os
import subprocess
import sys
import tempfile

plot = os.path.join(sys.argv[1], "bench", "plot")
good = {"name": "call", "config": {"case": "release", "iters": 2000}, "value": 95.0,
        "unit": "ns", "baseline": 3.3, "baseline_name": "direct C call", "ratio": 95.0 / 3.3,
        "commit": "abc1234", "load": 0.5, "time": "2026-01-01T00:00:00Z", "host": "h"}


def without(k):
    r = dict(good)
    del r[k]
    return json.dumps(r)


def with_(**kw):
    r = dict(good)
    r.update(kw)
    return json.dumps(r)


cases = [  # (what, bad line, what the message must say)
    ("truncated JSON", json.dumps(good)[:40], "not JSON"),
    ("a missing field", without("unit"), 'field "unit" is missing'),
    ("a string value", with_(value="95"), 'field "value" must be a number'),
    ("a config that is a list", with_(config=[1, 2]), 'field "config" must be an object'),
    ("a ratio that is not value/baseline", with_(ratio=1.0), '"ratio" must be value/baseline'),
    ("a baseline without a name", with_(baseline_name=None), 'both be null or both be set'),
    ("a time that is not ISO 8601", with_(time="yesterday"), 'not an ISO 8601 time'),
    ("an empty line", "", "not JSON"),
    ("a JSON array", "[1, 2]", "not a JSON object"),
]
failures = 0
with tempfile.TemporaryDirectory(prefix="sfmpi-plot-test.") as tmp:
    line2 = with_(config={"case": "scope1000", "iters": 2000})
    ok_path = os.path.join(tmp, "ok.jsonl")
    with open(ok_path, "w") as f:
        f.write(json.dumps(good) + "\n" + line2 + "\n")
    r = subprocess.run([plot, "--check", ok_path], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL: the valid file is refused: {r.stderr.strip()}")
        sys.exit(1)
    for i, (what, bad, says) in enumerate(cases):
        path = os.path.join(tmp, f"bad{i}.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(good) + "\n" + line2 + "\n" + bad + "\n" + json.dumps(good) + "\n")
        out = os.path.join(tmp, f"charts{i}")
        r = subprocess.run([plot, path, out], capture_output=True, text=True)
        want = f"{path}:3: malformed line"
        pngs = os.listdir(out) if os.path.isdir(out) else []
        if r.returncode != 1 or want not in r.stderr or says not in r.stderr or pngs:
            print(f"FAIL: {what}: exit {r.returncode}, stderr {r.stderr.strip()!r}, charts {pngs}; "
                  f"wanted exit 1, '{want}' and '{says}', no charts")
            failures += 1
        else:
            print(f"ok: {what}: {r.stderr.strip()}")
sys.exit(1 if failures else 0)
