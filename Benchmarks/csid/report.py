#!/usr/bin/env python3
"""Summarises csid-bench JSON lines (stdin) as Markdown tables."""
import json, sys
from collections import defaultdict

rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
by = defaultdict(list)
for r in rows:
    by[(r["topology"], r["k"])].append(r)

def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")

print("All paths with an SRH (mean bytes per packet; ceiling = payload share of a full 1500-byte frame):")
print()
print("| topology | k | paths with SRH | uncompressed | NEXT-C-SID | reduced | saved (reduced) | ceiling uncompr. | ceiling NEXT-C-SID | ceiling reduced |")
print("|---|---|---|---|---|---|---|---|---|---|")
for (t, k), rs in sorted(by.items()):
    s = [r for r in rs if r["uncompressed"] > 0]
    u, c, d = mean([r["uncompressed"] for r in s]), mean([r["csid"] for r in s]), mean([r["reduced"] for r in s])
    print(f"| {t} | {k} | {len(s)} | {u:.1f} | {c:.1f} | {d:.1f} | {100 * (1 - d / u):.0f}% | "
          f"{mean([r['ceilingUncompressed'] for r in s]):.4f} | {mean([r['ceilingCSID'] for r in s]):.4f} | {mean([r['ceilingReduced'] for r in s]):.4f} |")
print()
print("Planner lists by number of waypoints (all topologies and k):")
print()
print("| waypoints | paths | uncompressed | NEXT-C-SID | reduced | saved NEXT-C-SID | saved reduced |")
print("|---|---|---|---|---|---|---|")
byw = defaultdict(list)
for r in rows:
    if r["uncompressed"] > 0:
        byw[r["waypoints"]].append(r)
for w, s in sorted(byw.items()):
    u, c, d = mean([r["uncompressed"] for r in s]), mean([r["csid"] for r in s]), mean([r["reduced"] for r in s])
    print(f"| {w} | {len(s)} | {u:.1f} | {c:.1f} | {d:.1f} | {100 * (1 - c / u):.0f}% | {100 * (1 - d / u):.0f}% |")
print()
print("Hop-by-hop lists (every router of the path a node SID) with >= 4 waypoints (goal: >= 50% fewer SRH bytes):")
print()
print("| topology | k | paths | mean waypoints | uncompressed | NEXT-C-SID | reduced | saved NEXT-C-SID | saved reduced | worst (NEXT-C-SID / reduced) | ceiling uncompr. → reduced |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (t, k), rs in sorted(by.items()):
    s = [r for r in rs if r["hopWaypoints"] >= 4]
    if not s:
        print(f"| {t} | {k} | 0 | – | – | – | – | – | – | – | – |")
        continue
    u, c, d = mean([r["hopUncompressed"] for r in s]), mean([r["hopCSID"] for r in s]), mean([r["hopReduced"] for r in s])
    wc = min(1 - r["hopCSID"] / r["hopUncompressed"] for r in s)
    wd = min(1 - r["hopReduced"] / r["hopUncompressed"] for r in s)
    share = lambda b: (1500 - b - 96) / 1514
    cu, cd = mean([share(r["hopUncompressed"]) for r in s]), mean([share(r["hopReduced"]) for r in s])
    print(f"| {t} | {k} | {len(s)} | {mean([r['hopWaypoints'] for r in s]):.1f} | {u:.1f} | {c:.1f} | {d:.1f} | {100 * (1 - c / u):.0f}% | {100 * (1 - d / u):.0f}% | {100 * wc:.0f}% / {100 * wd:.0f}% | {cu:.4f} → {cd:.4f} |")
print()
print("Hop-by-hop lists by number of waypoints (all k):")
print()
print("| topology | waypoints | paths | uncompressed | NEXT-C-SID | reduced | saved NEXT-C-SID | saved reduced |")
print("|---|---|---|---|---|---|---|---|")
byh = defaultdict(list)
for r in rows:
    if r["hopUncompressed"] > 0:
        byh[(r["topology"], r["hopWaypoints"])].append(r)
for (t, w), s in sorted(byh.items()):
    u, c, d = mean([r["hopUncompressed"] for r in s]), mean([r["hopCSID"] for r in s]), mean([r["hopReduced"] for r in s])
    print(f"| {t} | {w} | {len(s)} | {u:.1f} | {c:.1f} | {d:.1f} | {100 * (1 - c / u):.0f}% | {100 * (1 - d / u):.0f}% |")
