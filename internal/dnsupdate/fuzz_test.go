package dnsupdate

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseHEReply checks that any reply body is classified without panic
// and that only good/nochg replies are accepted.
func FuzzParseHEReply(f *testing.F) {
	for _, s := range []string{"good 192.0.2.1", "nochg 2001:db8::1\n", "badauth", "911", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		reply, err := ParseHEReply(body)
		if err == nil {
			w := strings.ToLower(strings.Fields(body)[0])
			if w != "good" && w != "nochg" {
				t.Fatalf("accepted %q as %q", body, reply)
			}
		}
	})
}

// FuzzHESameAddress checks that the address check of a good/nochg reply
// never panics and accepts only a reply naming the address sent.
func FuzzHESameAddress(f *testing.F) {
	f.Add("good 192.0.2.1", "192.0.2.1")
	f.Add("nochg 2001:db8::1", "2001:db8::1")
	f.Add("good", "192.0.2.1")
	f.Add("good ::ffff:192.0.2.1", "192.0.2.1")
	f.Fuzz(func(t *testing.T, reply, sent string) {
		if heSameAddress(reply, sent) != nil {
			return
		}
		got, err := netip.ParseAddr(strings.Fields(reply)[1])
		want, werr := netip.ParseAddr(strings.TrimSpace(sent))
		if err != nil || werr != nil || got.Unmap() != want.Unmap() {
			t.Fatalf("accepted reply %q for %q", reply, sent)
		}
	})
}

// FuzzCloudflareReply checks that any reply body gives either a successful
// envelope or a *CloudflareError whose message can be printed.
func FuzzCloudflareReply(f *testing.F) {
	f.Add(200, []byte(`{"success":true,"errors":[],"result":[],"result_info":{"page":1,"total_pages":1}}`))
	f.Add(403, []byte(`{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"result":null}`))
	f.Add(500, []byte(`<html>oops</html>`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		rep, err := parseCFReply(status, body)
		var ce *CloudflareError
		switch {
		case err == nil && (rep == nil || !rep.Success || status/100 != 2):
			t.Fatalf("accepted status %d body %q", status, body)
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("error of type %T", err)
		case err != nil:
			_ = err.Error()
		}
	})
}

// FuzzCloudflareChangeReply feeds arbitrary bodies as the reply to a
// PATCH: the envelope and its record must be read without panic, and
// the push counts only when the record returned is the one patched, with
// the value sent.
func FuzzCloudflareChangeReply(f *testing.F) {
	f.Add([]byte(`{"success":true,"errors":[],"result":{"id":"r4","type":"A","name":"www.example.com","content":"192.0.2.1"}}`))
	f.Add([]byte(`{"success":true,"errors":[],"result":{"id":"r4","type":"A","name":"www.example.com","content":"192.0.2.77"}}`))
	f.Add([]byte(`{"success":true,"errors":[],"result":null}`))
	f.Add([]byte(`{"success":true,"result":[1,2]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := parseCFReply(200, body)
		if err != nil {
			return
		}
		var out cfRecord
		if json.Unmarshal(rep.Result, &out) != nil {
			return
		}
		r := Record{Name: "www.example.com.", Type: "A", Value: "192.0.2.1"}
		if cfSameRecord("PATCH", out, "r4", r) == nil && (out.ID != "r4" || NormalizeValue("A", out.Content) != "192.0.2.1") {
			t.Fatalf("accepted %s", body)
		}
	})
}
