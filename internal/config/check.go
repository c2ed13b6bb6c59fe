package config

import (
	"fmt"
	"net"
	"strconv"
)

// CheckHostPort checks an address of the form host:port (host may be empty
// or an IPv6 literal in brackets; port 0 means any).
func CheckHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port must be 0-65535", addr)
	}
	return nil
}
