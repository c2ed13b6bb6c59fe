package ddns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/redund/redund/internal/health"
)

// FuzzStateFile feeds arbitrary bytes to the state file reader: it must
// either load them or say the file is damaged, never panic, and a loaded
// file must give back the values it holds.
func FuzzStateFile(f *testing.F) {
	for _, s := range []string{`{"maintenance":{"main":true}}`, `{}`, `{"maintenance":null}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ddns-cat.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := openState(dir, "cat")
		if err != nil {
			return
		}
		for k, v := range st.maint {
			if st.maintenance(k, !v) != v {
				t.Fatalf("server %q: stored %v not returned", k, v)
			}
		}
		if err := st.setMaintenance("x", true, false); err != nil {
			t.Fatal(err)
		}
		again, err := openState(dir, "cat")
		if err != nil || !again.maintenance("x", false) {
			t.Fatalf("rewritten file: %v", err)
		}
	})
}

// FuzzAgreeView feeds arbitrary bytes as one decider's published view (as
// etcd would hold it) to the quorum: it must never panic, every state must
// be OK, ERR or UNKNOWN, and a server is OK under quorum "all" only when
// the view says OK for it at this node's address (or at none, as older
// versions publish).
func FuzzAgreeView(f *testing.F) {
	for _, s := range []string{
		`{"at":"2026-01-02T03:04:05Z","servers":{"main":{"state":"OK","address":"192.0.2.1"}}}`,
		`{"servers":{"main":{"state":"OK","address":"192.0.2.99"},"backup":{"state":"ERR"}}}`,
		`{"servers":{"main":{"state":"ok"}}}`, `{"servers":null}`, `{}`, `[`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v View
		if json.Unmarshal(b, &v) != nil {
			return
		}
		v.Node = "b"
		cands := cat(health.OK, health.OK, health.OK)
		for _, rule := range []string{QuorumMajority, QuorumAny, QuorumAll} {
			got := Agree(cands, []View{v}, rule)
			for i, c := range got {
				switch c.State {
				case health.OK, health.Err, health.Unknown:
				default:
					t.Fatalf("%s: state %v", c.Name, c.State)
				}
				sv, found := v.Servers[c.Name]
				okHere := found && sv.State == "OK" && (sv.Address == "" || sameAddress(sv.Address, cands[i].Address))
				if c.State == health.OK && !okHere {
					t.Fatalf("rule %s: %s OK on view %s", rule, c.Name, b)
				}
			}
			_ = Decide(got, PolicySorry, "sorry")
		}
	})
}
