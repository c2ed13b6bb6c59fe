package termview

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redund/redund/internal/adminapi"
)

// TestRenderAnswerThatIsNotAStatus: an endpoint that answers, but not with
// a status document, was a row saying "unreachable" (it was reached: the
// operator went looking for a dead daemon instead of a token or a proxy)
// with the whole error, status URL and the first line of the body, in the
// plain table. It is "no status: <reason>", the reason cut like a state's,
// and nothing from the body past that reaches the table.
func TestRenderAnswerThatIsNotAStatus(t *testing.T) {
	const page = "<html><head><title>401 Authorization Required</title></head><body>SECRET-TAIL</body></html>"
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"401 from a proxy", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(page))
		}, "no status: HTTP 401 Unauthorized: <html><head><tit…"},
		{"502 from a proxy", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(page))
		}, "no status: HTTP 502 Bad Gateway: <html><head><titl…"},
		{"HTML with 200", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(page))
		}, "no status: not a status document: invalid characte…"},
		{"cut JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"schema": 1, "daemon": "voter serve", "instances": [{"instance": "east", "state": "Synced"`))
		}, "no status: not a status document: unexpected EOF"},
		{"escape sequences", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("\x1b]0;owned\x07\x1b[2J"))
		}, "no status: not a status document: invalid characte…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			res := adminapi.FetchAll(t.Context(), []string{srv.URL}, 0)
			if res[0].Err == nil {
				t.Fatalf("fetch took it as a status document: %+v", res[0].Report)
			}
			got := Render(res, Options{Plain: true, Now: now})
			if !strings.Contains(got, tc.want) {
				t.Errorf("want %q in:\n%s", tc.want, got)
			}
			for _, bad := range []string{"unreachable", "SECRET-TAIL", "/v1/status", "east", "Synced", "\x1b", "\x07"} {
				if strings.Contains(got, bad) {
					t.Errorf("%q in:\n%q", bad, got)
				}
			}
		})
	}
}
