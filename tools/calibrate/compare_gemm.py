#!/usr/bin/env python3
"""Compares the GEMM samples of a ringsim-calibrate profile with torch.matmul's on the same card.

    python3 tools/calibrate/compare_gemm.py DIR    (DIR: calibrated.yaml and torch-gemm.json,
                                                    as tools/calibrate/results/2026-11-27-h100-gemm-grid/gemm_check.sh writes them)
Prints the spread of ours / torch - 1 over the shapes both timed.
"""
import json, yaml, statistics, sys
d=sys.argv[1]
t=json.load(open(d+'/torch-gemm.json'))
p=yaml.safe_load(open(d+'/calibrated.yaml'))
ours={(g['m'],g['n'],g['k']):g['seconds'] for g in p['gemm']}
r=[];worst=None
for g in t:
    k=(g['m'],g['n'],g['k']); x=ours[k]/g['seconds']-1; r.append(x)
    if worst is None or abs(x)>abs(worst[0]): worst=(x,k)
a=sorted(abs(x) for x in r)
print(f"{len(r)} shapes, ours/torch - 1: median |d| {a[len(a)//2]:.3f}, p90 {a[int(.9*len(a))]:.3f}, max {a[-1]:.3f} at {worst[1]} ({worst[0]:+.3f}); signed median {statistics.median(r):+.3f}; within 5%: {sum(x<.05 for x in a)}, within 2%: {sum(x<.02 for x in a)}")
big=[x for g,x in zip(t,r) if g['m']*g['n']*g['k']>=4096**3]
b=sorted(abs(x) for x in big)
print(f"  m n k >= 4096^3: {len(b)} shapes, median |d| {b[len(b)//2]:.3f}, max {b[-1]:.3f}")
