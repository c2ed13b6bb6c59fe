//go:build !linux

package health

import (
	"syscall"
	"time"
)

// stampArrivals: receive times are read on Linux only.
func stampArrivals(syscall.Conn) {}

// stampEarly: nothing to turn on.
func stampEarly() {}

// arrivedBy: without receive times nothing is known to have arrived in
// time, so a late read stays a timeout.
func arrivedBy(syscall.Conn, time.Time) (int, time.Time) { return 0, time.Time{} }
