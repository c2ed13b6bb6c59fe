package schedsync

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestHookFailureShownAndCleared: a failed on_promote hook shows in the
// status (reason and a "hook" health entry, with its exit and last output
// line) until a later hook runs; it was only logged.
func TestHookFailureShownAndCleared(t *testing.T) {
	_, s := startPair(t, ModePrimary, ModeSecondaryFailover, func(a, b *Config) {
		b.OnPromote = []string{"/bin/sh", "-c", "echo starting; echo app refused to start; exit 3"}
		b.OnDemote = []string{"/bin/sh", "-c", "exit 0"}
	})
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	must(t, s.Promote(context.Background()))
	const want = "on_promote hook failed: exit status 3: app refused to start"
	testutil.Eventually(t, 10*time.Second, "the hook failure in the status", func() bool {
		d := s.Status()[0]
		return strings.HasPrefix(d.Reason, want) && len(d.Health) == 1 && d.Health[0].Name == "hook" &&
			d.Health[0].State == "ERR" && d.Health[0].Reason == want
	})
	must(t, s.Demote(context.Background()))
	testutil.Eventually(t, 10*time.Second, "cleared once the on_demote hook ran", func() bool {
		d := s.Status()[0]
		return !strings.Contains(d.Reason, "hook failed") && len(d.Health) == 0
	})
}

func TestLastLine(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", ""},
		{"one line", "boom\n", "boom"},
		{"last of several", "a\nb\n\n", "b"},
		{"long", strings.Repeat("x", 300), strings.Repeat("x", 200) + "…"},
		{"bad utf-8", "\xff\xfe", "?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lastLine([]byte(tc.in)); got != tc.want {
				t.Fatalf("lastLine(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
