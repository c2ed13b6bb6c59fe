package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

func noDocs() []status.Document { return nil }

// The commands that ask a daemon word its errors as they always have: a
// daemon that is not there is named, a refusal gives the daemon's message
// (and, for gateway, the active node), and a reply that is not the
// expected JSON says so. All exit 1.
func TestAdminCallErrors(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none.toml")
	closed := testutil.ClosedTCPAddr(t)
	html := fakeAdmin(t, noDocs, map[string]http.HandlerFunc{
		"POST /v1/schedsync/resync": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("<html>not redund</html>"))
		},
	})
	refusing := fakeAdmin(t, noDocs, map[string]http.HandlerFunc{
		"POST /v1/gateway/failover": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":"this node is the standby","redirect":"http://b:9180"}`))
		},
		"POST /v1/gateway/resync": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteError(w, http.StatusConflict, "gateway: peer not connected")
		},
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"schedsync, nobody there", []string{"schedsync", "resync", "--admin", closed},
			"schedsync: is `redund schedsync run` running?"},
		{"schedsync, not an action result", []string{"schedsync", "resync", "--admin", html},
			"schedsync: resync: not an action result: invalid character"},
		{"schedsync, refused", []string{"schedsync", "promote", "--admin", html}, "schedsync: promote: "},
		{"ddns, nobody there", []string{"ddns", "maintenance", "cat", "main", "on", "--admin", closed},
			"ddns: is `redund ddns run` running?"},
		{"ddns, refused", []string{"ddns", "maintenance", "cat", "main", "on", "--admin", html},
			"ddns: daemon answered 404 Not Found"},
		{"gateway, nobody there", []string{"gateway", "failover", "--admin", closed},
			"gateway: is `redund gateway run` running?"},
		{"gateway, refused with the active node", []string{"gateway", "failover", "--admin", refusing},
			"gateway: this node is the standby (active node: http://b:9180)"},
		{"gateway, refused, message already prefixed", []string{"gateway", "resync", "--admin", refusing},
			"gateway: peer not connected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"-c", none}, tc.args...)...)
			if code != exitFailed || !strings.Contains(out, tc.want) {
				t.Errorf("code %d, want 1, and %q in:\n%s", code, tc.want, out)
			}
			if strings.Contains(out, "gateway: gateway:") {
				t.Errorf("prefix doubled:\n%s", out)
			}
		})
	}
}

// A gateway action prints the node's result line, or with --json (or an
// answer without a result string) the answer as it came.
func TestGatewayActionOutput(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none.toml")
	addr := fakeAdmin(t, noDocs, map[string]http.HandlerFunc{
		"POST /v1/gateway/failover": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": "handover asked"})
		},
		"POST /v1/gateway/resync": func(w http.ResponseWriter, _ *http.Request) {
			adminapi.WriteJSON(w, http.StatusOK, map[string]any{"result": 5})
		},
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"result line", []string{"gateway", "failover"}, "handover asked\n"},
		{"--json", []string{"gateway", "failover", "--json"}, "{\n  \"result\": \"handover asked\"\n}\n"},
		{"result not a string", []string{"gateway", "resync"}, "{\n  \"result\": 5\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runCLI(t, append([]string{"-c", none}, append(tc.args, "--admin", addr)...)...)
			if code != exitOK || out != tc.want {
				t.Errorf("code %d, out %q; want 0, %q", code, out, tc.want)
			}
		})
	}
}
