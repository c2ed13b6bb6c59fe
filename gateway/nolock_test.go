package gateway

import (
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/witness"
)

// TestWritesRefusedWithoutTheLock: an active node whose witness lock has
// run out by its own clock, before its role loop has seen the loss (its
// published role still active, holding), refuses writes with 409 "no
// longer holds the witness lock" and stores nothing (errNoLock; see
// docs/gateway.md, "writes on an active node are refused (409) from the
// moment its lease runs out by its clock").
func TestWritesRefusedWithoutTheLock(t *testing.T) {
	cfg := baseCfg(t, ModeIndependent, filepath.Join(t.TempDir(), "n"))
	cfg.Witness = true
	ring := logging.NewRing(100)
	log, _ := logging.New(io.Discard, "info", "text", ring)
	// the witness never runs: its lease has no deadline, so Held is false
	g, err := New(&cfg, Options{Log: log, Version: "1.0.0", Ring: ring,
		Witness: &witness.Config{Endpoints: []string{"http://127.0.0.1:1"}, Name: cfg.NodeID, TTL: config.Duration(2 * time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	// what the role loop last published: active, holding the lock
	g.publish(roleState{Role: RoleActive, Since: time.Now(), Reason: "test", Lock: lockView{Held: true, Fence: 7}, LockWant: true})
	a := "http://" + admin(t, &gw{Gateway: g, cfg: cfg, ring: ring}, "")

	for _, tc := range []struct{ name, method, path, body string }{
		{"put state", "PUT", KeyPath(ProvState, "k"), "v"},
		{"delete state", "DELETE", KeyPath(ProvState, "k"), ""},
		{"post history", "POST", "/v1/gateway/history", `[{"tag":"t","ts_ms":1,"value":1}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.method, a+tc.path, "", tc.body)
			if code != 409 || !strings.Contains(body, "no longer holds the witness lock") {
				t.Fatalf("%s %s: %d %s", tc.method, tc.path, code, body)
			}
		})
	}
	if pos, err := g.store.Position(ProvState); err != nil || pos.Last != 0 {
		t.Fatalf("state log position %+v (%v): a refused write was stored", pos, err)
	}
	if pts, err := g.QueryHistory("t", 0, 10); err != nil || len(pts) != 0 {
		t.Fatalf("history %+v (%v): a refused point was stored", pts, err)
	}
}

// TestWriteErrNoLock: errNoLock from a write's own fence check (the lease
// ran out after the write was let in, as PostHistory can see) is a 409
// refusal like the check before it, not a 500.
func TestWriteErrNoLock(t *testing.T) {
	rec := httptest.NewRecorder()
	writeErr(rec, errNoLock)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), "no longer holds the witness lock") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
