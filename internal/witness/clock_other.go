//go:build !linux

package witness

import "time"

// bootTime: no suspend-aware clock is read outside Linux.
func bootTime() (time.Duration, bool) { return 0, false }
