package lab

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/redund/redund/internal/status"
)

const voterPrimaryConf = `[admin]
voter = "127.0.0.1:9181"

[voter.east]
listen = "0.0.0.0:1667"
password = "lab-host"
isprimary = true
[voter.east.clients.hilltop]
password = "hilltop-pw"
[voter.east.clients.harbor]
password = "harbor-pw"
[voter.east.clients.west-link]
password = "west-link-pw"

[voter.east-timing]
listen = "0.0.0.0:1667"
password = "lab-host"
[voter.east-timing.clients.gps-east]
password = "gps-east-pw"
master = true
`

const voterSecondaryConf = `[admin]
voter = "127.0.0.1:9181"

[voter.west]
listen = "0.0.0.0:1667"
password = "lab-host"
primary = "{{.Primary}}:1667,west-link-pw"
[voter.west.clients.hilltop]
password = "hilltop-pw"
[voter.west.clients.harbor]
password = "harbor-pw"

[voter.west-timing]
listen = "0.0.0.0:1667"
password = "lab-host"
[voter.west-timing.clients.gps-west]
password = "gps-west-pw"
master = true
`

// voterLinkTimeout is how long a secondary waits for its primary's
// keepalive before it serves its own clients (voter/proxy.go).
const voterLinkTimeout = 2 * time.Second

// labVoter: primary "east" in one namespace, secondary "west" in another,
// the secondary's clients in the secondary's namespace. Promise: one
// system while the link is up (west proxies, east hears west's clients);
// west serves its own clients within the link timeout when the link is cut
// or only the primary's replies are lost; proxying again after healing.
func labVoter(t *testing.T, tb *Table) {
	dir := t.TempDir()
	east, west := newNS(t, "v-east"), newNS(t, "v-west")
	link := newLink(t, east, "to-west", west, "to-east")
	pcfg := writeConfig(t, dir, "east.toml", voterPrimaryConf, nil)
	scfg := writeConfig(t, dir, "west.toml", voterSecondaryConf, map[string]string{"Primary": link.Addr(east)})
	start(t, east, dir, "voter-east", "--config", pcfg, "voter", "serve")
	start(t, west, dir, "voter-west", "--config", scfg, "voter", "serve")
	start(t, east, dir, "clients-east", "--config", pcfg, "voter", "client", "--server", "127.0.0.1:1667",
		"--password", "hilltop-pw", "--host-password", "lab-host", "--master-password", "gps-east-pw", "--rssi", "200", "--tone", "800")
	start(t, west, dir, "clients-west", "--config", scfg, "voter", "client", "--server", "127.0.0.1:1667",
		"--password", "harbor-pw", "--host-password", "lab-host", "--master-password", "gps-west-pw", "--rssi", "120", "--tone", "600")

	westIs := func(state string) func() bool {
		return func() bool {
			d, ok := doc(west, "127.0.0.1:9181", "west")
			return ok && d.State == state && heardLately(d, "harbor", false)
		}
	}
	eastHearsHarbor := func() bool {
		d, ok := doc(east, "127.0.0.1:9181", "east")
		return ok && heardLately(d, "harbor", true)
	}
	unified := func() bool { return westIs("proxying")() && eastHearsHarbor() }
	margin := 500 * time.Millisecond
	seen := func() string {
		d, _ := doc(west, "127.0.0.1:9181", "west")
		return "west is " + d.State
	}
	steps(t, tb, "voter", seen,
		Step{"start: primary and secondary in two namespaces", "west proxies its client harbor to east (east hears harbor via west): one voted system",
			nil, 15 * time.Second, unified},
		Step{"cut the link (down at the primary's end)", "west serves harbor itself (hears it, state serving) within the 2s link timeout",
			func() { link.Cut(t, east) }, voterLinkTimeout + margin, westIs("serving")},
		Step{"heal the link", "west proxies to east again, east hears harbor via west",
			func() { link.Heal(t) }, 5 * time.Second, unified},
		Step{"drop only what the primary sends (one-way)", "west serves harbor itself (hears it, state serving) within the 2s link timeout",
			func() { link.DropFrom(t, east) }, voterLinkTimeout + margin, westIs("serving")},
		Step{"heal the link", "west proxies to east again, east hears harbor via west",
			func() { link.Heal(t) }, 5 * time.Second, unified},
	)
}

// heardLately reports whether the instance's client name was heard in the
// last half second (details.clients[].last_seen), and through a secondary
// (details.clients[].via) when proxied is true.
func heardLately(d status.Document, name string, proxied bool) bool {
	var det struct {
		Clients []struct {
			Name     string    `json:"name"`
			Via      string    `json:"via"`
			LastSeen time.Time `json:"last_seen"`
		} `json:"clients"`
	}
	b, err := json.Marshal(d.Details)
	if err != nil || json.Unmarshal(b, &det) != nil {
		return false
	}
	for _, c := range det.Clients {
		if c.Name == name {
			return time.Since(c.LastSeen) < 500*time.Millisecond && (c.Via != "") == proxied
		}
	}
	return false
}
