//go:build !linux

package health

import (
	"net"
	"time"
)

// stampArrivals: receive times are read on Linux only.
func stampArrivals(*net.TCPConn) {}

// arrivedBy: without receive times nothing is known to have arrived in
// time, so a late read stays a timeout.
func arrivedBy(*net.TCPConn, time.Time) (int, time.Time) { return 0, time.Time{} }
