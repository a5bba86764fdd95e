#!/usr/bin/env python3
"""connect() -> k subflows established, as an unmodified application sees it.

client: opens TRIALS MPTCP connections (socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)), each:
  t0, connect(), send one byte (MPTCP opens joins only once the connection is fully
  established, which needs the peer's data ack), then polls MPTCP_TCPINFO every 0.1 ms until
  K subflows are ESTABLISHED (or TIMEOUT s pass). Prints one JSON line per trial:
  {"k": K, "connect_ms": ..., "k_up_ms": ... or null, "subflows": n}.
server: accepts MPTCP connections on PORT and reads each until EOF (one thread each), for
  SECONDS seconds.
Used by Benchmarks/agent/run.sh; runs inside the lab's namespaces.
"""
import ctypes, ctypes.util, json, socket, struct, sys, threading, time

IPPROTO_MPTCP, SOL_MPTCP, MPTCP_TCPINFO, TCP_ESTABLISHED = 262, 284, 2, 1
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def established(fd, room=16):
    """Subflows of the MPTCP socket fd in TCP_ESTABLISHED (MPTCP_TCPINFO: struct
    mptcp_subflow_data, then one tcp_info per subflow, of which we ask 8 bytes)."""
    per = 8
    buf = ctypes.create_string_buffer(16 + room * per)
    struct.pack_into("IIII", buf, 0, 16, 0, 0, per)
    n = ctypes.c_uint32(len(buf))
    if libc.getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, buf, ctypes.byref(n)) != 0:
        raise OSError(ctypes.get_errno(), "getsockopt(MPTCP_TCPINFO)")
    _, count, _, size_user = struct.unpack_from("IIII", buf, 0)
    count = min(count, room)
    return sum(1 for i in range(count) if buf.raw[16 + i * size_user] == TCP_ESTABLISHED)


def client(addr, port, k, trials, timeout):
    for _ in range(trials):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP)
        t0 = time.perf_counter()
        s.connect((addr, port))
        t_conn = time.perf_counter()
        s.send(b"x")
        up, n = None, 1
        while time.perf_counter() - t0 < timeout:
            n = established(s.fileno())
            if n >= k:
                up = time.perf_counter()
                break
            time.sleep(0.0001)
        print(json.dumps({"k": k, "connect_ms": round((t_conn - t0) * 1e3, 3),
                          "k_up_ms": None if up is None else round((up - t0) * 1e3, 3), "subflows": n}), flush=True)
        s.close()
        time.sleep(0.2)


def server(port, seconds):
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(64)
    ls.settimeout(0.5)
    end = time.time() + seconds

    def drain(c):
        with c:
            c.settimeout(seconds)
            try:
                while c.recv(65536):
                    pass
            except OSError:
                pass

    while time.time() < end:
        try:
            c, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=drain, args=(c,), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
    else:
        server(int(sys.argv[2]), float(sys.argv[3]))
