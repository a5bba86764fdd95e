#!/usr/bin/env python3
"""Table of srh.jsonl: srte vs C (same checks) vs scapy, ns per op, with ratios."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["anchor"], r["op"], r["segments"], r["tlv_bytes"]): r["median_ns"] for r in rows}
print("| op | segments | TLV bytes | srte ns | C ns | srte / C | scapy ns | scapy / srte |")
print("|---|---|---|---|---|---|---|---|")
for (anchor, op, n, t), ns in sorted(by.items(), key=lambda kv: (kv[0][2], kv[0][3], kv[0][1])):
    if anchor != "srte.swift":
        continue
    c_op = "build" if op == "build-direct" else op
    c = by.get(("c.kernel-checks", c_op, n, t))
    sc = by.get(("scapy", c_op, n, t)) if op in ("build", "build-direct", "decode") else None
    ratio = f"{ns / c:.2f}x" if c else "-"
    sratio = f"{sc / ns:,.0f}x" if sc else "-"
    print(f"| {op} | {n} | {t} | {ns:.1f} | {c if c is not None else '-'} | {ratio} | {f'{sc:,.0f}' if sc else '-'} | {sratio} |")
