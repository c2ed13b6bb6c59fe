package srv

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (queries,
// probes and the worker pool must all finish).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
