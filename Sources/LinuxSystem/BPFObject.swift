import Glibc
internal import CSRH

/// A BPF object file loaded into the kernel with libbpf: its programs verified, its maps
/// created. The one place srte loads and attaches BPF programs.
///
/// Objects are embedded in the binary as base64 text (the BPFEmbed build plugin compiles
/// `Sources/CSRH/bpf/*.bpf.c`). Closing the object (``close()``, or releasing it) frees what
/// nothing else holds: a program stays in the kernel while a TCX link fd or a tc filter holds
/// it, a map while a program or an fd holds it.
///
/// ```swift
/// let object = try BPFObject(embedded: srhLearnObject, what: "the SRH learning program")
/// let learned = try object.mapFD("srte_learned")
/// let link = try object.attachTCX(ifindex: ifindex, ingress: true)   // detached when `link` closes
/// ```
package final class BPFObject {
    private var object: OpaquePointer?
    /// What the object is, for error messages.
    package let what: String

    /// Decodes and loads an embedded object.
    /// - Parameter sharing: a map of the object to replace by an existing map (name, fd), so
    ///   that two programs share it (types, key and value sizes must agree).
    /// - Throws: ``SystemCallError`` with libbpf's log (the verifier's output) as its detail.
    package init(embedded base64: String, what: String, sharing: (map: String, fd: Int32)? = nil) throws(SystemCallError) {
        self.what = what
        guard let elf = Base64.decode(base64) else {
            throw SystemCallError("decoding the embedded \(what)", errno: EINVAL, detail: "the embedded object is not base64")
        }
        var o: OpaquePointer? = nil
        let r = elf.withUnsafeBytes { b in
            if let sharing { return csrh_bpf_object_load_reusing(b.baseAddress, b.count, sharing.map, sharing.fd, &o) }
            return csrh_bpf_object_load(b.baseAddress, b.count, &o)
        }
        guard r == 0, let o else { throw SystemCallError("loading \(what)", errno: -r, detail: BPFObject.lastLog()) }
        object = o
    }

    deinit { close() }

    /// Closes the object; programs and maps held elsewhere stay.
    package func close() {
        if let o = object { csrh_bpf_object_close(o); object = nil }
    }

    /// A file descriptor of the object's map `name` (owned by the object: not to be closed).
    package func mapFD(_ name: String) throws(SystemCallError) -> Int32 {
        guard let o = object else { throw SystemCallError("\(what) was closed", errno: EBADF) }
        let fd = csrh_bpf_object_map_fd(o, name)
        guard fd >= 0 else { throw SystemCallError("finding map \(name) in \(what)", errno: -fd) }
        return fd
    }

    /// Attaches the object's only program to the TCX hook of `ifindex` (in the calling thread's
    /// namespace). The kernel detaches it when the returned link descriptor's last copy closes,
    /// also when the process dies.
    /// - Returns: the link's file descriptor, owned by the caller.
    package func attachTCX(ifindex: Int32, ingress: Bool) throws(SystemCallError) -> Int32 {
        guard let o = object else { throw SystemCallError("\(what) was closed", errno: EBADF) }
        var fd: Int32 = -1
        let r = csrh_bpf_object_attach_tcx(o, ifindex, ingress ? 1 : 0, &fd)
        guard r == 0 else {
            throw SystemCallError("attaching \(what) to interface \(ifindex) \(ingress ? "ingress" : "egress") (TCX link; needs Linux 6.6+)",
                                  errno: -r, detail: BPFObject.lastLog())
        }
        return fd
    }

    /// Attaches the object's only program (a sock_ops program) to the cgroup v2 directory
    /// `path`, for the sockets of every process in it, through a link that the kernel removes
    /// when the returned descriptor's last copy closes.
    /// - Returns: the link's file descriptor, owned by the caller.
    package func attachCgroupSockOps(path: String) throws(SystemCallError) -> Int32 {
        guard let o = object else { throw SystemCallError("\(what) was closed", errno: EBADF) }
        var fd: Int32 = -1
        let r = csrh_bpf_object_attach_cgroup_sockops(o, path, &fd)
        guard r == 0 else {
            throw SystemCallError("attaching \(what) to cgroup \(path) (sock_ops link)", errno: -r, detail: BPFObject.lastLog())
        }
        return fd
    }

    /// Attaches the object's only program as a classic tc filter (clsact qdisc, replacing the
    /// filter srte put there before). The filter outlives the process; it goes with the
    /// interface or its namespace.
    package func attachTC(ifindex: Int32, ingress: Bool) throws(SystemCallError) {
        guard let o = object else { throw SystemCallError("\(what) was closed", errno: EBADF) }
        let r = csrh_bpf_object_attach_tc(o, ifindex, ingress ? 1 : 0)
        guard r == 0 else {
            throw SystemCallError("attaching \(what) to interface \(ifindex) \(ingress ? "ingress" : "egress") (tc filter)",
                                  errno: -r, detail: BPFObject.lastLog())
        }
    }

    /// libbpf's messages since the last load or attach (the verifier's log included).
    package static func lastLog() -> String { String(cString: csrh_bpf_last_log()) }
}

