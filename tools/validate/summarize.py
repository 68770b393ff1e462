#!/usr/bin/env python3
"""Summarise `ringsim validate` tables (tools/validate/RESULTS.md uses it).

Per (GPU count, pass, schedule), over rows with chunk >= 2K: the worst
self-calibrated and out-of-sample error and how many rows are within 5%.
The GPU count is the "<N>gpu" in the table's file or folder name
(run_device.sh writes OUT/<N>gpu/validate-<N>gpu.txt); a path without one is
refused. Prints Markdown.

  python3 tools/validate/summarize.py results/2026-11-27-final2/{2gpu,4gpu}/validate-*.txt
"""
import collections
import os
import re
import sys


def gpus_of(path):
    """N of the last "<N>gpu" in the file's name, else in its folder's."""
    for part in (os.path.basename(path), os.path.basename(os.path.dirname(os.path.abspath(path)))):
        found = re.findall(r"(\d+)gpu", part)
        if found:
            return found[-1]
    sys.exit(f"summarize.py: no <N>gpu in {path}: the GPU count comes from the name")


def rows_of(path):
    gpus = gpus_of(path)
    for line in open(path):
        if "|" not in line or line.startswith(("scenario", "#")):
            continue
        parts = line.split("|")
        head = parts[0].split()
        try:
            chunk = int(head[-1])
            self_err = float(parts[2].split()[1])
            oos_err = float(parts[3].split()[-1])
        except (IndexError, ValueError):
            continue
        kind = "training" if "training" in head[0] else "forward"
        yield gpus, kind, head[1], chunk, self_err, oos_err


def main(paths):
    groups = collections.defaultdict(list)
    for p in paths:
        for r in rows_of(p):
            if r[3] >= 2048:
                groups[r[:3]].append(r)
    print("| GPUs | pass | schedule | points (chunk >= 2K) | self-calibrated: worst, within 5% "
          "| out of sample: worst, within 5% |")
    print("|---|---|---|---|---|---|")
    for key in sorted(groups):
        rs = groups[key]
        worst_self = max(rs, key=lambda r: abs(r[4]))[4]
        worst_oos = max(rs, key=lambda r: abs(r[5]))[5]
        ok_self = sum(abs(r[4]) <= 5 for r in rs)
        ok_oos = sum(abs(r[5]) <= 5 for r in rs)
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(rs)} | {worst_self:+.1f}% ({ok_self}/{len(rs)}) "
              f"| {worst_oos:+.1f}% ({ok_oos}/{len(rs)}) |")
    every = [r for rs in groups.values() for r in rs]
    print(f"\nall chunk >= 2K: {len(every)} points; self within 5%: {sum(abs(r[4]) <= 5 for r in every)}, "
          f"within 3%: {sum(abs(r[4]) <= 3 for r in every)}; out of sample within 5%: "
          f"{sum(abs(r[5]) <= 5 for r in every)}")


if __name__ == "__main__":
    main(sys.argv[1:])
