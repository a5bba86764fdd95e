#!/usr/bin/env python3
"""Tables for Benchmarks/planner: median ms per request for each (k, disjointness), the
speed-ups of srte (planning + encoding) over networkx and the BGL anchor, peak memory, and a
pair-by-pair cost check of every min-cost anchor against bgl.ssp.

    python3 report.py results/paths.jsonl
"""
import json
import sys
from collections import defaultdict

COLS = ["srte.ssp", "srte.ssp+enc", "bgl.ssp", "bgl.ssp-early", "bgl.sspnw", "nx.ssp", "nx.mcf"]
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
topos = list(dict.fromkeys(r["topology"] for r in recs))
by = defaultdict(dict)
for r in recs:
    by[(r["topology"], r["op"], r["k"], r["disjoint"])][r["anchor"]] = r


def fmt(x):
    if x is None:
        return "–"
    return f"{x:.3g}" if x < 1000 else f"{x:.0f}"


print("### Dijkstra, one full single-source run (median ms)\n")
print("| topology | nodes | links | srte | bgl | nx |")
print("|---|---|---|---|---|---|")
for t in topos:
    row = by[(t, "dijkstra", None, None)]
    any_ = next(iter(row.values()), None)
    if not any_:
        continue
    cells = [fmt(row.get(a, {}).get("median_ms")) for a in ("srte.dijkstra", "bgl.dijkstra", "nx.ssp")]
    print(f"| {t} | {any_['nodes']} | {any_['links']} | " + " | ".join(cells) + " |")
print()
bad = []
for k in (2, 4):
    for mode in ("link", "node"):
        print(f"### k = {k}, {mode}-disjoint (median ms per request)\n")
        print("| topology | " + " | ".join(COLS) + " | nx.mcf ÷ srte+enc | nx.ssp ÷ srte+enc | srte ÷ best BGL | srte+enc ÷ best BGL |")
        print("|---|" + "---|" * (len(COLS) + 4))
        for t in topos:
            row = by[(t, "disjoint", k, mode)]
            if not row:
                continue
            med = {a: row[a]["median_ms"] if a in row and row[a].get("samples") else None for a in COLS}
            enc = med["srte.ssp+enc"]
            bgl = min([v for a, v in med.items() if a.startswith("bgl") and v] or [None]) if any(
                med[a] for a in COLS if a.startswith("bgl")) else None
            ratio = lambda a, b: f"{a / b:.1f}×" if a and b else "–"
            cells = [fmt(med[a]) + ("*" if a in row and row[a].get("note") and "budget" in str(row[a].get("note")) else "")
                     for a in COLS]
            print(f"| {t} | " + " | ".join(cells) + f" | {ratio(med['nx.mcf'], enc)} | {ratio(med['nx.ssp'], enc)} | {ratio(med['srte.ssp'], bgl)} | {ratio(enc, bgl)} |")
            ref = row.get("bgl.ssp")
            for a in ("srte.ssp", "srte.ssp+enc", "nx.ssp", "nx.mcf"):
                if ref and a in row and row[a].get("total_costs"):
                    n = min(len(ref["total_costs"]), len(row[a]["total_costs"]))
                    if row[a]["total_costs"][:n] != ref["total_costs"][:n] or row[a]["found"][:n] != ref["found"][:n]:
                        bad.append(f"{t} k={k} {mode} {a}: {row[a]['total_costs']} vs bgl.ssp {ref['total_costs']}")
        print()
print("### Peak RSS of each process (MiB)\n")
print("| topology | srte | bgl | nx.ssp | nx.mcf |")
print("|---|---|---|---|---|")
for t in topos:
    peak = defaultdict(float)
    for r in recs:
        if r["topology"] == t and r.get("peak_rss_mib"):
            fam = "srte" if r["anchor"].startswith("srte") else "bgl" if r["anchor"].startswith("bgl") else r["anchor"]
            peak[fam] = max(peak[fam], r["peak_rss_mib"])
    print(f"| {t} | " + " | ".join(fmt(peak.get(f)) for f in ("srte", "bgl", "nx.ssp", "nx.mcf")) + " |")
print()
print("Cost check against bgl.ssp (same pairs, same order): " + ("all equal." if not bad else f"{len(bad)} MISMATCHES"))
for b in bad:
    print("* " + b)
