#!/usr/bin/env python3
"""scapy's IPv6ExtHdrSegmentRouting on the inputs of srh-bench: build (path ->
bytes) and parse (bytes -> path), ns per op, JSON lines. scapy does not validate."""
import json
import statistics
import timeit

from scapy.layers.inet6 import IPv6ExtHdrSegmentRouting as SRH


def path(n):
    return [f"fc00:0:{i + 1:x}::1" for i in range(n)]


def build(p):
    return bytes(SRH(nh=41, addresses=p[::-1], segleft=len(p) - 1, lastentry=len(p) - 1))


def parse(raw):
    return SRH(raw).addresses[::-1]


for n in (1, 4, 16):
    p = path(n)
    raw = build(p)
    assert parse(raw) == p and len(raw) == 8 + 16 * n
    for op, fn in (("build", lambda: build(p)), ("decode", lambda: parse(raw))):
        t = timeit.Timer(fn)
        number, _ = t.autorange()
        runs = [x / number for x in t.repeat(repeat=7, number=number)]
        print(json.dumps({"anchor": "scapy", "op": op, "segments": n, "tlv_bytes": 0, "bytes": len(raw),
                          "median_ns": round(statistics.median(runs) * 1e9, 1), "min_ns": round(min(runs) * 1e9, 1),
                          "iterations": number, "repeat": 7}))
