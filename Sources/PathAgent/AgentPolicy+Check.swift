import Foundation
import SRv6Paths

extension AgentPolicy {
    /// Checks what a policy names outside itself: every planned rule's topology file must read,
    /// name its `from` node, and hold a node whose address lies in the rule's `to` prefix (the
    /// node that would own a matching destination). Explicit rules need nothing outside.
    /// - Parameter file: the policy's file name, for error positions.
    /// - Returns: notes for a person, e.g. a rule that can never match because an earlier rule
    ///   takes all its connections.
    /// - Throws: ``PolicyError`` at the rule with the first problem.
    public func check(file: String) throws(PolicyError) -> [String] {
        var notes: [String] = []
        for (i, r) in rules.enumerated() {
            if case .plan(let p) = r.paths {
                let where_ = { (m: String) in PolicyError(file: file, line: r.line, column: r.column, m) }
                guard let data = FileManager.default.contents(atPath: p.topologyPath) else {
                    throw where_("rule \(i + 1): cannot read topology \(p.topology) (looked at \(p.topologyPath))")
                }
                let topology: Topology
                do { topology = try Topology(yaml: String(decoding: data, as: UTF8.self), file: p.topology) } catch {
                    throw where_("rule \(i + 1): topology \(p.topology) is not valid: \(error)")
                }
                guard topology[p.from] != nil else {
                    throw where_("rule \(i + 1): no node '\(p.from)' in topology \(p.topology) ('from' names this host's node)")
                }
                if let to = r.match.to {
                    let owners = topology.nodes.filter { n in
                        (n.address.map(to.contains) ?? false) || (n.locator.map { to.contains($0.address) || $0.contains(to.address) } ?? false)
                    }
                    if owners.isEmpty {
                        throw where_("rule \(i + 1): no node of topology \(p.topology) has an address in \(to), so no destination it matches can be planned to")
                    }
                }
            }
            // A rule after one whose match is at least as wide never matches.
            for j in 0..<i where rules[j].match.covers(r.match) {
                notes.append("rule \(i + 1) (line \(r.line)) never matches: rule \(j + 1) (line \(rules[j].line)) takes every connection it would")
                break
            }
        }
        return notes
    }
}

extension Match {
    /// Whether every connection `other` matches is matched by `self` too.
    func covers(_ other: Match) -> Bool {
        func prefixCovers(_ a: IPv6Prefix?, _ b: IPv6Prefix?) -> Bool {
            guard let a else { return true }
            guard let b else { return false }
            return a.length <= b.length && a.contains(b.address)
        }
        func rangeCovers<T>(_ a: ClosedRange<T>?, _ b: ClosedRange<T>?) -> Bool {
            guard let a else { return true }
            guard let b else { return false }
            return a.lowerBound <= b.lowerBound && b.upperBound <= a.upperBound
        }
        let cgroupCovers: Bool = {
            guard let c = cgroup else { return true }
            guard let o = other.cgroup else { return false }
            return o == c || o.hasPrefix(c.hasSuffix("/") ? c : c + "/")
        }()
        return prefixCovers(to, other.to) && prefixCovers(from, other.from) && rangeCovers(ports, other.ports)
            && rangeCovers(uids, other.uids) && cgroupCovers
    }
}
