package webuitest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Get fetches a page from a running daemon and checks that it came as a
// page does: 200 with the per-response script nonce in its CSP.
func Get(t testing.TB, url string) (string, *http.Response) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Fatalf("GET %s: %d %q\n%s", url, resp.StatusCode, resp.Header.Get("Content-Security-Policy"), b)
	}
	return string(b), resp
}
