#!/usr/bin/python3
"""Plot a bcfeat sweep: one line per series, e.g. rate-distortion curves.

  tools/plot.py results/quickstart/summary.json --x bits_per_value --y psnr_db \\
      --series compression.method -o rd.png [--logx] [--title T] [--all-lines]

Every run is a marker; by default each series' line joins only its best points (the
runs no other run of the series beats at an equal or lower x), the operational
rate-distortion curve. --all-lines joins every point in x order instead.

Uses Debian's python3-matplotlib (run with /usr/bin/python3). Failed runs are skipped.
"""
import argparse
import json
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", help="summary.json written by bcfeat run")
    parser.add_argument("--x", default="bits_per_value", help="column on the x axis")
    parser.add_argument("--y", required=True, help="column on the y axis")
    parser.add_argument("--series", default=None,
                        help="column(s) whose values make separate lines (comma-separated to combine)")
    parser.add_argument("-o", "--output", required=True, help="output image (.png, .pdf, .svg)")
    parser.add_argument("--logx", action="store_true", help="logarithmic x axis")
    parser.add_argument("--title", default=None)
    parser.add_argument("--all-lines", action="store_true", help="join every point, not only the best ones")
    args = parser.parse_args()

    try:
        rows = json.load(open(args.summary))
    except (OSError, json.JSONDecodeError) as error:
        sys.exit(f"plot.py: error: cannot read {args.summary}: {error}")
    rows = [r for r in rows if r.get("status") == "ok"]
    if not rows:
        sys.exit("plot.py: error: no successful runs in the summary")
    series_columns = args.series.split(",") if args.series else []
    for column in [args.x, args.y] + series_columns:
        if not any(column in r for r in rows):
            sys.exit(f"plot.py: error: no column '{column}'; available: {', '.join(sorted(rows[0]))}")

    series = OrderedDict()
    for row in rows:
        if row.get(args.x) is None or row.get(args.y) is None:
            continue
        name = " ".join(str(row.get(c, "")) for c in series_columns) if series_columns else args.y
        series.setdefault(name, []).append((row[args.x], row[args.y]))

    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=150)
    markers = "osD^v<>pXh*"
    for i, (name, points) in enumerate(series.items()):
        points.sort(key=lambda p: (p[0], -p[1]))
        xs, ys = zip(*points)
        line = points
        if not args.all_lines:
            line, best = [], None
            for x, y in points:
                if best is None or y > best:
                    line.append((x, y))
                    best = y
        lx, ly = zip(*line)
        marker = markers[i % len(markers)]
        drawn = ax.plot(lx, ly, linewidth=1.5, marker=marker, markersize=5, markevery=[], label=name)[0]
        ax.plot(xs, ys, linestyle="none", marker=marker, markersize=5, color=drawn.get_color())
    if args.logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(args.x)
    ax.set_ylabel(args.y)
    if args.title:
        ax.set_title(args.title)
    ax.grid(True, which="both", alpha=0.3)
    if args.series:
        ax.legend(title=args.series, fontsize=8, title_fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
