package health

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

func TestExec(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name   string
		argv   []string
		ok     bool
		reason string
	}{
		{"ok silent", []string{"true"}, true, "exit 0"},
		{"ok output", []string{"sh", "-c", "echo 'PING OK - 1ms'"}, true, "PING OK - 1ms"},
		{"fail", []string{"sh", "-c", "echo 'CRITICAL - down' >&2; exit 2"}, false, "exit status 2: CRITICAL - down"},
		{"fail silent", []string{"false"}, false, "exit status 1"},
		{"missing program", []string{"/nonexistent/redund-probe"}, false, "no such file"},
		{"long output trimmed", []string{"sh", "-c", "echo " + long + "; exit 1"}, false, strings.Repeat("x", 190)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, Config{Kind: "exec", Command: tt.argv})
			wantResult(t, r, tt.ok, tt.reason)
			if len(r.Reason) > maxReason+len("exit status 1: …") {
				t.Errorf("reason not trimmed: %d bytes", len(r.Reason))
			}
		})
	}
}

// TestExecTimeout: a command (and a child it started) that outlive the
// timeout are killed and the probe ends at the timeout.
func TestExecTimeout(t *testing.T) {
	start := time.Now()
	r := check(t, Config{Kind: "exec", Command: []string{"sh", "-c", "echo started; sleep 30 & sleep 30"},
		Timeout: config.Duration(300 * time.Millisecond)})
	wantResult(t, r, false, "timeout after 300ms: started")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("probe took %s, want about 300ms", d)
	}
}

// An exec check does not see the variables that hold redund's secrets
// (named by *_env keys).
func TestExecWithoutSecretVariables(t *testing.T) {
	t.Setenv("REDUND_TEST_HEALTH_SECRET", "S3cr3t-health")
	var root struct {
		Key struct {
			Secret config.Secret `toml:"secret"`
		} `toml:"key"`
	}
	if err := config.Decode("t.toml", "[key]\nsecret_env = \"REDUND_TEST_HEALTH_SECRET\"\n", &root); err != nil {
		t.Fatal(err)
	}
	r := check(t, Config{Kind: "exec", Command: []string{"sh", "-c",
		`if env | grep -q REDUND_TEST_HEALTH_SECRET; then echo "sees the secret"; exit 1; fi; echo clean`}})
	wantResult(t, r, true, "clean")
}

// TestExecOutputBounded: a command that writes 100 MB (or quotes a
// server that sends that much) costs the probe a bounded buffer, not its
// output's size in memory, and is judged by its exit status.
func TestExecOutputBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := check(t, Config{Kind: "exec", Command: []string{"sh", "-c", "yes OK | head -c 100000000"},
		Timeout: config.Duration(20 * time.Second)})
	runtime.ReadMemStats(&after)
	wantResult(t, r, true, "OK OK OK")
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("the probe allocated %d MB for 100 MB of output, want a bounded buffer", got>>20)
	}
}

// BenchmarkExecProbe: one exec check of a program that does nothing, to
// show what running it (and on Linux, its reaper) costs.
func BenchmarkExecProbe(b *testing.B) {
	ck, err := New(Config{Kind: "exec", Command: []string{"true"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for range b.N {
		if r := ck.Check(ctx); !r.OK {
			b.Fatalf("probe failed: %s", r.Reason)
		}
	}
}
