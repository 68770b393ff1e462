#!/usr/bin/env python3
"""Plots from `ringsim plan` or `ringsim run` CSV: time per step and tokens/s against GPUs, memory per GPU against
capacity, and the exposed-communication share.

Reads the CSV as ringsim writes it (the `#` preamble names the profile and the labels; lines starting with `#` are
skipped). Every axis and legend says what the figures are: each row's label (simulated or estimated; memory is always
estimated) and the profile from the preamble. One line per schedule for `run` CSV; for `plan` CSV one line (the
fastest that fits per GPU count), marked by label.

  python3 tools/plot/plot_plan.py scenarios/results/plan-llama3-70b-1048576.csv --out docs/70b-1m.png
  python3 tools/plot/plot_plan.py A.csv B.csv --out scaling.png     # one line per file (its scenario name)
"""
import argparse
import csv
import re
import sys


def read(path):
    preamble, rows = [], []
    with open(path) as f:
        lines = [line for line in f if not (line.startswith("#") and preamble.append(line) is None)]
    for row in csv.DictReader(lines):
        rows.append(row)
    text = "".join(preamble)
    profile = re.search(r"profile: (\S+)", text)
    scenario = re.search(r"scenario: (\S+)", text)
    return rows, (profile.group(1) if profile else "unknown profile"), (scenario.group(1) if scenario else path)


def series(rows):
    """(gpus, seconds, memory, capacity, exposed share, label, fits) per row, sorted by GPUs."""
    out = []
    for r in rows:
        seconds = r.get("seconds") or r.get("simulated_seconds")
        if not seconds:
            continue
        fits = r.get("fits", r.get("fits_in_memory", "true")) == "true"
        out.append((int(r["gpus"]), float(seconds), float(r["peak_memory_bytes_per_device"]),
                    float(r["memory_capacity_bytes"]), float(r["exposed_comm_fraction"]), r["label"], fits,
                    int(r["tokens"]), r.get("scope", "layer")))
    return sorted(out)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", nargs="+")
    p.add_argument("--out", required=True, help="image file (.png, .svg)")
    a = p.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_m, ax_c) = plt.subplots(1, 3, figsize=(16, 4.8))
    profiles = set()
    for path in a.csv:
        rows, profile, scenario = read(path)
        profiles.add(profile)
        s = series(rows)
        if not s:
            continue
        gpus = [x[0] for x in s]
        labels = sorted({x[5] for x in s})
        scope = "step" if s[0][8] == "step" else "layer"
        name = f"{scenario} ({'/'.join(labels)}, {profile})"
        ax_t.plot(gpus, [x[1] for x in s], marker="o", label=name)
        for x in s:
            if not x[6]:
                ax_t.plot(x[0], x[1], "x", color="red")
        ax_m.plot(gpus, [x[2] / 2**30 for x in s], marker="o", label=f"{scenario} (estimated, memory model)")
        ax_m.plot(gpus, [x[3] / 2**30 for x in s], "--", color="gray", label=f"capacity ({profile})")
        ax_c.plot(gpus, [100 * x[4] for x in s], marker="o", label=name)
    for ax in (ax_t, ax_m, ax_c):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("GPUs")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    ax_t.set_yscale("log")
    ax_t.set_ylabel(f"seconds per {scope} (simulated/estimated as labelled; x: does not fit)")
    ax_m.set_ylabel("memory per GPU, GiB (estimated)")
    ax_c.set_ylabel("exposed communication, % of the time (as labelled)")
    fig.suptitle(f"ringsim: profile {', '.join(sorted(profiles))}; fastest schedule that fits per GPU count")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
