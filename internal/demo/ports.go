package demo

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// freePorts returns n distinct loopback ports that are free for both TCP
// and UDP. They are chosen below the kernel's ephemeral range, so that no
// other program binding port 0 can be handed one of them between this call
// and the moment a child process binds it (the children get port numbers
// in their configs, not open sockets).
func freePorts(n int) ([]int, error) {
	lo, hi := portRange()
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		port := lo + rand.IntN(hi-lo)
		if seen[port] {
			continue
		}
		seen[port] = true
		if portFree(port) {
			out = append(out, port)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("demo: found only %d free ports in %d-%d", len(out), lo, hi)
	}
	return out, nil
}

// portRange is a range below the ephemeral ports (default 32768-60999).
func portRange() (lo, hi int) {
	lo, hi = 20000, 32000
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		if eph, err := strconv.Atoi(f[0]); err == nil && eph > 2048 {
			hi = eph - 1
			lo = max(1024, hi-12000)
		}
	}
	return lo, hi
}

func portFree(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}
