package adminapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redund/redund/internal/webui/webuitest"
)

// TestHostilePageInChromium: a page the operator opens in a real browser,
// from another site (localhost against 127.0.0.1) or the same site on
// another port, can neither drive a guarded endpoint of an admin listener
// on loopback without a token (a fetch, a form posted as a navigation)
// nor read its status; the listener's own page can, so the same requests
// do reach it.
func TestHostilePageInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	s, base := startServer(t)
	doc := &written{}
	s.Handle("POST /v1/test/import", Protect("", doc))
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!DOCTYPE html><title>hostile</title><p>nothing to see</p>"))
	}))
	t.Cleanup(hostile.Close)
	port := hostile.URL[strings.LastIndex(hostile.URL, ":")+1:]
	br := webuitest.Start(t)

	attack := `(async () => {
		const out = [];
		try { await fetch("` + base + `/v1/test/import", {method: "POST", mode: "no-cors", body: '{"a":"b"}'}); out.push("sent"); }
		catch (e) { out.push("fetch failed"); }
		try { const r = await fetch("` + base + `/v1/status"); out.push("read " + (await r.text()).length); }
		catch (e) { out.push("read blocked"); }
		return out.join(", ");
	})()`
	for _, origin := range []string{"http://localhost:" + port, "http://127.0.0.1:" + port} {
		t.Run(origin, func(t *testing.T) {
			br.Navigate(origin + "/")
			var got string
			br.Eval(attack, &got)
			if !strings.Contains(got, "read blocked") {
				t.Errorf("the hostile page: %s; it must not read the status", got)
			}
			br.Follow(`(() => { const f = document.createElement("form"); f.method = "POST"; f.enctype = "text/plain";
				f.action = "` + base + `/v1/test/import"; const i = document.createElement("input"); i.name = '{"a":"'; i.value = '"}';
				f.appendChild(i); document.body.appendChild(f); setTimeout(() => f.submit(), 0); return true; })()`)
			var landed string
			br.Eval(`location.href + " " + document.body.innerText`, &landed)
			if !strings.Contains(landed, "cross-origin request refused") {
				t.Errorf("the form post landed on %q, want the refusal", landed)
			}
			if n := doc.count(); n != 0 {
				t.Fatalf("the hostile page wrote %d documents (%s)", n, got)
			}
		})
	}
	// the listener's own page, same requests: they arrive
	br.Navigate(base + "/")
	var got string
	br.Eval(strings.Replace(attack, `mode: "no-cors", `, "", 1), &got)
	if doc.count() != 1 || !strings.Contains(got, "read ") || strings.Contains(got, "blocked") {
		t.Errorf("from the listener's own page: %s, %d documents written; want one, and the status read", got, doc.count())
	}
}
