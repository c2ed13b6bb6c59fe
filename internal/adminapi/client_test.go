package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

func TestStatusURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9180":                 "http://127.0.0.1:9180/v1/status",
		":9180":                          "http://127.0.0.1:9180/v1/status",
		"0.0.0.0:9180":                   "http://127.0.0.1:9180/v1/status",
		"[::]:9180":                      "http://[::1]:9180/v1/status",
		"[::1]:9180":                     "http://[::1]:9180/v1/status",
		"localhost:9180":                 "http://localhost:9180/v1/status",
		" 127.0.0.1:1 ":                  "http://127.0.0.1:1/v1/status",
		"http://10.0.0.1:9180":           "http://10.0.0.1:9180/v1/status",
		"http://10.0.0.1:9180/":          "http://10.0.0.1:9180/v1/status",
		"https://gw.example/redund":      "https://gw.example/redund/v1/status",
		"http://10.0.0.1:9180/v1/status": "http://10.0.0.1:9180/v1/status",
		"http://h:1/x?y=1#z":             "http://h:1/x/v1/status",
	} {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := StatusURL(in)
			if err != nil || got != want {
				t.Errorf("StatusURL(%q) = %q, %v; want %q", in, got, err, want)
			}
		})
	}
	for _, bad := range []string{"", "nohost", "ftp://x:1", "http://", "127.0.0.1", ":0#00", "h:0", "h:x", "h:70000"} {
		t.Run(fmt.Sprintf("bad %q", bad), func(t *testing.T) {
			if got, err := StatusURL(bad); err == nil {
				t.Errorf("StatusURL(%q) = %q, want an error", bad, got)
			}
		})
	}
}

// hangingAddr accepts connections and never answers, until the test ends.
func hangingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// httpAddr serves h on loopback until the test ends.
func httpAddr(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestFetch(t *testing.T) {
	s, base := startServer(t, voterSource())
	for _, ep := range []string{s.Addr(), base, base + "/v1/status"} {
		r, err := Fetch(t.Context(), ep)
		if err != nil {
			t.Fatalf("Fetch(%s): %v", ep, err)
		}
		if len(r.Instances) != 1 || r.Instances[0].Instance != "east" || r.Daemon != "test run" {
			t.Errorf("Fetch(%s) = %+v", ep, r)
		}
	}
}

func TestFetchErrors(t *testing.T) {
	notFound := httpAddr(t, http.NotFound)
	notJSON := httpAddr(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) })
	noSchema := httpAddr(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"daemon":"x"}`)) })
	future := httpAddr(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"schema":99}`)) })
	for ep, want := range map[string]string{
		notFound:                  "HTTP 404",
		notJSON:                   "not a status document",
		noSchema:                  "no schema",
		future:                    "schema 99",
		testutil.ClosedTCPAddr(t): "connection refused",
		"not a target":            "want host:port",
	} {
		t.Run(want, func(t *testing.T) {
			_, err := Fetch(t.Context(), ep)
			if err == nil || !strings.Contains(Reason(err), want) {
				t.Errorf("Fetch(%s): reason %q (%v), want it to contain %q", ep, Reason(err), err, want)
			}
		})
	}
}

func TestFetchAll(t *testing.T) {
	s, _ := startServer(t, voterSource())
	down, hang := testutil.ClosedTCPAddr(t), hangingAddr(t)
	eps := []string{hang, s.Addr(), down, s.Addr()}
	start := time.Now()
	res := FetchAll(t.Context(), eps, 300*time.Millisecond)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("FetchAll took %v: endpoints were not asked concurrently or the timeout was ignored", el)
	}
	if len(res) != len(eps) {
		t.Fatalf("%d results for %d endpoints", len(res), len(eps))
	}
	for i, r := range res {
		if r.Endpoint != eps[i] {
			t.Errorf("result %d is for %s, want %s (order kept)", i, r.Endpoint, eps[i])
		}
	}
	var te *TimeoutError
	if !errors.As(res[0].Err, &te) || Reason(res[0].Err) != "no answer within 300ms" {
		t.Errorf("hanging endpoint: %v (reason %q)", res[0].Err, Reason(res[0].Err))
	}
	if res[1].Err != nil || res[3].Err != nil || len(res[1].Report.Instances) != 1 {
		t.Errorf("live endpoint: %+v / %+v", res[1], res[3])
	}
	if Reason(res[2].Err) != "connection refused" {
		t.Errorf("closed endpoint: reason %q (%v)", Reason(res[2].Err), res[2].Err)
	}
	// each result says when it came, answer or failure (--json's "at")
	for i, r := range res {
		if r.At.Before(start.Add(-time.Millisecond)) || r.At.After(time.Now()) {
			t.Errorf("result %d: at %v, not within the call (from %v)", i, r.At, start)
		}
		b, err := json.Marshal(r)
		if err != nil || !strings.Contains(string(b), `"at":"`) {
			t.Errorf("result %d as JSON: %s %v, want an \"at\"", i, b, err)
		}
	}
}

func TestFetchAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := FetchAll(ctx, []string{hangingAddr(t)}, time.Minute)
	if !errors.Is(res[0].Err, context.Canceled) {
		t.Errorf("cancelled fetch: %v, want context.Canceled", res[0].Err)
	}
}

func TestResultJSON(t *testing.T) {
	res := []Result{
		{Endpoint: "a:1", Report: status.Report{Schema: 1, Daemon: "d", Instances: []status.Document{}}},
		{Endpoint: "b:2", Err: errors.New("boom")},
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got[0]["endpoint"] != "a:1" || got[0]["report"] == nil || got[0]["error"] != nil {
		t.Errorf("ok result JSON = %s", b)
	}
	if got[1]["endpoint"] != "b:2" || got[1]["error"] != "boom" || got[1]["report"] != nil {
		t.Errorf("error result JSON = %s", b)
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), "plain"},
		{&TimeoutError{After: time.Second}, "no answer within 1s"},
		{&net.DNSError{Name: "nohost.invalid", Err: "no such host"}, "cannot resolve nohost.invalid"},
		{&net.OpError{Op: "dial", Err: errors.New("no route to host")}, "no route to host"},
	} {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			if got := Reason(tc.err); got != tc.want {
				t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
