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
                let topology: Topology
                do { topology = try p.loadTopology() } catch { throw where_("rule \(i + 1): \(error.message)") }
                guard topology[p.from] != nil else {
                    throw where_("rule \(i + 1): no node '\(p.from)' in topology \(p.topology) ('from' names this host's node)")
                }
                if let to = r.match.to {
                    if !topology.nodes.contains(where: { PlanSpec.owned(by: $0, within: to) != nil }) {
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

extension PlanSpec {
    /// The topology file, read and parsed.
    /// - Throws: ``PolicyError`` (without a position) naming the file and what is wrong.
    func loadTopology() throws(PolicyError) -> Topology {
        guard let data = FileManager.default.contents(atPath: topologyPath) else {
            throw PolicyError(file: topologyPath, "cannot read topology \(topology) (looked at \(topologyPath))")
        }
        do { return try Topology(yaml: String(decoding: data, as: UTF8.self), file: topology) } catch {
            throw PolicyError(file: topologyPath, "topology \(topology) is not valid: \(error)")
        }
    }

    /// The part of `prefix` that `node` owns — its address as a /128, or its locator (or
    /// `prefix`, when the locator holds all of it) — or `nil` when it owns none.
    static func owned(by node: Topology.Node, within prefix: IPv6Prefix) -> IPv6Prefix? {
        if let a = node.address, prefix.contains(a) { return IPv6Prefix(address: a, length: 128) }
        if let l = node.locator, prefix.contains(l.address) || l.contains(prefix.address) {
            return l.length >= prefix.length ? l : prefix
        }
        return nil
    }
}

