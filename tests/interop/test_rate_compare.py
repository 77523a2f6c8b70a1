#!/usr/bin/python3
"""tools/rate_compare.py on rows whose answers are known in closed form: the reference runs lie on
quality = 20 + 6·log2(rate) (and a dominated reference point off the curve, which the Pareto front
must ignore); a test run at rate r and quality q then needs 2^((q − 20)/6) bits from the reference
(PCHIP through points of a log-linear curve reproduces it exactly), and gains q − (20 + 6·log2 r).
usage: test_rate_compare.py BCFEAT WORKDIR
"""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

checks = Checks()
check = checks.check
tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "rate_compare.py")
rows = [{"run_id": f"int-{r}", "status": "ok", "bits_per_value": r, "psnr_db": 20 + 6 * math.log2(r), "tap": "a"}
        for r in (1.0, 2.0, 4.0, 8.0)]
rows.append({"run_id": "int-dominated", "status": "ok", "bits_per_value": 3.0, "psnr_db": 21.0, "tap": "a"})
rows.append({"run_id": "bc-x", "status": "ok", "bits_per_value": 2.5, "psnr_db": 35.0, "tap": "a"})
rows.append({"run_id": "bc-low", "status": "ok", "bits_per_value": 0.5, "psnr_db": 10.0, "tap": "a"})
rows.append({"run_id": "bc-failed", "status": "failed", "tap": "a"})
json.dump(rows, open("summary.json", "w"))
out = subprocess.run(["/usr/bin/python3", tool, "summary.json", "--reference", "run_id=int-*", "--group", "tap",
                      "--format", "csv"], capture_output=True, text=True)
check(out.returncode == 0, "rate_compare runs " + out.stderr.strip())
table = {line.split(",")[1]: line.split(",") for line in out.stdout.strip().splitlines()[1:]}
check(set(table) == {"bc-x", "bc-low"}, f"one row per non-reference successful run: {sorted(table)}")
if "bc-x" in table:
    needed = 2 ** ((35.0 - 20) / 6)
    check(abs(float(table["bc-x"][4]) - needed) < 2e-3, f"reference rate {table['bc-x'][4]} = {needed:.3f}")
    check(table["bc-x"][5] == f"{100 * (1 - 2.5 / needed):+.1f}%", f"rate saving {table['bc-x'][5]}")
    gain = 35.0 - (20 + 6 * math.log2(2.5))
    check(abs(float(table["bc-x"][6]) - gain) < 0.01, f"quality gain {table['bc-x'][6]} = {gain:.2f}")
if "bc-low" in table:
    check("below the reference's range" in table["bc-low"][4] and "below" in table["bc-low"][6],
          "nothing is extrapolated below the reference's range")
bad = subprocess.run(["/usr/bin/python3", tool, "missing.json", "--reference", "run_id=x"], capture_output=True, text=True)
check(bad.returncode != 0 and "missing.json" in bad.stderr, "a missing summary is one clear error")
checks.finish()
