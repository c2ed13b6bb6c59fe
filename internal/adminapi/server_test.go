package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs an admin server on 127.0.0.1:0 until the test ends and
// returns it with its base URL.
func startServer(t *testing.T, srcs ...status.Source) (*Server, string) {
	t.Helper()
	ring := logging.NewRing(10)
	log, err := logging.New(io.Discard, "info", "text", ring)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer("test run", "v9.9.9", ring, log)
	for _, src := range srcs {
		s.AddSource(src)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	log.Info("admin up", "addr", s.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, "http://" + s.Addr()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

var since = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func voterSource() status.Source {
	return status.SourceFunc(func() []status.Document {
		return []status.Document{{Instance: "east", Scheme: "voter", Role: "primary", State: "Voting",
			Since: since, Peer: &status.Peer{Address: "10.0.0.2:1667", Connected: true, Since: since},
			Health:  []status.Health{{Name: "rx1", State: "OK", Since: since}},
			Details: map[string]any{"clients": 3}}}
	})
}

func TestServeStatus(t *testing.T) {
	ddns := status.SourceFunc(func() []status.Document {
		return []status.Document{{Instance: "cat", Scheme: "ddns", Role: "active", State: "OK", Since: since}}
	})
	_, base := startServer(t, voterSource(), ddns)
	code, body := get(t, base+"/v1/status")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/status = %d %s", code, body)
	}
	var r status.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if r.Schema != status.SchemaVersion || r.Daemon != "test run" || r.Version != "v9.9.9" || r.PID == 0 {
		t.Errorf("report header = %+v", r)
	}
	if len(r.Instances) != 2 || r.Instances[0].Instance != "east" || r.Instances[1].Instance != "cat" {
		t.Fatalf("instances = %+v", r.Instances)
	}
	e := r.Instances[0]
	if e.Peer == nil || !e.Peer.Connected || e.Health[0].Name != "rx1" || !e.Since.Equal(since) ||
		e.Details["clients"] != float64(3) {
		t.Errorf("voter instance = %+v", e)
	}
	if len(r.Events) != 1 || !strings.HasPrefix(r.Events[0].Message, "admin up") {
		t.Errorf("events = %+v, want the one logged", r.Events)
	}
}

func TestServeStatusNoSources(t *testing.T) {
	_, base := startServer(t)
	_, body := get(t, base+"/v1/status")
	if !strings.Contains(body, `"instances": []`) {
		t.Errorf("a daemon without sources should list no instances as [], got %s", body)
	}
}

func TestHealthz(t *testing.T) {
	_, base := startServer(t)
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q", code, body)
	}
	if code, _ := get(t, base+"/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", code)
	}
}

func TestMetrics(t *testing.T) {
	s, base := startServer(t)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "redund_test_probes_total", Help: "probes"})
	s.Registry().MustRegister(c)
	c.Add(7)
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{"redund_test_probes_total 7", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHandleSchemeEndpoint(t *testing.T) {
	s, base := startServer(t)
	s.Handle("GET /v1/test/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusTeapot, map[string]string{"pong": "yes"})
	}))
	code, body := get(t, base+"/v1/test/ping")
	if code != http.StatusTeapot || !strings.Contains(body, `"pong": "yes"`) {
		t.Errorf("scheme endpoint = %d %s", code, body)
	}
}

func TestServeBeforeListen(t *testing.T) {
	s := NewServer("x", "v", nil, logging.Discard())
	if err := s.Serve(t.Context()); err == nil {
		t.Fatal("Serve before Listen succeeded")
	}
	if s.Addr() != "" {
		t.Errorf("Addr before Listen = %q", s.Addr())
	}
}

func TestListenError(t *testing.T) {
	s, _ := startServer(t)
	other := NewServer("x", "v", nil, logging.Discard())
	err := other.Listen(s.Addr())
	if err == nil || !strings.Contains(err.Error(), "status: admin listener") {
		t.Fatalf("Listen on a used port: %v", err)
	}
}

func TestShutdownOnCancel(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s := NewServer("x", "v", nil, logging.Discard())
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	if code, _ := get(t, "http://"+s.Addr()+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz = %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if err := goleak.Find(before); err != nil {
		t.Error(err)
	}
}

// An endpoint reached by a method that changes something is refused
// unless its handler is guarded (Protect, RequireToken): a scheme cannot
// add an unguarded action by mistake.
func TestHandleRefusesUnguardedChanges(t *testing.T) {
	s := NewServer("x", "v", nil, logging.Discard())
	for _, tc := range []struct {
		pattern string
		h       http.Handler
		ok      bool
	}{
		{"GET /v1/x/read", okHandler, true},
		{"HEAD /v1/x/head", okHandler, true},
		{"POST /v1/x/do", okHandler, false},
		{"PUT /v1/x/doc/{key...}", okHandler, false},
		{"DELETE /v1/x/doc/{key...}", okHandler, false},
		{"/v1/x/any", okHandler, false}, // every method
		{"POST /v1/x/guarded", Protect("", okHandler), true},
		{"PUT /v1/x/token", RequireToken("0123456789abcdef", okHandler), true},
		{"/v1/x/all-guarded", Protect("", okHandler), true},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			defer func() {
				if r := recover(); (r == nil) != tc.ok {
					t.Errorf("Handle(%q): panic %v, want ok=%v", tc.pattern, r, tc.ok)
				}
			}()
			s.Handle(tc.pattern, tc.h)
		})
	}
}
