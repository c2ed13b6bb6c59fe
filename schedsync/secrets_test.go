package schedsync

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestSecretsDifferStaysSecondary: a secondary-failover whose secret is
// not the primary's gets the primary's fixed 401 refusal to every request.
// The primary answers, so it is alive: the secondary stays secondary past
// failover_offset, both ends report Incompatible "secrets differ" (no text
// of the unauthenticated answers) and each logs it once. Once the primary
// stops answering at all, the secondary promotes after failover_offset.
func TestSecretsDifferStaysSecondary(t *testing.T) {
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryFailover, func(_, b *Config) {
		b.Secret = "another-secret-0123456789"
	})
	pLogs, sLogs := &testutil.Buffer{}, &testutil.Buffer{}
	p := startNodeLog(t, a, lnA, slog.New(slog.NewTextHandler(pLogs, nil)))
	s := startNodeLog(t, b, lnB, slog.New(slog.NewTextHandler(sLogs, nil)))
	writeFile(t, p.dir, "x", "1", 0o644)
	differ := func(n *testNode) bool {
		d := n.Status()[0]
		return State(d.State) == StateIncompatible && d.Reason == reasonSecretsDiffer
	}
	testutil.Eventually(t, 10*time.Second, "Incompatible (secrets differ) on both", func() bool { return differ(p) && differ(s) })

	offset := b.FailoverOffset.D()
	until := time.Now().Add(offset * 5 / 2)
	for time.Now().Before(until) { // sampled for 2.5 × failover_offset while the primary answers
		if s.Role() != RoleSecondary {
			t.Fatalf("the secondary promoted while the primary answers (status %+v)", s.Status()[0])
		}
		if d := s.Status()[0]; !differ(s) || d.Peer == nil || d.Peer.Reason != reasonSecretsDiffer {
			t.Fatalf("secondary status %q %q (peer %+v), want Incompatible %q", d.State, d.Reason, d.Peer, reasonSecretsDiffer)
		}
		if !differ(p) {
			t.Fatalf("primary status %+v, want Incompatible %q", p.Status()[0], reasonSecretsDiffer)
		}
		time.Sleep(50 * time.Millisecond) // sleep: sampling interval of a window in which the secondary must not promote
	}
	for name, logs := range map[string]*testutil.Buffer{"primary": pLogs, "secondary": sLogs} {
		warned, changed := 0, 0 // the warning, and the status change to Incompatible
		for _, l := range strings.Split(logs.String(), "\n") {
			switch {
			case !strings.Contains(l, reasonSecretsDiffer):
			case strings.Contains(l, "level=WARN"):
				warned++
			case strings.Contains(l, "status changed"):
				changed++
			default:
				t.Errorf("%s: unexpected line %q", name, l)
			}
		}
		if warned != 1 || changed > 1 {
			t.Errorf("%s warned %d times (want once) and changed status %d times (want at most once):\n%s",
				name, warned, changed, logs)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "x")); err == nil {
		t.Fatal("the secondary installed a file from a primary it cannot authenticate")
	}

	p.stop()
	lost := time.Now()
	testutil.Eventually(t, 10*time.Second, "promotion after the primary stopped", func() bool { return s.Role() == RolePrimary })
	// the last refusal came at most one handshake interval (200 ms) before the stop
	if took := time.Since(lost); took < offset-300*time.Millisecond {
		t.Fatalf("promoted %s after the primary stopped, before failover_offset (%s)", took, offset)
	}
}
