//go:build !unix

package health

// raiseOpenFiles: no RLIMIT_NOFILE here; nothing is checked.
func raiseOpenFiles(uint64) (soft, hard uint64, ok bool) { return 0, 0, false }
