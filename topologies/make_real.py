#!/usr/bin/env python3
"""Regenerates the real-network topology files from the PyPI package `topohub` (MIT; it carries
the Internet Topology Zoo and CAIDA-derived PoP maps):

    pip install topohub==1.5.1
    python3 topologies/make_real.py [path/to/srte]

For each network it writes a Topology Zoo style GML file (node: id, label, Longitude, Latitude;
edge: source, target) and converts it with `srte topology import --metric distance`, so the
bundled YAML files are exactly what the importer makes: IGP metric = great-circle km, delay =
5 us per km, locators fc00:0:<i>::/48.
"""
import os
import subprocess
import sys
import tempfile

import topohub

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NETWORKS = {  # output name -> (topohub key, label)
    "abilene": ("topozoo/Abilene", "Abilene"),
    "level3": ("caida/2024-08/3356", "Level3-AS3356"),
}


def gml(key, label):
    d = topohub.get(key)
    out = ["graph [", "  directed 0", f'  label "{label}"']
    for n in d["nodes"]:
        lon, lat = n["pos"]
        name = str(n.get("name") or n["id"]).replace('"', "'")
        out += ["  node [", f"    id {n['id']}", f'    label "{name}"', f"    Longitude {lon}", f"    Latitude {lat}", "  ]"]
    for e in d["edges"]:
        out += ["  edge [", f"    source {e['source']}", f"    target {e['target']}", "  ]"]
    out.append("]")
    return "\n".join(out) + "\n"


def main():
    srte = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "srte")
    fixtures = os.path.join(ROOT, "Tests", "Fixtures")
    os.makedirs(fixtures, exist_ok=True)
    for name, (key, label) in NETWORKS.items():
        # Abilene's GML is kept as the importer's test fixture; the others go to a temp file.
        path = os.path.join("Tests", "Fixtures", name + ".gml") if name == "abilene" \
            else os.path.join(tempfile.gettempdir(), name + ".gml")
        with open(os.path.join(ROOT, path), "w") as f:
            f.write(gml(key, label))
        subprocess.run([srte, "topology", "import", path if name == "abilene" else f"{name}.gml",
                        "--metric", "distance", "-o", os.path.join(HERE, name + ".yaml")],
                       check=True, cwd=ROOT if name == "abilene" else tempfile.gettempdir())
        print(f"{name}: {path} -> topologies/{name}.yaml")


if __name__ == "__main__":
    main()
