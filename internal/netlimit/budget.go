package netlimit

// Budget is want, lowered to a quarter of the process's file descriptor
// limit (RLIMIT_NOFILE) when that is smaller, and at least 1: the
// listeners of one daemon each capped by Budget leave descriptors for the
// others and for files.
func Budget(want int) int {
	if n := fdLimit() / 4; n > 0 && n < want {
		return n
	}
	return max(want, 1)
}
