#!/usr/bin/env python3
"""Lists and opens MPTCP subflows through libsrte-mptcp (ctypes), as any user the agent's
grants allow: python3 subflows.py SERVER PORT [SID]  (SID: the waypoint of the new subflow)."""
import ctypes, errno, os, socket, sys, time

lib = ctypes.CDLL(os.environ.get("SRTE_MPTCP_LIB", "libsrte-mptcp.so.0"), use_errno=True)

class SubflowStatus(ctypes.Structure):          # struct srte_subflow_status
    _fields_ = [("id", ctypes.c_uint32), ("flags", ctypes.c_uint32)]

class SockaddrStorage(ctypes.Structure):        # struct sockaddr_storage: 128 bytes, 8-aligned
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_ubyte * 118), ("align", ctypes.c_ulong)]

class SubflowTuple(ctypes.Structure):           # struct srte_subflow_tuple
    _fields_ = [("low_prio", ctypes.c_int), ("if_index", ctypes.c_int),
                ("local", SockaddrStorage), ("remote", SockaddrStorage)]

FULLY_ESTABLISHED = 0x1
lib.srte_mptcp_get_subflow_ids.argtypes = [ctypes.c_int, ctypes.POINTER(SubflowStatus), ctypes.c_size_t]
lib.srte_mptcp_open_subflow.argtypes = [ctypes.c_int, ctypes.POINTER(SubflowTuple), ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint32)]
lib.srte_mptcp_close_subflow.argtypes = [ctypes.c_int, ctypes.c_uint32, ctypes.c_int]
lib.srte_mptcp_last_error.restype = ctypes.c_char_p

def failure(what):
    e = ctypes.get_errno()
    return f"{what} errno={os.strerror(e)}: {lib.srte_mptcp_last_error().decode()}"

def subflows(fd):
    ids = (SubflowStatus * 8)()
    n = lib.srte_mptcp_get_subflow_ids(fd, ids, 8)
    if n < 0:
        raise OSError(ctypes.get_errno(), failure("ids"))
    return [(ids[i].id, bool(ids[i].flags & FULLY_ESTABLISHED)) for i in range(min(n, 8))]

def show(fd):
    s = subflows(fd)
    print(f"ids n={len(s)} " + " ".join(f"{i}:{'E' if e else '-'}" for i, e in s), flush=True)
    return s

server, port = sys.argv[1], int(sys.argv[2])
via = sys.argv[3] if len(sys.argv) > 3 else None
sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)   # IPPROTO_MPTCP
sock.connect((server, port))
sock.sendall(b"x" * 65536)
show(sock.fileno())

# Draft-03 Figure 11: an SRH whose Segment List[0] is :: (the subflow's destination), [1] the SID.
srh = None
if via:
    srh = bytes([socket.IPPROTO_TCP, 4, 4, 1, 1, 0, 0, 0]) + bytes(16) + socket.inet_pton(socket.AF_INET6, via)
t = SubflowTuple()
t.local.family = t.remote.family = socket.AF_INET6   # ::, port 0: the connection's addresses, any port
new = ctypes.c_uint32()
for _ in range(300):   # EAGAIN until the peer has acknowledged data (fully established)
    rc = lib.srte_mptcp_open_subflow(sock.fileno(), ctypes.byref(t), srh, ctypes.byref(new))
    if rc == 0 or ctypes.get_errno() != errno.EAGAIN:
        break
    time.sleep(0.01)
if rc < 0:
    print(failure("open"))
else:
    print(f"open ok id={new.value}", flush=True)
    for _ in range(300):
        if (new.value, True) in subflows(sock.fileno()):
            break
        time.sleep(0.01)
    show(sock.fileno())
    sock.sendall(b"x" * int(os.environ.get("BYTES", "4000000")))
    if lib.srte_mptcp_close_subflow(sock.fileno(), new.value, socket.SHUT_RDWR) < 0:
        print(failure("close"))
    else:
        print("close ok")
sock.shutdown(socket.SHUT_WR)
while sock.recv(65536):
    pass
