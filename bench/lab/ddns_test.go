package lab

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

const ddnsConf = `[admin]
ddns = "127.0.0.1:9182"

[ddns.cat]
name = "cat.lab.test"
type = "A"
ttl = 5
interval = "{{.Interval}}"
rise = {{.Rise}}
fall = {{.Fall}}
policy = "sorry"
sorry = "sorry"
retry_min = "250ms"
retry_max = "2s"
state_dir = "{{.Dir}}/state"

[ddns.cat.provider]
kind = "rfc2136"
server = "{{.DNS}}"
zone = "lab.test"
timeout = "2s"
[ddns.cat.provider.key]
name = "{{.KeyName}}"
algorithm = "hmac-sha256"
secret = "{{.Secret}}"
{{range .Web}}
[[ddns.cat.servers]]
name = "{{.Name}}"
address = "{{.Addr}}"
priority = {{.Prio}}
[ddns.cat.servers.check]
kind = "http"
url = "http://{{.Addr}}/status"
musthave = "status=OK"
timeout = "{{$.Timeout}}"
{{end}}
[[ddns.cat.servers]]
name = "sorry"
address = "{{.Sorry}}"
priority = 1
`

// The scheme's settings. Probes start every interval (start to start), so
// a server whose link is cut is ERR after fall probes: it stays in DNS for
// at most fall × interval plus ddnsMargin (interval jitter, the timeout of
// the last failed probe, the decision and the RFC 2136 update). A recovered
// server is back after rise × interval + ddnsMargin.
const (
	ddnsInterval = 500 * time.Millisecond
	ddnsFall     = 3
	ddnsRise     = 2
	ddnsTimeout  = 300 * time.Millisecond
	ddnsMargin   = time.Second
)

type webRow struct {
	Name, Addr string
	Prio       int
}

// labDDNS: BIND and the ddns daemon in one namespace, the web servers
// "main" and "backup" each behind their own veth link. Promise: cat.lab.test
// never points at a server that cannot be reached for longer than
// fall × interval + margin, and comes back after rise × interval + margin.
func labDDNS(t *testing.T, tb *Table) {
	dir := t.TempDir()
	dnsNS, mainNS, backupNS := newNS(t, "d-dns"), newNS(t, "d-main"), newNS(t, "d-backup")
	toMain := newLink(t, dnsNS, "to-main", mainNS, "to-dns")
	toBackup := newLink(t, dnsNS, "to-backup", backupNS, "to-dns")
	sorry := subnet + "254"
	var named *bindtest.Server
	dnsNS.Here(t, func() { named = bindtest.Start(t, "lab.test", "cat 5 IN A "+sorry) })
	mainAddr, backupAddr := toMain.Addr(mainNS), toBackup.Addr(backupNS)
	webServe(t, mainNS, mainAddr+":80", "main")
	webServe(t, backupNS, backupAddr+":80", "backup")
	cfg := writeConfig(t, dir, "ddns.toml", ddnsConf, map[string]any{
		"Interval": ddnsInterval.String(), "Rise": ddnsRise, "Fall": ddnsFall, "Timeout": ddnsTimeout.String(),
		"Dir": dir, "DNS": named.Addr, "KeyName": named.KeyName, "Secret": named.KeySecret, "Sorry": sorry,
		"Web": []webRow{{"main", mainAddr, 30}, {"backup", backupAddr, 20}}})
	start(t, dnsNS, dir, "ddns", "--config", cfg, "ddns", "run")

	points := func(ip string) func() bool {
		return func() bool { return dnsA(dnsNS, named.Addr, "cat.lab.test.") == ip }
	}
	down := time.Duration(ddnsFall)*ddnsInterval + ddnsMargin
	up := time.Duration(ddnsRise)*ddnsInterval + ddnsMargin
	seen := func() string { return "DNS answers " + dnsA(dnsNS, named.Addr, "cat.lab.test.") }
	_ = steps(t, tb, "ddns", seen,
		Step{"start: main and backup up", "cat.lab.test points at main", nil, 10 * time.Second, points(mainAddr)},
		Step{"cut main's link (down at main's end)", "cat points at backup within fall×interval + 1s",
			func() { toMain.Cut(t, mainNS) }, down, points(backupAddr)},
		Step{"cut backup's link too", "cat points at the sorry address within fall×interval + 1s",
			func() { toBackup.Cut(t, backupNS) }, down, points(sorry)},
		Step{"heal both links", "cat points at main again within rise×interval + 1s",
			func() { toMain.Heal(t); toBackup.Heal(t) }, up, points(mainAddr)},
	) && hold(t, tb, "ddns", seen,
		Step{"cut main's link for 0.3s (fewer failed probes than fall)", "cat stays on main all the time (checked for fall×interval + 1s)",
			func() { toMain.Blip(t, mainNS, 300*time.Millisecond) }, down, points(mainAddr)},
	) && steps(t, tb, "ddns", seen,
		Step{"drop only what main sends (one-way)", "cat points at backup within fall×interval + 1s",
			func() { toMain.DropFrom(t, mainNS) }, down, points(backupAddr)},
		Step{"heal main's link", "cat points at main again within rise×interval + 1s",
			func() { toMain.Heal(t) }, up, points(mainAddr)},
	)
}

// webServe serves an okerr-style status page ("<name> status=OK") on addr
// inside ns, from this process, until the test ends.
func webServe(t *testing.T, ns *NS, addr, name string) {
	t.Helper()
	ln, err := ns.Listen(addr)
	if err != nil {
		t.Fatalf("lab: listen %s in %s: %v", addr, ns.Name, err)
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "<html><body>%s status=OK</body></html>\n", name)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// dnsA asks server (inside ns) for name's A record and returns the first
// address, or "" when there is none or no answer within 300 ms.
func dnsA(ns *NS, server, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c, err := ns.DialContext(ctx, "udp", server)
	if err != nil {
		return ""
	}
	co := &dns.Conn{Conn: c}
	defer co.Close()
	_ = co.SetDeadline(time.Now().Add(300 * time.Millisecond))
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	if err := co.WriteMsg(m); err != nil {
		return ""
	}
	r, err := co.ReadMsg()
	if err != nil {
		return ""
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}
