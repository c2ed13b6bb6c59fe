package demo

import (
	"fmt"
	"net"
)

// freePorts reserves n distinct loopback ports (TCP and UDP both free at
// the time of the call) and returns them.
func freePorts(n int) ([]int, error) {
	var out []int
	var held []func()
	defer func() {
		for _, c := range held {
			c()
		}
	}()
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("demo: no free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			ln.Close()
			continue
		}
		held = append(held, func() { ln.Close(); pc.Close() })
		out = append(out, port)
	}
	return out, nil
}
