// Lists and opens MPTCP subflows through libsrte-mptcp (cgo), as any user the agent's grants
// allow: go run subflows.go SERVER PORT [SID]  (SID: the waypoint of the new subflow).
// Build: CGO_CFLAGS="$(pkg-config --cflags srte)" CGO_LDFLAGS="$(pkg-config --libs srte)" go build subflows.go
package main

/*
#cgo LDFLAGS: -lsrte-mptcp
#include <srte/mptcp_socket.h>
#include <stdlib.h>
#include <sys/socket.h>
*/
import "C"

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func lastError() string { return C.GoString(C.srte_mptcp_last_error()) }

type subflow struct {
	id          uint32
	established bool
}

func subflows(fd int) ([]subflow, error) {
	var ids [8]C.struct_srte_subflow_status
	n, err := C.srte_mptcp_get_subflow_ids(C.int(fd), &ids[0], 8)
	if n < 0 {
		return nil, fmt.Errorf("ids errno=%v: %s", err, lastError())
	}
	var out []subflow
	for i := 0; i < int(n) && i < len(ids); i++ {
		out = append(out, subflow{uint32(ids[i].id), ids[i].flags&C.SRTE_SUBFLOW_FULLY_ESTABLISHED != 0})
	}
	return out, nil
}

func show(fd int) {
	s, err := subflows(fd)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ids n=%d", len(s))
	for _, f := range s {
		state := "-"
		if f.established {
			state = "E"
		}
		fmt.Printf(" %d:%s", f.id, state)
	}
	fmt.Println()
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: subflows SERVER PORT [SID]")
		os.Exit(2)
	}
	port, _ := strconv.Atoi(os.Args[2])
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 262) // IPPROTO_MPTCP
	if err != nil {
		fmt.Println("socket:", err)
		os.Exit(1)
	}
	sa := &syscall.SockaddrInet6{Port: port}
	copy(sa.Addr[:], net.ParseIP(os.Args[1]).To16())
	if err := syscall.Connect(fd, sa); err != nil {
		fmt.Println("connect:", err)
		os.Exit(1)
	}
	data := make([]byte, 65536)
	syscall.Write(fd, data)
	show(fd)

	// Draft-03 Figure 11: an SRH whose Segment List[0] is :: (the subflow's destination), [1] the SID.
	var srh *C.struct_ipv6_sr_hdr
	if len(os.Args) > 3 {
		b := C.malloc(40) // C memory: the SRH is read by the library
		defer C.free(b)
		h := (*[40]byte)(b)
		*h = [40]byte{syscall.IPPROTO_TCP, 4, 4, 1, 1}
		copy(h[24:], net.ParseIP(os.Args[3]).To16())
		srh = (*C.struct_ipv6_sr_hdr)(b)
	}
	var t C.struct_srte_subflow_tuple
	t.local.ss_family = syscall.AF_INET6 // ::, port 0: the connection's addresses, any port
	t.remote.ss_family = syscall.AF_INET6
	var id C.uint32_t
	var r C.int
	for i := 0; i < 300; i++ { // EAGAIN until the peer has acknowledged data (fully established)
		if r, err = C.srte_mptcp_open_subflow(C.int(fd), &t, srh, &id); r == 0 || err != syscall.EAGAIN {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r < 0 {
		fmt.Printf("open errno=%v: %s\n", err, lastError())
	} else {
		fmt.Printf("open ok id=%d\n", id)
		for i := 0; i < 300; i++ {
			s, _ := subflows(fd)
			if len(s) > 1 && s[len(s)-1].id == uint32(id) && s[len(s)-1].established {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		show(fd)
		for left := 4000000; left > 0; left -= len(data) {
			syscall.Write(fd, data)
		}
		if r, err := C.srte_mptcp_close_subflow(C.int(fd), id, C.SHUT_RDWR); r < 0 {
			fmt.Printf("close errno=%v: %s\n", err, lastError())
		} else {
			fmt.Println("close ok")
		}
	}
	syscall.Shutdown(fd, syscall.SHUT_WR)
	for {
		n, err := syscall.Read(fd, data)
		if n <= 0 || err != nil {
			break
		}
	}
	syscall.Close(fd)
}
