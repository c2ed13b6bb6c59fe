package health

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine outlives them.
func TestMain(m *testing.M) {
	// exec checks run under a reaper, this test binary run again: built
	// with -race it would wait a second at exit (the race detector's
	// atexit_sleep_ms) for nothing, in every exec probe
	if _, ok := os.LookupEnv("GORACE"); !ok {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	goleak.VerifyTestMain(m)
}
