package schedsync

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// CallAction's errors say what went wrong: no daemon on the address, or
// an answer that is not an action result.
func TestCallActionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := ln.Addr().String()
	ln.Close()
	if _, err := CallAction(context.Background(), closed, "", "resync"); err == nil ||
		!strings.Contains(err.Error(), "is `redund schedsync run` running?") {
		t.Fatalf("nothing listening: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<html>not redund</html>"))
	}))
	t.Cleanup(srv.Close)
	if _, err := CallAction(context.Background(), srv.URL, "", "resync"); err == nil ||
		!strings.Contains(err.Error(), "resync: not an action result") {
		t.Fatalf("not JSON: %v", err)
	}
}
