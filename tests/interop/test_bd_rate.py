#!/usr/bin/python3
"""`bcfeat report --bd-rate` against an independent BD-rate computed with scipy's
PchipInterpolator (Debian's python3-scipy).

usage: test_bd_rate.py BCFEAT WORKDIR
"""
import json
import os
import re
import subprocess
import sys

import numpy as np
from scipy.interpolate import PchipInterpolator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

checks = Checks()
BCFEAT, check = checks.bcfeat, checks.check


def reference_bd_rate(ref, test):
    def curve(points):
        points = sorted(points, key=lambda p: p[1])
        q = np.array([p[1] for p in points])
        return PchipInterpolator(q, np.log10([p[0] for p in points])), q.min(), q.max()
    (f_ref, lo_r, hi_r), (f_test, lo_t, hi_t) = curve(ref), curve(test)
    lo, hi = max(lo_r, lo_t), min(hi_r, hi_t)
    diff = (f_test.integrate(lo, hi) - f_ref.integrate(lo, hi)) / (hi - lo)
    return (10 ** diff - 1) * 100


rng = np.random.default_rng(7)
for trial in range(5):
    n_ref, n_test = 4 + trial % 3, 5 + trial % 2
    ref = [(r, 20 + 6 * np.log2(r) + rng.normal(0, 0.3)) for r in np.sort(rng.uniform(1, 16, n_ref))]
    test = [(r, 22 + 6.5 * np.log2(r) + rng.normal(0, 0.3)) for r in np.sort(rng.uniform(1, 16, n_test))]
    rows = [{"run_id": f"r{i}", "status": "ok", "compression.method": "int", "bits_per_value": float(r),
             "psnr_db": float(q)} for i, (r, q) in enumerate(ref)]
    rows += [{"run_id": f"t{i}", "status": "ok", "compression.method": "texture", "bits_per_value": float(r),
              "psnr_db": float(q)} for i, (r, q) in enumerate(test)]
    rows.append({"run_id": "x", "status": "failed", "compression.method": "texture"})
    os.makedirs(f"sweep{trial}", exist_ok=True)
    json.dump(rows, open(f"sweep{trial}/summary.json", "w"))
    out = subprocess.run([BCFEAT, "report", f"sweep{trial}", "--columns", "run_id", "--bd-rate",
                          "compression.method=int,texture"], capture_output=True, text=True)
    match = re.search(r"BD-rate of .*: ([-+0-9.]+)%", out.stdout)
    expected = reference_bd_rate(ref, test)
    check(out.returncode == 0 and match is not None, f"trial {trial}: report prints a BD-rate ({out.stderr.strip()})")
    if match:
        check(abs(float(match.group(1)) - expected) < 0.006, f"trial {trial}: {match.group(1)}% vs scipy {expected:.4f}%")

# Shell-style patterns pick a family of runs: here the same curves by their run ids.
by_id = subprocess.run([BCFEAT, "report", "sweep4", "--columns", "run_id", "--bd-rate", "run_id=r*,t?"],
                       capture_output=True, text=True)
by_method = subprocess.run([BCFEAT, "report", "sweep4", "--columns", "run_id", "--bd-rate",
                            "compression.method=int,texture"], capture_output=True, text=True)
value = lambda out: re.search(r": ([-+0-9.]+)% \(over", out.stdout)
check(by_id.returncode == 0 and value(by_id) and value(by_id).group(1) == value(by_method).group(1),
      f"--bd-rate run_id=r*,t? gives the method's BD-rate ({by_id.stdout.strip()[-120:]} {by_id.stderr.strip()})")

rows = [{"run_id": f"r{i}", "status": "ok", "compression.method": "int", "bits_per_value": 1.0 + i,
         "psnr_db": 30.0 + i} for i in range(3)]
os.makedirs("short", exist_ok=True)
json.dump(rows, open("short/summary.json", "w"))
out = subprocess.run([BCFEAT, "report", "short", "--bd-rate", "compression.method=int,texture"],
                     capture_output=True, text=True)
check(out.returncode == 2 and "at least 4 points" in out.stderr, "fewer than 4 points is an input error")

checks.finish()
