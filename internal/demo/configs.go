package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// demoSecret is the TSIG key and pair secret of the demo (loopback only).
const demoSecret = "cmVkdW5kLWRlbW8tc2VjcmV0LWtleS0wMTIzNDU2Nzg5"

const voterPrimary = `[admin]
voter = "127.0.0.1:{{.AdminVoterP}}"

[voter.east]
listen = "127.0.0.1:{{.VoterP}}"
password = "demo-host"
isprimary = true
rtp_out = "127.0.0.1:{{.RTP}}"

[voter.east.clients.hilltop]
password = "hilltop-2f9c"
[voter.east.clients.harbor]
password = "harbor-81aa"
[voter.east.clients.west-link]
password = "west-link-77d1"

[voter.east-timing]
listen = "127.0.0.1:{{.VoterP}}"
password = "demo-host"
[voter.east-timing.clients.gps-east]
password = "gps-east-5b20"
master = true
`

const voterSecondary = `[admin]
voter = "127.0.0.1:{{.AdminVoterS}}"

[voter.west]
listen = "127.0.0.1:{{.VoterS}}"
password = "demo-host"
primary = "127.0.0.1:{{.VoterP}},west-link-77d1"

[voter.west.clients.harbor]
password = "harbor-81aa"

[voter.west-timing]
listen = "127.0.0.1:{{.VoterS}}"
password = "demo-host"
[voter.west-timing.clients.gps-west]
password = "gps-west-9e13"
master = true
`

const ddnsConfig = `[admin]
ddns = "127.0.0.1:{{.AdminDdns}}"

[ddns.cat]
name = "cat.demo.test"
type = "A"
ttl = 5
interval = "250ms"
rise = 2
fall = 2
policy = "keep"
retry_min = "250ms"
retry_max = "2s"
state_dir = "{{.Dir}}/ddns-state"

[ddns.cat.provider]
kind = "rfc2136"
server = "{{.DNS}}"
zone = "demo.test"
timeout = "2s"
[ddns.cat.provider.key]
name = "demo-key."
algorithm = "hmac-sha256"
secret = "` + demoSecret + `"
{{range .Web}}
[[ddns.cat.servers]]
name = "{{.Name}}"
address = "{{.IP}}"
priority = {{.Prio}}
[ddns.cat.servers.check]
kind = "http"
url = "{{.URL}}"
musthave = "status=OK"
timeout = "1s"
{{end}}`

const schedsyncConfig = `[admin]
schedsync = "127.0.0.1:{{.Admin}}"

[schedsync]
mode = "{{.Mode}}"
dir = "{{.Dir}}"
listen = "127.0.0.1:{{.Listen}}"
peer = "http://127.0.0.1:{{.Peer}}"
secret = "` + demoSecret + `"
node_id = "{{.Node}}"
failover_offset = "4s"
peer_timeout = "2s"
scan_interval = "30s"
`

const gatewayConfig = `[admin]
gateway = "127.0.0.1:{{.Admin}}"

[gateway]
node_id = "{{.Node}}"
mode = "{{.Mode}}"
{{if eq .Mode "master"}}peer_listen = "127.0.0.1:{{.Link}}"{{else}}peer = "127.0.0.1:{{.Link}}"{{end}}
failover_timeout = "1s"
join_wait = "3s"
recovery = "automatic"
history = "partial"
data_dir = "{{.Dir}}"

[gateway.link]
secret = "` + demoSecret + `"
ping_interval = "200ms"
ping_timeout = "300ms"
max_missed = 5
`

const srvConfig = `[srv]
domain = "sip.demo.test"
ttl = 300
transports = ["udp", "tcp"]
naptr = true

[[srv.targets]]
name = "ms1"
host = "ms1.demo.test"
udp = 5060
tcp = 5060
[[srv.targets]]
name = "ms2"
host = "ms2.demo.test"
udp = 5060
tcp = 5060
[[srv.targets]]
name = "ms3"
host = "ms3.demo.test"
udp = 5060
tcp = 5060

[[srv.zones]]
name = "east"
order = ["ms1", "ms2", "ms3"]
[[srv.zones]]
name = "west"
order = ["ms3", "ms2", "ms1"]
`

// writeConfig renders tmpl with data into dir/name and returns the path.
func writeConfig(dir, name, tmpl string, data any) (string, error) {
	t, err := template.New(name).Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return p, nil
}
