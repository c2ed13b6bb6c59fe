package health

import (
	"net/url"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

// TestValidate decodes TOML snippets the way the loader does, as the check
// table of a bigger config, then validates them.
func TestValidate(t *testing.T) {
	tests := []struct {
		name, toml string
		wantErr    string // "" means valid; else every line must appear
	}{
		{"http minimal", `kind = "http"
url = "https://example.test/health"`, ""},
		{"http full", `kind = "http"
url = "http://example.test:8080/health"
method = "HEAD"
status = ["200", "301-302", "4xx"]
max_bytes = 1024
addr = "192.0.2.1:8080"
insecure = true
keepalive = true
timeout = "1500ms"`, ""},
		{"http bare addr", `kind = "http"
url = "https://example.test/health"
addr = "2001:db8::1"`, ""},
		{"tcp", `kind = "tcp"
address = "db.example.test:5432"
send = "PING\r\n"
expect = "+PONG"`, ""},
		{"dns", `kind = "dns"
server = "127.0.0.1"
name = "www.example.test"
type = "aaaa"
value = "2001:db8::1"`, ""},
		{"exec", `kind = "exec"
command = ["/usr/lib/nagios/plugins/check_ping", "-H", "192.0.2.1"]`, ""},
		{"no kind", `url = "http://x/"`, "kind: missing"},
		{"bad kind", `kind = "icmp"`, `kind: "icmp" is not one of http, tcp, dns, exec`},
		{"http problems", `kind = "http"
url = "ftp://example.test/"
method = "POST"
status = ["200", "99"]
max_bytes = -1
addr = "192.0.2.1:x"
timeout = "-1s"`, "url: \"ftp://example.test/\": scheme must be http or https\n" +
			"method: \"POST\" is not GET or HEAD\nstatus: status \"99\"\nmax_bytes: must not be negative\n" +
			"addr: \"192.0.2.1:x\": port must be 0-65535\ntimeout: must not be negative"},
		{"http no url", `kind = "http"`, "url: missing"},
		{"head with musthave", `kind = "http"
url = "http://x/"
method = "HEAD"
musthave = "OK"`, "method: HEAD has no body"},
		{"foreign keys", `kind = "tcp"
address = "x:1"
url = "http://x/"
command = ["true"]`, "command: not used by kind \"tcp\"\nurl: not used by kind \"tcp\""},
		{"keepalive is http only", `kind = "tcp"
address = "x:1"
keepalive = true`, "keepalive: not used by kind \"tcp\""},
		{"redirects bad value", `kind = "http"
url = "http://x/"
redirects = "always"`, "redirects: \"always\" is not one of same-host, follow, none"},
		{"redirects is http only", `kind = "tcp"
address = "x:1"
redirects = "none"`, "redirects: not used by kind \"tcp\""},
		{"tcp port 0", `kind = "tcp"
address = "x:0"`, "address: \"x:0\": port must not be 0"},
		{"tcp no host", `kind = "tcp"
address = ":80"`, "address: \":80\": host missing"},
		{"dns problems", `kind = "dns"
server = "127.0.0.1:99999"
name = "bad..name"
type = "BOGUS"`, "server: \"127.0.0.1:99999\": port must be 0-65535\nname: \"bad..name\" is not a domain name\n" +
			"type: \"BOGUS\" is not a DNS record type"},
		{"dns missing", `kind = "dns"`, "server: missing\nname: missing"},
		{"exec empty", `kind = "exec"
command = []`, "command: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("test.toml", tt.toml, &c); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if _, err := New(c); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, want := range strings.Split(tt.wantErr, "\n") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if _, err := New(c); err == nil {
				t.Errorf("New accepted an invalid config")
			}
		})
	}
}

// TestValidatePaths: errors merged under a prefix name the full key path.
func TestValidatePaths(t *testing.T) {
	c := Config{Kind: "http", URL: "http://x/", MaxBytes: -5}
	var errs config.Errors
	errs.Merge("ddns.cat.servers[1].check", c.Validate())
	if len(errs) != 1 || errs[0].Path != "ddns.cat.servers[1].check.max_bytes" {
		t.Fatalf("got %v, want one error at ddns.cat.servers[1].check.max_bytes", errs)
	}
}

// FuzzConfig: Validate never panics on any values, and whatever it accepts
// New turns into a checker.
func FuzzConfig(f *testing.F) {
	f.Add("http", "https://example.test/health", "192.0.2.1:443", "200,3xx", 100)
	f.Add("http", "http://[::1]:8080/", "::1", "", 0)
	f.Add("tcp", "example.test:6379", "PING\r\n", "+PONG", 0)
	f.Add("dns", "[2001:db8::53]", "www.example.test", "AAAA", 0)
	f.Add("exec", "/bin/true", "-v", "", 0)
	f.Fuzz(func(t *testing.T, kind, a, b, c string, n int) {
		cfg := Config{Kind: kind}
		switch kind {
		case "http":
			cfg.URL, cfg.Addr, cfg.Status, cfg.MaxBytes = a, b, []string{c}, n
		case "tcp":
			cfg.Address, cfg.Send, cfg.Expect = a, b, c
		case "dns":
			cfg.Server, cfg.Name, cfg.Type = a, b, c
		default:
			cfg.Command = []string{a, b, c}
		}
		if cfg.Validate() != nil {
			return
		}
		if _, err := New(cfg); err != nil {
			t.Fatalf("Validate accepted %+v but New failed: %v", cfg, err)
		}
		if u, err := url.Parse(cfg.URL); kind == "http" && (err != nil || u.Hostname() == "") {
			t.Fatalf("Validate accepted URL %q without a host", cfg.URL)
		}
	})
}
