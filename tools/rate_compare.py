#!/usr/bin/python3
"""Each run of a sweep against a reference curve at equal quality.

  tools/rate_compare.py results/real_features/summary.json --reference 'run_id=*method-int*group_size-32*' \\
      [--group features.tap] [--quality psnr_db] [--rate bits_per_value] [--format md|csv]

The reference runs (a shell-style pattern on one column) form an operational rate-distortion
curve per group (its Pareto front: no other reference run has a lower rate and a higher
quality); every other run is placed on it: `reference_rate` is the rate the reference needs for
that run's quality (interpolated in log rate with monotone cubics, PCHIP, as BD-rate does),
`rate_saving` = 1 − rate / reference_rate (positive: the run needs fewer bits than the
reference for the same quality), and `quality_gain` the run's quality minus the reference's at
the run's rate. Outside the reference's range nothing is extrapolated: the cell says so.

Uses Debian's python3-numpy and python3-scipy (run with /usr/bin/python3). Failed runs are skipped.
"""
import argparse
import fnmatch
import json
import sys

import numpy as np
from scipy.interpolate import PchipInterpolator


def pareto(points):
    """The points (rate, quality) that no other point beats at an equal or lower rate, by rate."""
    front = []
    for rate, quality in sorted(points):
        if not front or quality > front[-1][1]:
            front.append((rate, quality))
    return front


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary")
    parser.add_argument("--reference", required=True, help="COLUMN=PATTERN choosing the reference runs")
    parser.add_argument("--group", default=None, help="column whose values are compared separately (e.g. features.tap)")
    parser.add_argument("--quality", default="psnr_db")
    parser.add_argument("--rate", default="bits_per_value")
    parser.add_argument("--format", default="md", choices=["md", "csv"])
    args = parser.parse_args()
    try:
        rows = json.load(open(args.summary))
    except (OSError, ValueError) as error:
        sys.exit(f"rate_compare: cannot read '{args.summary}': {error}")
    if "=" not in args.reference:
        sys.exit("rate_compare: --reference takes COLUMN=PATTERN")
    column, pattern = args.reference.split("=", 1)
    rows = [r for r in rows if r.get("status") == "ok" and isinstance(r.get(args.quality), (int, float))
            and isinstance(r.get(args.rate), (int, float))]
    groups = {}
    for r in rows:
        groups.setdefault(str(r.get(args.group, "")) if args.group else "", []).append(r)
    header = ([args.group] if args.group else []) + ["run_id", args.rate, args.quality, "reference_rate", "rate_saving",
                                                     "quality_gain"]
    lines = [header]
    for name, members in groups.items():
        reference = [r for r in members if fnmatch.fnmatch(str(r.get(column, "")), pattern)]
        front = pareto([(r[args.rate], r[args.quality]) for r in reference])
        if len(front) < 2:
            sys.exit(f"rate_compare: group '{name}' has {len(front)} reference points on its front; need 2")
        rates, qualities = np.array([p[0] for p in front]), np.array([p[1] for p in front])
        rate_at = PchipInterpolator(qualities, np.log(rates))
        quality_at = PchipInterpolator(np.log(rates), qualities)
        for r in members:
            if r in reference:
                continue
            rate, quality = r[args.rate], r[args.quality]
            cells = [name] if args.group else []
            cells += [r["run_id"], f"{rate:.3f}", f"{quality:.2f}"]
            if qualities[0] <= quality <= qualities[-1]:
                needed = float(np.exp(rate_at(quality)))
                cells += [f"{needed:.3f}", f"{100 * (1 - rate / needed):+.1f}%"]
            else:
                side = "below" if quality < qualities[0] else "above"
                cells += [f"{side} the reference's range", ""]
            if rates[0] <= rate <= rates[-1]:
                cells.append(f"{quality - float(quality_at(np.log(rate))):+.2f}")
            else:
                cells.append(f"rate {'below' if rate < rates[0] else 'above'} the reference's range")
            lines.append(cells)
    if args.format == "csv":
        for cells in lines:
            print(",".join(cells))
    else:
        print("| " + " | ".join(lines[0]) + " |")
        print("|" + "---|" * len(lines[0]))
        for cells in lines[1:]:
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
