package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

var statusNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The golden text has fixed addresses; the real ones are swapped in for
// them (both have 5-digit ports so column widths do not change).
const (
	goldenUp   = "127.0.0.1:11111"
	goldenDown = "127.0.0.1:22222"
)

// startAdmin runs a real admin server with a voter and a ddns instance on a
// loopback port with five digits, until the test ends.
func startAdmin(t *testing.T) string {
	t.Helper()
	var s *adminapi.Server
	for i := 0; i < 50 && (s == nil || len(s.Addr()) != len(goldenUp)); i++ {
		s = adminapi.NewServer("voter serve", "test", nil, logging.Discard())
		if err := s.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if len(s.Addr()) != len(goldenUp) {
			s.Serve(canceled()) // closes its listener
		}
	}
	if len(s.Addr()) != len(goldenUp) {
		t.Skip("no 5-digit ephemeral port on this machine (see ip_local_port_range)")
	}
	s.AddSource(status.SourceFunc(func() []status.Document {
		return []status.Document{
			{Instance: "east", Scheme: "voter", Role: "primary", State: "Voting",
				Since: statusNow.Add(-12 * time.Second), Peer: &status.Peer{Address: "10.0.0.2:1667", Connected: true},
				Health: []status.Health{{Name: "rx1", State: "OK"}, {Name: "rx2", State: "OK"}, {Name: "rx3", State: "OK"}}},
			{Instance: "cat", Scheme: "ddns", Role: "active", State: "OK",
				Since:  statusNow.Add(-3*time.Minute - 4*time.Second),
				Health: []status.Health{{Name: "web1", State: "OK"}, {Name: "web2", State: "ERR"}}},
		}
	}))
	return serveAdmin(t, s)
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// downAddr is a loopback address with a 5-digit port that nobody listens on.
func downAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if len(addr) == len(goldenDown) {
			return addr
		}
	}
	t.Skip("no 5-digit ephemeral port on this machine")
	return ""
}

func statusConfig(t *testing.T, up, down string) string {
	// one daemon an address: two on one would be a row of their own
	return writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nvoter = %q\nddns = %q\n", up, down))
}

func TestStatusOneUpOneDown(t *testing.T) {
	up, down := startAdmin(t), downAddr(t)
	g := &globalOptions{ConfigPath: statusConfig(t, up, down)}
	var out bytes.Buffer
	o := &statusOptions{Timeout: 2 * time.Second}
	eps, err := statusEndpoints(g.ConfigPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0] != up || eps[1] != down {
		t.Fatalf("endpoints from config = %v, want [%s %s]", eps, up, down)
	}
	v := newStatusView(&out, o)
	v.now = func() time.Time { return statusNow }
	err = v.once(t.Context(), eps)
	if code := exitCode(err); code != exitFailed {
		t.Errorf("one endpoint down: exit %d (%v), want 1", code, err)
	}
	got := strings.NewReplacer(up, goldenUp, down, goldenDown).Replace(out.String())
	testutil.Golden(t, "status_up_down", []byte(got))
}

func TestStatusCLI(t *testing.T) {
	up, down := startAdmin(t), downAddr(t)
	cfg := statusConfig(t, up, down)
	out, code := runCLI(t, "--config", cfg, "status", "--timeout", "1s")
	if code != exitFailed || !strings.Contains(out, "unreachable: connection refused") ||
		!strings.Contains(out, "east") || strings.Contains(out, "\x1b[") {
		t.Errorf("status with one endpoint down: exit %d, out:\n%s", code, out)
	}
	missing := filepath.Join(t.TempDir(), "none.toml")
	out, code = runCLI(t, "--config", missing, "status", "--endpoint", up, "--endpoint", "http://"+up+"/")
	if code != exitOK || strings.Count(out, "east") != 1 {
		t.Errorf("--endpoint without a config file (repeat folded): exit %d, out:\n%s", code, out)
	}
}

func TestStatusJSON(t *testing.T) {
	up, down := startAdmin(t), downAddr(t)
	out, code := runCLI(t, "--config", statusConfig(t, up, down), "status", "--json")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	var got []struct {
		Endpoint string         `json:"endpoint"`
		Report   *status.Report `json:"report"`
		Error    string         `json:"error"`
	}
	// runCLI appends the error ("exit status 1") after the output
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&got); err != nil {
		t.Fatalf("--json output is not a JSON array: %v\n%s", err, out)
	}
	if len(got) != 2 || got[0].Endpoint != up || got[0].Report == nil ||
		len(got[0].Report.Instances) != 2 || got[0].Error != "" {
		t.Errorf("up endpoint: %+v", got)
	}
	if len(got) == 2 && (got[1].Endpoint != down || got[1].Report != nil ||
		!strings.Contains(got[1].Error, "connection refused")) {
		t.Errorf("down endpoint: %+v", got[1])
	}
}

func TestStatusUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	for _, args := range [][]string{
		{"--config", missing, "status"},                           // no config, no endpoint
		{"--config", missing, "status", "--endpoint", "nonsense"}, // bad endpoint
		{"--config", missing, "status", "--endpoint", "a:1", "--timeout", "0s"},
		{"--config", missing, "status", "--endpoint", "a:1", "extra"},
		{"--config", writeFile(t, "bad.toml", "[admin]\nlisen = 1\n"), "status", "--endpoint", "a:1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if out, code := runCLI(t, args...); code != exitUsage {
				t.Errorf("%v: exit %d, want 2; out %q", args, code, out)
			}
		})
	}
}

// frameWriter cancels the watch after n frames.
type frameWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	frames int
	n      int
	cancel context.CancelFunc
	// onFrame, when set, runs as frame n begins (outside the lock)
	onFrame func(n int)
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	n := -1
	if bytes.HasPrefix(p, []byte("redund status ")) {
		f.frames++
		n = f.frames
		if f.frames == f.n {
			f.cancel()
		}
	}
	f.buf.Write(p)
	f.mu.Unlock()
	if n > 0 && f.onFrame != nil {
		f.onFrame(n)
	}
	return len(p), nil
}

func TestStatusWatch(t *testing.T) {
	up := startAdmin(t)
	ctx, cancel := context.WithCancel(t.Context())
	fw := &frameWriter{n: 3, cancel: cancel}
	v := newStatusView(fw, &statusOptions{Timeout: time.Second, Watch: true})
	v.interval = 10 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- v.watch(ctx, []string{up}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch ended with %v, want nil after Ctrl-C", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not stop when its context ended")
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.frames < 3 || strings.Count(fw.buf.String(), "east") < 2 {
		t.Errorf("watch drew %d frames:\n%s", fw.frames, fw.buf.String())
	}
	if strings.Contains(fw.buf.String(), "\x1b[2J") {
		t.Error("watch cleared the screen of a writer that is not a terminal")
	}
}

func TestDarkBackground(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "15;0": true, "0;15": false, "15;default;0": true, "0;7": false, "12;8": true, "x": true,
	} {
		t.Run(in, func(t *testing.T) {
			if got := darkBackground(in); got != want {
				t.Errorf("darkBackground(%q) = %v, want %v", in, got, want)
			}
		})
	}
}

