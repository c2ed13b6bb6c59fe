package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/schedsync"
)

// fakeAdmin runs a real admin server on loopback that reports docs() and
// serves the given handlers, until the test ends. It returns its address.
func fakeAdmin(t *testing.T, docs func() []status.Document, handlers map[string]http.HandlerFunc) string {
	t.Helper()
	s := adminapi.NewServer("test run", "test", nil, logging.Discard())
	s.AddSource(status.SourceFunc(docs))
	for pattern, h := range handlers {
		s.Handle(pattern, adminapi.Protect("", h)) // as the daemons guard their endpoints (loopback: served)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return serveAdmin(t, s)
}

// serveAdmin serves s (already listening) until the test ends and returns
// its address.
func serveAdmin(t *testing.T, s *adminapi.Server) string {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s.Addr()
}

// schedsyncDocs reports one schedsync instance in the given state, and a
// voter instance that `schedsync status` must leave out.
type schedsyncDocs struct {
	mu    sync.Mutex
	state string
}

func (d *schedsyncDocs) set(state string) { d.mu.Lock(); d.state = state; d.mu.Unlock() }

func (d *schedsyncDocs) docs() []status.Document {
	d.mu.Lock()
	defer d.mu.Unlock()
	since := time.Now().Add(-3 * time.Minute)
	return []status.Document{
		{Instance: "studio-b", Scheme: "schedsync", Role: "secondary", State: d.state, Since: since,
			Peer: &status.Peer{Address: "127.0.0.1:7000", Connected: true}, Details: map[string]any{"epoch": 4}},
		{Instance: "east", Scheme: "voter", Role: "primary", State: "Voting", Since: since},
	}
}

func TestSchedsyncStatusAndActionCLI(t *testing.T) {
	d := &schedsyncDocs{state: schedsync.StateSynced.String()}
	addr := fakeAdmin(t, d.docs, map[string]http.HandlerFunc{
		"POST /v1/schedsync/resync": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteJSON(w, http.StatusOK, schedsync.ActionResult{Result: "resync started", Status: d.docs()[:1]})
		},
	})
	cfg := writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nschedsync = %q\n", addr))

	out, code := runCLI(t, "-c", cfg, "schedsync", "status")
	if code != exitOK || !strings.HasPrefix(out, "studio-b: secondary, Synced since 3m") ||
		!strings.Contains(out, "peer 127.0.0.1:7000 connected=true") || strings.Contains(out, "east") {
		t.Errorf("status, Synced: code %d, out:\n%s", code, out)
	}
	d.set(schedsync.StateNoRedundancy.String())
	var docs []status.Document
	out, code = runCLI(t, "-c", cfg, "schedsync", "status", "--json")
	if err := json.Unmarshal([]byte(out), &docs); err != nil || code != exitOK {
		t.Fatalf("status --json, No redundancy: code %d, %v:\n%s", code, err, out)
	}
	if len(docs) != 1 || docs[0].Instance != "studio-b" || docs[0].State != schedsync.StateNoRedundancy.String() {
		t.Errorf("status --json: %+v, want only studio-b in No redundancy", docs)
	}
	d.set(schedsync.StateNotSynced.String())
	if out, code := runCLI(t, "-c", cfg, "schedsync", "status"); code != exitFailed || !strings.Contains(out, "Not synced") {
		t.Errorf("status, Not synced: code %d, want 1:\n%s", code, out)
	}

	out, code = runCLI(t, "-c", cfg, "schedsync", "resync")
	if code != exitOK || !strings.HasPrefix(out, "resync started\nstudio-b: secondary, Not synced") {
		t.Errorf("resync: code %d, out:\n%s", code, out)
	}
	var res schedsync.ActionResult
	out, code = runCLI(t, "-c", cfg, "schedsync", "resync", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitOK ||
		res.Result != "resync started" || len(res.Status) != 1 {
		t.Errorf("resync --json: code %d, %v, %+v:\n%s", code, err, res, out)
	}
	// --admin needs no config file
	none := filepath.Join(t.TempDir(), "none.toml")
	if out, code := runCLI(t, "-c", none, "schedsync", "status", "--admin", addr); code != exitFailed ||
		!strings.Contains(out, "Not synced") {
		t.Errorf("status --admin without a config: code %d, want 1:\n%s", code, out)
	}
	// promote has no handler here: the daemon's refusal exits 1
	if out, code := runCLI(t, "-c", cfg, "schedsync", "promote"); code != exitFailed {
		t.Errorf("refused promote: code %d, want 1:\n%s", code, out)
	}
}

func TestGatewayActionCLI(t *testing.T) {
	addr := fakeAdmin(t, func() []status.Document { return nil }, map[string]http.HandlerFunc{
		"POST /v1/gateway/failover": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteJSON(w, http.StatusOK, map[string]any{"result": "gw-b took control", "role": "backup"})
		},
		"GET /v1/gateway/status": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteJSON(w, http.StatusOK, map[string]any{"role": "master", "active": true})
		},
	})
	missing := filepath.Join(t.TempDir(), "none.toml") // --admin needs no config file
	out, code := runCLI(t, "-c", missing, "gateway", "--admin", addr, "failover")
	if code != exitOK || out != "gw-b took control\n" {
		t.Errorf("failover: code %d, out %q", code, out)
	}
	var m map[string]any
	out, code = runCLI(t, "-c", missing, "gateway", "--admin", addr, "failover", "--json")
	if err := json.Unmarshal([]byte(out), &m); err != nil || code != exitOK || m["role"] != "backup" {
		t.Errorf("failover --json: code %d, %v:\n%s", code, err, out)
	}
	out, code = runCLI(t, "-c", missing, "gateway", "--admin", addr, "status")
	if err := json.Unmarshal([]byte(out), &m); err != nil || code != exitOK || m["role"] != "master" {
		t.Errorf("status: code %d, %v:\n%s", code, err, out)
	}
	// --admin is a flag of each command, as for schedsync, ddns and voter
	// (the group's own is kept, hidden, for old scripts)
	for _, args := range [][]string{{"status", "--admin", addr}, {"config", "export", "--admin", addr}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, code = runCLI(t, append([]string{"-c", missing, "gateway"}, args...)...)
			if strings.Contains(out, "flag provided but not defined") || strings.Contains(out, "none.toml") {
				t.Errorf("gateway %v: code %d:\n%s", args, code, out)
			}
		})
	}
	// a config file that is there is read, and a bad one stops the command
	bad := writeFile(t, "bad.toml", "[admin]\ntokn = \"x\"\n")
	if out, code := runCLI(t, "-c", bad, "gateway", "--admin", addr, "status"); code != exitUsage ||
		!strings.Contains(out, "bad.toml:2: admin.tokn: unknown key") {
		t.Errorf("status --admin with a bad config: code %d, want 2:\n%s", code, out)
	}
	// resync has no handler here: the node's refusal exits 1
	if out, code := runCLI(t, "-c", missing, "gateway", "--admin", addr, "resync"); code != exitFailed {
		t.Errorf("refused resync: code %d, want 1:\n%s", code, out)
	}
}
