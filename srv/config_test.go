package srv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

// base is a valid table; each case appends to it or replaces it.
const base = `
[srv]
domain = "sip.example.com"
[[srv.targets]]
name = "ms1"
host = "ms1.example.com"
udp = 5060
[[srv.targets]]
name = "ms2"
host = "ms2.example.com"
udp = 5060
tcp = 5060
`

const zoneEast = `
[[srv.zones]]
name = "east"
order = ["ms1", "ms2"]
`

func decodeValidate(src string) error {
	var tb table
	if err := config.Decode("redund.toml", src, &tb); err != nil {
		return err
	}
	var errs config.Errors
	errs.Merge("srv", tb.Srv.Validate())
	return config.Annotate("redund.toml", src, errs.Err())
}

// TestNoDomainOneError: a missing domain is one problem, reported once, not
// also as SRV names "longer than 253 characters".
func TestNoDomainOneError(t *testing.T) {
	err := decodeValidate(strings.Replace(base, `domain = "sip.example.com"`, "", 1) + zoneEast)
	if err == nil {
		t.Fatal("no error")
	}
	if lines := strings.Split(strings.TrimSpace(err.Error()), "\n"); len(lines) != 1 {
		t.Fatalf("want one error, got %d:\n%v", len(lines), err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every message expected; nil = valid
	}{
		{"valid", base + zoneEast, nil},
		{"explicit entries", base + `
[[srv.zones]]
name = "central"
[[srv.zones.targets]]
target = "ms1"
priority = 10
weight = 60
[[srv.zones.targets]]
target = "ms2"
`, nil},
		{"no domain", strings.Replace(base, `domain = "sip.example.com"`, "", 1) + zoneEast,
			[]string{"srv.domain: domain is required"}},
		{"bad domain", strings.Replace(base, `"sip.example.com"`, `"sip..example.com"`, 1) + zoneEast,
			[]string{`redund.toml:3: srv.domain: "sip..example.com" is not a valid domain name`}},
		{"ttl bounds", strings.Replace(base, "[[srv.targets]]", "ttl = 5\n[[srv.targets]]", 1) + zoneEast, []string{"srv.ttl: must be between 30 and 86400 seconds, got 5"}},
		{"zone ttl bounds", base + zoneEast + "ttl = 100000\n", []string{"srv.zones[0].ttl: must be between 30 and 86400 seconds, got 100000"}},
		{"unknown transport", strings.Replace(base, "[[srv.targets]]", "transports = [\"udp\", \"sctp\", \"udp\"]\n[[srv.targets]]", 1) + zoneEast,
			[]string{`srv.transports[1]: unknown transport "sctp"`, `srv.transports[2]: transport "udp" is listed twice`}},
		{"unknown target", base + `
[[srv.zones]]
name = "west"
order = ["ms2", "ms9"]
`, []string{`redund.toml:16: srv.zones[0].order[1]: unknown target "ms9" (known: ms1, ms2)`}},
		{"unknown entry target", base + `
[[srv.zones]]
name = "west"
[[srv.zones.targets]]
target = "ms7"
priority = 70000
`, []string{`srv.zones[0].targets[0].target: unknown target "ms7"`, "srv.zones[0].targets[0].priority: must be between 0 and 65535, got 70000"}},
		{"duplicate target name", base + `
[[srv.targets]]
name = "ms1"
host = "ms3.example.com"
udp = 5060
` + zoneEast, []string{`redund.toml:15: srv.targets[2].name: duplicate target name "ms1" (also targets[0])`}},
		{"duplicate names after nameless ones", `
[srv]
domain = "sip.example.com"
[[srv.targets]]
host = "ms0.example.com"
udp = 5060
[[srv.targets]]
name = "ms1"
host = "ms1.example.com"
udp = 5060
[[srv.targets]]
name = "ms1"
host = "ms3.example.com"
udp = 5060
[[srv.zones]]
order = ["ms1"]
[[srv.zones]]
name = "east"
order = ["ms1"]
[[srv.zones]]
name = "east"
order = ["ms1"]
`, []string{`srv.targets[2].name: duplicate target name "ms1" (also targets[1])`,
			`srv.zones[2].name: duplicate zone name "east" (also zones[1])`}},
		{"duplicate zone and entry", base + zoneEast + `
[[srv.zones]]
name = "EAST"
order = ["ms1", "ms1"]
`, []string{`srv.zones[1].name: duplicate zone name "EAST" (also zones[0])`, `srv.zones[1].order[1]: target "ms1" appears twice in this zone`}},
		{"non-ascii host", strings.Replace(base, `"ms1.example.com"`, `"mß1.example.com"`, 1) + zoneEast,
			[]string{`srv.targets[0].host: "mß1.example.com" is not a valid host name`}},
		{"ip target", strings.Replace(base, `"ms1.example.com"`, `"192.0.2.10"`, 1) + zoneEast,
			[]string{`srv.targets[0].host: "192.0.2.10" is an IP address`}},
		{"ipv6 target", strings.Replace(base, `"ms1.example.com"`, `"2001:db8::1"`, 1) + zoneEast,
			[]string{`srv.targets[0].host: "2001:db8::1" is an IP address`}},
		{"leading hyphen", strings.Replace(base, `"ms1.example.com"`, `"-ms3.example.com"`, 1) + zoneEast,
			[]string{`srv.targets[0].host: "-ms3.example.com" is not a valid host name: label "-ms3" starts or ends with a hyphen`}},
		{"trailing hyphen", strings.Replace(base, `"ms2.example.com"`, `"ms3-.example.com"`, 1) + zoneEast,
			[]string{`srv.targets[1].host: "ms3-.example.com" is not a valid host name: label "ms3-" starts`}},
		{"relative host", strings.Replace(base, `"ms1.example.com"`, `"ms1"`, 1) + zoneEast,
			[]string{`srv.targets[0].host: "ms1" must be a fully qualified name`}},
		{"ports out of range", strings.Replace(base, "udp = 5060\n[[srv.targets]]", "udp = 70000\ntls = -1\n[[srv.targets]]", 1) + zoneEast,
			[]string{"srv.targets[0].udp: port must be between 1 and 65535", "srv.targets[0].tls: port must be between 1 and 65535"}},
		{"no served port", strings.Replace(base, "udp = 5060\n[[srv.targets]]", "tls = 5061\n[[srv.targets]]", 1) + zoneEast,
			[]string{`srv.targets[0]: target "ms1" has no port for any served transport (udp, tcp)`}},
		{"empty zone", base + "[[srv.zones]]\nname = \"east\"\n", []string{`srv.zones[0]: zone "east" is empty`}},
		{"order and targets", base + zoneEast + "[[srv.zones.targets]]\ntarget = \"ms1\"\n", []string{"srv.zones[0]: give order or [[targets]], not both"}},
		{"same server twice", strings.Replace(base, `"ms2.example.com"`, `"MS1.example.com."`, 1) + zoneEast,
			[]string{`srv.zones[0]: targets "ms1" and "ms2" are the same server on udp (ms1.example.com.:5060)`}},
		{"no zones no targets", "[srv]\ndomain = \"x.example\"\n", []string{"srv.targets: at least one target", "srv.zones: at least one zone"}},
		{"absolute zone name", base + "[[srv.zones]]\nname = \"east.\"\norder = [\"ms1\"]\n", []string{`srv.zones[0].name: "east." must be a relative name`}},
		{"unknown key", base + zoneEast + "colour = \"red\"\n", []string{"redund.toml:17: srv.zones[0].colour: unknown key"}},
		{"push without key", base + zoneEast + "[srv.push]\nserver = \"ns1\"\nzone = \"other.org\"\nnet = \"sctp\"\n", []string{
			`srv.push.server: "ns1" is not host:port`, `srv.push.zone: domain "sip.example.com" is not inside zone "other.org"`,
			`srv.push.net: must be udp or tcp`, "srv.push.tsig: a TSIG key is required"}},
		{"push bad key", base + zoneEast + "[srv.push]\nserver = \"127.0.0.1:53\"\n[srv.push.tsig]\nname = \"k\"\nalgorithm = \"hmac-md5\"\nsecret = \"%%%\"\n", []string{
			`srv.push.tsig.algorithm: unknown TSIG algorithm "hmac-md5"`, "srv.push.tsig.secret: TSIG secret must be base64"}},
		{"resolver and timeout", strings.Replace(base, "[[srv.targets]]", "resolver = \"8.8.8.8\"\ntimeout = \"2h\"\n[[srv.targets]]", 1) + zoneEast, []string{
			`srv.resolver: "8.8.8.8" is not host:port`, "srv.timeout: must be between 0 (default) and 1m, got 2h0m0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeValidate(tc.src)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestPushSecretFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "tsig.key")
	if err := os.WriteFile(keyFile, []byte("c2VjcmV0LWZyb20tZmlsZQ==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SRV_TEST_TSIG", "c2VjcmV0LWZyb20tZW52")
	for src, want := range map[string]string{
		"secret_file = \"" + filepath.ToSlash(keyFile) + "\"": "c2VjcmV0LWZyb20tZmlsZQ==",
		"secret_env = \"SRV_TEST_TSIG\"":                      "c2VjcmV0LWZyb20tZW52",
	} {
		t.Run(src, func(t *testing.T) {
			c := loadString(t, base+zoneEast+"[srv.push]\nserver = \"127.0.0.1:53\"\n[srv.push.tsig]\nname = \"k.\"\n"+src+"\n")
			if got := c.Push.TSIG.Secret.Reveal(); got != want {
				t.Errorf("%s: secret %q, want %q", src, got, want)
			}
			if cl := c.Push.Client(c.Domain); cl.Zone != "sip.example.com." || cl.Key == nil {
				t.Errorf("client = %+v", cl)
			}
		})
	}
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{base + zoneEast, base, "[srv]\ndomain = \"a.b\"\n[[srv.zones]]\nname=\"x\"\norder=[\"y\"]\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var tb table
		if config.Decode("f.toml", src, &tb) != nil || tb.Srv == nil {
			return
		}
		if tb.Srv.Validate() != nil {
			return
		}
		// a valid table always generates and formats
		sets := Generate(tb.Srv)
		for _, f := range Formats {
			var b bytes.Buffer
			if err := Write(&b, f, tb.Srv, sets); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if f == FormatJSON && !bytes.Equal(b.Bytes(), encodingJSON(t, tb.Srv, sets)) {
				t.Fatalf("hand-written JSON differs from encoding/json")
			}
		}
	})
}

// A resolver without a port gets :53, IPv6 in brackets or not.
func TestCheckOptionsResolverPort(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.53": "192.0.2.53:53", "[::1]": "[::1]:53", "::1": "[::1]:53", "127.0.0.1:5353": "127.0.0.1:5353"} {
		t.Run(in, func(t *testing.T) {
			o, err := (&Config{}).checkOptions(CheckOptions{Resolver: in})
			if err != nil || o.Resolver != want {
				t.Errorf("resolver %q: got %q, %v; want %q", in, o.Resolver, err, want)
			}
		})
	}
}

// TestDefaultResolver: srv check asks the [srv] resolver, else the push
// server (else /etc/resolv.conf, which depends on the machine).
func TestDefaultResolver(t *testing.T) {
	push := &Push{Server: "192.0.2.53:53"}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Resolver: "192.0.2.1:5300", Push: push}, "192.0.2.1:5300"},
		{Config{Push: push}, "192.0.2.53:53"},
	} {
		t.Run("resolver="+c.cfg.Resolver, func(t *testing.T) {
			if got, err := c.cfg.DefaultResolver(); err != nil || got != c.want {
				t.Errorf("%+v: %q, %v; want %q", c.cfg, got, err, c.want)
			}
		})
	}
}
