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

// FuzzProcessFiles feeds arbitrary bytes to the parsers of data_dir/app.pid
// and /proc/<pid>/stat.
func FuzzProcessFiles(f *testing.F) {
	f.Add([]byte("4242 123456 6f1c1a5e-0d3b-4a53-9c55-2d4b0f0f1e77\n"))
	f.Add([]byte("1 0 x"))
	f.Add([]byte("4242 (sh) S 1 4242 4242 0 -1 4194560 116 0 0 0 0 0 0 0 20 0 1 0 123456 2539520 227 18446744073709551615"))
	f.Add([]byte("7 (a) b) (c) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseGroupRecord(b); err == nil {
			if r.PGID <= 1 {
				t.Fatalf("accepted process group %d", r.PGID)
			}
			if back, err := parseGroupRecord(r.encode()); err != nil || back != r {
				t.Fatalf("record %+v does not survive encoding: %+v %v", r, back, err)
			}
		}
		_, _ = parseProcStat(b)
	})
}
