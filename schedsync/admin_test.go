package schedsync

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/testutil"
)

// TestAdminActions drives promote and demote through the admin API the way
// `redund schedsync promote|demote` does, and checks the hooks ran.
func TestAdminActions(t *testing.T) {
	hooks := t.TempDir()
	hook := func(name string) []string {
		return []string{"/bin/sh", "-c", `echo "$REDUND_SCHEDSYNC_EVENT $REDUND_SCHEDSYNC_ROLE" > "$0"`, filepath.Join(hooks, name)}
	}
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.OnDemote = hook("demoted")
		b.OnPromote = hook("promoted")
	})
	admin := func(n *testNode) string {
		srv := adminapi.NewServer("schedsync run", "test", nil, slog.New(slog.DiscardHandler))
		n.Register(srv, "")
		must(t, srv.Listen("127.0.0.1:0"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = srv.Serve(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return srv.Addr()
	}
	pa, sa := admin(p), admin(s)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	ctx := context.Background()
	callAction := func(addr, name string) (ActionResult, error) {
		var res ActionResult
		err := adminapi.Target{Endpoint: addr}.Call(ctx, http.MethodPost, ActionPath(name), nil, &res)
		return res, err
	}
	if _, err := callAction(pa, "promote"); err == nil || !strings.Contains(err.Error(), "already primary") {
		t.Fatalf("promote on the primary: %v", err)
	}
	res, err := callAction(sa, "promote")
	must(t, err)
	if len(res.Status) != 1 || Role(res.Status[0].Role) != RolePrimary {
		t.Fatalf("promote answer: %+v", res)
	}
	testutil.Eventually(t, 10*time.Second, "two primaries: Incompatible on both", func() bool {
		return p.state() == StateIncompatible && s.state() == StateIncompatible
	})
	_, err = callAction(pa, "demote")
	must(t, err)
	testutil.Eventually(t, 10*time.Second, "the old primary follows the new one", func() bool {
		return p.Role() == RoleSecondary && p.state() == StateSynced && s.state() == StateSynced
	})
	for name, want := range map[string]string{"promoted": "promote primary", "demoted": "demote secondary"} {
		t.Run(name, func(t *testing.T) {
			testutil.Eventually(t, 5*time.Second, name+" hook", func() bool {
				b, err := os.ReadFile(filepath.Join(hooks, name))
				return err == nil && strings.TrimSpace(string(b)) == want
			})
		})
	}
	if s.Status()[0].Details["epoch"].(uint64) != 1 {
		t.Fatalf("epoch after one promotion: %v", s.Status()[0].Details["epoch"])
	}
}
