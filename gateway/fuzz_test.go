package gateway

import (
	"encoding/json"
	"testing"
)

// FuzzLinkMessages feeds arbitrary bytes to the parsers of the gateway's
// peer messages (role changes and forwarded history batches).
func FuzzLinkMessages(f *testing.F) {
	f.Add([]byte(`{"role":"active","epoch":3,"client_url":"http://a:8080"}`))
	f.Add([]byte(`{"source":"b","points":[{"tag":"t","ts_ms":1,"value":2,"seq":1}]}`))
	f.Add([]byte(`{"source":"","points":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseRole(b); err == nil && m.Role != RoleActive && m.Role != RoleStandby && m.Role != RoleStarting {
			t.Fatalf("accepted role %q", m.Role)
		}
		if r, err := parseForward(b); err == nil {
			for _, p := range r.Points {
				if p.Tag == "" || p.TSMS <= 0 || p.Seq == 0 {
					t.Fatalf("accepted bad point %+v", p)
				}
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
