// Topologies with RFC 9800 C-SIDs shared by the compressed-SID tests of several targets.

/// The diamond with RFC 9800 C-SIDs (F3216 in fc00:0::/32); b keeps plain End (`csid: none`).
package let diamondCSIDYAML = """
name: diamond-csid
defaults: { metric: 10 }
csid: { block: "fc00:0::/32", length: 16 }
nodes:
  h1: { kind: host, address: "fc00:1::1" }
  r1: { locator: "fc00:0:1::/48" }
  a:  { locator: "fc00:0:a::/48" }
  b:  { locator: "fc00:0:b::/48", csid: none }
  c:  { locator: "fc00:0:c::/48" }
  r2: { locator: "fc00:0:2::/48" }
  h2: { kind: host, address: "fc00:2::2" }
links:
  - { endpoints: [h1, r1] }
  - { endpoints: [r1, a] }
  - { endpoints: [r1, b], metric: 15 }
  - { endpoints: [r1, c], metric: 20 }
  - { endpoints: [a, r2] }
  - { endpoints: [b, r2], metric: 15 }
  - { endpoints: [c, r2], metric: 20 }
  - { endpoints: [r2, h2] }
"""

/// A topology whose two link-disjoint paths both avoid the IGP's path (h1 s a b t h2), so the
/// initial subflow needs an SRH as much as the join: h1 s a t h2 (End.X a→t) and h1 s b t h2
/// (End.X s→b). With F3216 C-SIDs each list is one container — End C-SID then End.X C-SID —
/// and the final destination.
package let trapCSIDYAML = """
name: trap
defaults: { metric: 10, bandwidth: 1Gbit, delay: 1ms }
csid: { block: "fc00:0::/32", length: 16 }
nodes:
  h1: { kind: host, address: "fc00:1::1" }
  s:  { locator: "fc00:0:1::/48" }
  a:  { locator: "fc00:0:a::/48" }
  b:  { locator: "fc00:0:b::/48" }
  t:  { locator: "fc00:0:2::/48" }
  h2: { kind: host, address: "fc00:2::2" }
links:
  - { endpoints: [h1, s] }
  - { endpoints: [s, a], bandwidth: 50Mbit }
  - { endpoints: [a, b], bandwidth: 50Mbit }
  - { endpoints: [b, t], bandwidth: 50Mbit }
  - { endpoints: [a, t], metric: 30, bandwidth: 50Mbit }
  - { endpoints: [s, b], metric: 30, bandwidth: 50Mbit }
  - { endpoints: [t, h2] }
"""