// TestStatusAsksOnlyConfiguredDaemons: with [admin] naming voter and ddns
// only (and no gateway or schedsync table), the default 127.0.0.1:9180 is
// not asked: it showed a red unreachable row forever and made status exit 1.
func TestStatusAsksOnlyConfiguredDaemons(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"admin names two", "[admin]\nvoter = \"127.0.0.1:9001\"\nddns = \"127.0.0.1:9002\"\n",
			[]string{"127.0.0.1:9001", "127.0.0.1:9002"}},
		{"listen and one scheme", "[admin]\nlisten = \"127.0.0.1:9005\"\n[schedsync]\nmode = \"primary\"\ndir = \"/srv/x\"\npeer = \"127.0.0.1:9\"\nsecret = \"0123456789abcdef01\"\n",
			[]string{"127.0.0.1:9005"}},
		{"nothing configured", "", []string{adminapi.DefaultAddr}},
		{"listen only", "[admin]\nlisten = \"127.0.0.1:9006\"\n", []string{"127.0.0.1:9006"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f fileConfig
			if err := config.Decode("redund.toml", tc.src, &f); err != nil {
				t.Fatal(err)
			}
			if got := f.statusAddresses(); !slices.Equal(got, tc.want) {
				t.Errorf("asked %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStatusWatchKeepsRowsOfADeadDaemon: when a daemon that answered stops,
// its instances stay in the table, each marked unreachable, instead of
// collapsing into one row named by its address.
func TestStatusWatchKeepsRowsOfADeadDaemon(t *testing.T) {
	s := adminapi.NewServer("voter serve", "test", nil, logging.Discard())
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.AddSource(status.SourceFunc(func() []status.Document {
		return []status.Document{{Instance: "east", Scheme: "voter", Role: "primary", State: "serving"}}
	}))
	srvCtx, stopServer := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx) }()
	addr := s.Addr()
	ctx, cancel := context.WithCancel(t.Context())
	fw := &frameWriter{n: 6, cancel: cancel, onFrame: func(n int) {
		if n == 3 {
			stopServer()
			<-served
		}
	}}
	v := newStatusView(fw, &statusOptions{Timeout: time.Second, Watch: true})
	v.interval = 10 * time.Millisecond
	if err := v.watch(ctx, []string{addr}); err != nil {
		t.Fatal(err)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	frames := strings.Split(fw.buf.String(), "redund status ")
	lastFrame := frames[len(frames)-1]
	if !strings.Contains(lastFrame, "east") || !strings.Contains(lastFrame, "unreachable") || strings.Contains(lastFrame, " "+addr+" ") ||
		!strings.Contains(lastFrame, "was primary") || !strings.Contains(lastFrame, "s ago") {
		t.Errorf("the last frame after the daemon stopped:\n%s", lastFrame)
	}
}

// TestStatusSharedAddressShowsTheMissingDaemon: a config that gives voter
// and ddns one admin address runs two daemons of which only one can
// listen there; status showed the voter's rows, said nothing of ddns and
// exited 0. The ddns daemon gets a row saying it is not there, and exit 1.
func TestStatusSharedAddressShowsTheMissingDaemon(t *testing.T) {
	up := startAdmin(t) // answers as "voter serve"
	cfg := writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nvoter = %q\nddns = %q\n", up, up))
	out, code := runCLI(t, "--config", cfg, "status")
	if code != exitFailed || !strings.Contains(out, "east") || !strings.Contains(out, "no ddns run here (voter serve answers)") {
		t.Errorf("status: exit %d, want 1 and a row for the missing ddns daemon:\n%s", code, out)
	}
	out, code = runCLI(t, "--config", cfg, "status", "--json")
	if code != exitFailed || strings.Count(out, `"endpoint"`) != 2 || !strings.Contains(out, "no ddns run here") {
		t.Errorf("status --json: exit %d, want 1 and two objects:\n%s", code, out)
	}
	// one daemon at its own address: no extra row
	cfg = writeFile(t, "one.toml", fmt.Sprintf("[admin]\nvoter = %q\n", up))
	if out, code := runCLI(t, "--config", cfg, "status"); code != exitOK || strings.Contains(out, "no ") {
		t.Errorf("voter alone: exit %d, out:\n%s", code, out)
	}
}

// TestAdminNeighbours: the index of a daemon's admin listener lists the
// file's other daemons with their addresses, the one configured on the
// same address included (it cannot listen there: the index says so).
func TestAdminNeighbours(t *testing.T) {
	var f fileConfig
	const file = "[admin]\nlisten = \"127.0.0.1:9180\"\ngateway = \"127.0.0.1:9183\"\n[voter.east]\n[gateway]\n[ddns.cat]\n"
	if err := config.Decode("redund.toml", file, &f); err != nil {
		t.Fatal(err)
	}
	got := f.adminNeighbours("voter serve")
	want := []adminapi.Neighbour{{Daemon: "ddns run", Key: "ddns", Addr: "127.0.0.1:9180"},
		{Daemon: "gateway run", Key: "gateway", Addr: "127.0.0.1:9183"}}
	if !slices.Equal(got, want) {
		t.Errorf("neighbours of voter serve: %+v, want %+v", got, want)
	}
}

// TestStatusConfiguredInstanceNotReported: an instance of the config that
// its daemon does not report (the file gained [voter.dog] since the daemon
// read it) was not in the table at all, and status exited 0. It is a row
// of its own, and exit 1.
func TestStatusConfiguredInstanceNotReported(t *testing.T) {
	up := startAdmin(t) // voter serve, reporting voter "east" (and ddns "cat")
	var f fileConfig
	if err := config.Decode("redund.toml", fmt.Sprintf("[admin]\nvoter = %q\n[voter.east]\n[voter.dog]\n", up), &f); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	v := newStatusView(&out, &statusOptions{Timeout: 2 * time.Second})
	v.now = func() time.Time { return statusNow }
	v.daemons = f.statusDaemons()
	err := v.once(t.Context(), f.statusAddresses())
	if code := exitCode(err); code != exitFailed {
		t.Errorf("exit %d (%v), want 1", code, err)
	}
	var dog, east string
	for _, l := range strings.Split(out.String(), "\n") {
		switch f := strings.Fields(l); {
		case len(f) > 0 && f[0] == "dog":
			dog = l
		case len(f) > 0 && f[0] == "east":
			east = l
		}
	}
	if !strings.Contains(dog, "no status: dog: not run by voter serve here") || !strings.Contains(east, "Voting") {
		t.Errorf("want a row for dog and east as reported:\n%s", out.String())
	}
	out.Reset()
	v.json = true
	if err := v.once(t.Context(), f.statusAddresses()); exitCode(err) != exitFailed ||
		!strings.Contains(out.String(), `"error": "dog: not run by voter serve here"`) {
		t.Errorf("--json: %v\n%s", err, out.String())
	}
}