/// Operations on BPF maps by file descriptor. Keys and values are the raw bytes of the
/// map's C types (declared in CSRH).
package enum BPFMap {
    /// Creates or replaces `key`'s value.
    package static func update(_ fd: Int32, key: UnsafeRawPointer, value: UnsafeRawPointer) throws(SystemCallError) {
        let r = csrh_bpf_map_update(fd, key, value)
        guard r == 0 else { throw SystemCallError("bpf(BPF_MAP_UPDATE_ELEM)", errno: -r) }
    }

    /// Deletes `key`; false when it was not there.
    @discardableResult
    package static func delete(_ fd: Int32, key: UnsafeRawPointer) throws(SystemCallError) -> Bool {
        let r = csrh_bpf_map_delete(fd, key)
        if r == -ENOENT { return false }
        guard r == 0 else { throw SystemCallError("bpf(BPF_MAP_DELETE_ELEM)", errno: -r) }
        return true
    }

    /// The key after `key` (`nil`: the first) written to `next`; false at the end.
    package static func nextKey(_ fd: Int32, after key: UnsafeRawPointer?, into next: UnsafeMutableRawPointer) -> Bool {
        csrh_bpf_map_next_key(fd, key, next) == 0
    }

    /// Reads `key`'s value into `value`; false when the key is not there.
    package static func lookup(_ fd: Int32, key: UnsafeRawPointer, into value: UnsafeMutableRawPointer) -> Bool {
        csrh_bpf_map_lookup(fd, key, value) == 0
    }

    /// The sum over all CPUs of slot `index` of a per-CPU u64 array.
    package static func perCPUSum(_ fd: Int32, index: UInt32) -> UInt64 {
        var sum: UInt64 = 0
        _ = csrh_bpf_percpu_u64_sum(fd, index, &sum)
        return sum
    }

    /// A descriptor of map `name` of the program attached by ``BPFObject/attachTC(ifindex:ingress:)``
    /// to `ifindex` (in the calling thread's namespace).
    package static func attachedTCMapFD(ifindex: Int32, ingress: Bool, name: String) throws(SystemCallError) -> Int32 {
        let fd = csrh_bpf_tc_attached_map_fd(ifindex, ingress ? 1 : 0, name)
        guard fd >= 0 else { throw SystemCallError("finding map \(name) of the tc program on interface \(ifindex)", errno: -fd) }
        return fd
    }

    /// How many programs are attached to the TCX egress hook of `ifindex` (any owner).
    package static func tcxEgressCount(ifindex: Int32) throws(SystemCallError) -> Int {
        var n: UInt32 = 0
        let r = csrh_bpf_tcx_egress_count(ifindex, &n)
        guard r == 0 else { throw SystemCallError("querying TCX egress programs on interface \(ifindex)", errno: -r) }
        return Int(n)
    }
}

/// RFC 4648 base64 decoding (for the embedded BPF objects), without Foundation.
package enum Base64 {
    /// The bytes, or `nil` for a character outside the alphabet.
    package static func decode(_ s: String) -> [UInt8]? {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() { table[Int(c)] = UInt8(i) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in s.utf8 {
            if c == UInt8(ascii: "=") { break }
            let v = table[Int(c)]
            if v == 0xff { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
        }
        return out
    }
}
