#!/usr/bin/env python3
"""check_results.py FILE NAME...: every line of FILE is a well-formed benchmark result
(bench/README.md, "Result format"), and each NAME occurs. Independent of bench/plot's own
check, which the test runs as well. Prints what is wrong and exits 1."""
import json
import math
import re
import sys

path, names = sys.argv[1], sys.argv[2:]
bad = []


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


seen = set()
lines = open(path, encoding="utf-8").read().split("\n")
if lines[-1] != "":
    bad.append("the file does not end with a newline")
lines = lines[:-1]
if not lines:
    bad.append("no lines")
for no, line in enumerate(lines, 1):
    where = f"{path}:{no}"
    try:
        r = json.loads(line)
    except ValueError as e:
        bad.append(f"{where}: not JSON ({e})")
        continue
    if not isinstance(r, dict):
        bad.append(f"{where}: not an object")
        continue
    fields = ["name", "config", "value", "unit", "baseline", "baseline_name", "ratio",
              "commit", "load", "time", "host"]
    if sorted(r) != sorted(fields):
        bad.append(f"{where}: fields {sorted(r)}, expected {sorted(fields)}")
        continue
    seen.add(r["name"])
    ok = (isinstance(r["name"], str) and r["name"] and isinstance(r["config"], dict) and
          num(r["value"]) and isinstance(r["unit"], str) and r["unit"] and
          isinstance(r["commit"], str) and r["commit"] and r["commit"] != "unknown" and
          num(r["load"]) and r["load"] >= 0 and isinstance(r["host"], str) and r["host"] and
          isinstance(r["time"], str) and
          re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["time"]) is not None)
    if not ok:
        bad.append(f"{where}: a field has the wrong type or is empty: {line}")
    if r["baseline"] is None:
        if r["baseline_name"] is not None or r["ratio"] is not None:
            bad.append(f"{where}: no baseline, but baseline_name or ratio set")
    elif not (num(r["baseline"]) and isinstance(r["baseline_name"], str) and num(r["ratio"])):
        bad.append(f"{where}: baseline, baseline_name, ratio have the wrong types")
    elif abs(r["ratio"] - r["value"] / r["baseline"]) > 1e-6 * abs(r["ratio"]):
        bad.append(f"{where}: ratio {r['ratio']} is not value/baseline")
    for k, v in r["config"].items():
        if not (isinstance(v, str) or num(v)):
            bad.append(f"{where}: config member {k} is {v!r}")
for n in names:
    if n not in seen:
        bad.append(f"{path}: no line named {n} (names: {sorted(seen)})")
for b in bad:
    print("FAIL:", b)
if bad:
    sys.exit(1)
print(f"{path}: {len(lines)} lines, all well-formed; names {sorted(seen)}")
