//go:build unix

package health

import "syscall"

// raiseOpenFiles raises the soft RLIMIT_NOFILE towards need, up to the
// hard limit, and returns the soft and hard limits then (ok false when
// they cannot be read).
func raiseOpenFiles(need uint64) (soft, hard uint64, ok bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, false
	}
	if need > lim.Cur && lim.Cur < lim.Max {
		up := lim
		up.Cur = min(max(need, lim.Cur), lim.Max)
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			lim = up
		}
	}
	return lim.Cur, lim.Max, true
}
