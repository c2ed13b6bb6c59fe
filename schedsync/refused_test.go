package schedsync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/testutil"
)

// startPrimaryLogged starts a primary with a log and a metrics registry.
func startPrimaryLogged(t *testing.T) (*Node, *testutil.Buffer, *prometheus.Registry, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	logs := &testutil.Buffer{}
	cfg := &Config{Mode: ModePrimary, Dir: t.TempDir(), Listen: ln.Addr().String(), Secret: testSecret, NodeID: "a"}
	reg := prometheus.NewRegistry()
	n, err := New(cfg, Options{Version: "test", Listener: ln, Registry: reg,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = n.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return n, logs, reg, stop
}

// counterValue reads a counter from reg (as /metrics serves it).
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestRefusedRequestsDoNotFloodTheLog: 1,000 unauthenticated requests give
// at most a few log lines, and the counter says 1,000.
func TestRefusedRequestsDoNotFloodTheLog(t *testing.T) {
	n, logs, reg, stop := startPrimaryLogged(t)
	url := "http://" + n.Addr() + "/v1/hello"
	for i := range 1000 {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set(authHeaderName, "schedsync/2 "+strconv.Itoa(i)+" x y z")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: HTTP %d", i, resp.StatusCode)
		}
	}
	stop() // the last interval's summary is written when the node stops
	lines := strings.Count(logs.String(), "refused peer request")
	if lines > 3 {
		t.Fatalf("%d log lines for 1,000 refused requests:\n%.2000s", lines, logs.String())
	}
	if !strings.Contains(logs.String(), "dropped=999") || !strings.Contains(logs.String(), "127.0.0.1 (999)") {
		t.Fatalf("the summary does not say how many were dropped and from where:\n%s", logs.String())
	}
	if got := counterValue(t, reg, "redund_schedsync_refused_requests_total"); got != 1000 {
		t.Fatalf("redund_schedsync_refused_requests_total = %v, want 1000", got)
	}
}

const authHeaderName = "X-Redund-Auth"

// TestOldProtocolRefusedClearly: a node of protocol 1 (the old request
// signature, with the right secret) is told, in the text it shows, that
// the versions differ.
func TestOldProtocolRefusedClearly(t *testing.T) {
	n, logs, _, _ := startPrimaryLogged(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.Addr()+"/v1/hello", nil)
	ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), strings.Repeat("ab", 16)
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(strings.Join([]string{"schedsync-v1", "GET", "/v1/hello", ts, nonce}, "\n")))
	req.Header.Set(authHeaderName, "v1 "+ts+" "+nonce+" "+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"schedsync protocol " + strconv.Itoa(ProtocolVersion), "protocol 1 (an older redund)", "same redund version"} {
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), want) {
			t.Fatalf("HTTP %d %q: want %q", resp.StatusCode, body, want)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(logs.String(), "protocol 1 (an older redund)")
	})
}
