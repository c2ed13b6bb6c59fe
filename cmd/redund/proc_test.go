package main

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// asMainEnv makes this test binary run main(): tests start it as a real
// redund process (signals, shell completion) without a separate go build.
const asMainEnv = "REDUND_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// selfBinary is the path of this test binary, which runs as redund when
// asMainEnv=1 is in its environment (redundEnv).
func selfBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// redundEnv is the environment of a child that runs as redund.
func redundEnv(extra ...string) []string {
	return append(append(os.Environ(), asMainEnv+"=1"), extra...)
}

// redundCommand is a real redund process (not yet started).
func redundCommand(t testing.TB, ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, selfBinary(t), args...)
	cmd.Env = redundEnv()
	return cmd
}

// needTool returns the path of an external program a test needs: the test
// skips without it, and fails with REDUND_INTEGRATION=1 (CI installs it).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("%s is required with REDUND_INTEGRATION=1 (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}
