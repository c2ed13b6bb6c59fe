//go:build !unix

package netlimit

func fdLimit() int { return 0 }
