package voter

import (
	"net/netip"
	"testing"
	"time"
)

// A client's GPS position belongs to its session: after the client is
// disconnected the status shows none (it used to keep showing the last
// position, and the page "GPS <position>" for a master that was gone),
// and while it is shown the status says when it was reported.
func TestGPSPositionEndsWithSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(g *group, c *client, now time.Time)
	}{
		{"timeout", func(g *group, _ *client, now time.Time) { g.timeouts(now.Add(4 * time.Second)) }},
		{"same address", func(g *group, c *client, _ time.Time) {
			o := g.clients[1]
			o.heard = true
			o.setAddr(c.addr)
			g.sameAddress()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"g": cl("gpw"), "m": {Password: "mpw", Master: true}})
			cfg.Challenge = "12345678"
			g := offlineGroup(t, map[string]*Config{"x": cfg})
			c := g.clients[0]
			from := netip.MustParseAddrPort("127.0.0.1:4000")
			now := time.Unix(1_800_000_000, 0)
			p := Packet{Header: Header{Challenge: MakeChallenge("999"), Digest: Digest([]byte("12345678"), "gpw")},
				Kind: TypeGPS, GPS: []byte("4807.038N01131.000E545.4\x00\x00")}
			g.handle(p.Append(nil), from, now)
			st := c.status()
			if st.GPS != "4807.038N 01131.000E 545.4M" || !st.GPSAt.Equal(now) || !st.Connected {
				t.Fatalf("after a GPS packet: %+v", st)
			}
			tc.end(g, c, now)
			if st := c.status(); st.Connected || st.GPS != "" || !st.GPSAt.IsZero() {
				t.Fatalf("after the session ended: %+v", st)
			}
			// When it was last heard is still known: the page used to say
			// "never" for a client that had just timed out.
			if st := c.status(); !st.LastSeen.Equal(now) {
				t.Fatalf("last seen %v after the session ended, want %v", st.LastSeen, now)
			}
		})
	}
}
