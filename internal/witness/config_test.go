package witness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// file is a config file with only a [witness] table.
type file struct {
	Witness *Config `toml:"witness"`
}

func (f *file) Validate() error {
	var errs config.Errors
	if f.Witness != nil {
		errs.Merge("witness", f.Witness.Validate())
	}
	return errs.Err()
}

func check(t *testing.T, src string) (*file, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "redund.toml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &file{}
	return f, config.Check(p, f)
}

func TestConfig(t *testing.T) {
	t.Setenv("WITNESS_PW", "s3cret")
	tests := []struct {
		name, src string
		errs      []string // each a substring of one line of the error, in order
	}{
		{"minimal", `[witness]
endpoints = ["http://127.0.0.1:2379"]`, nil},
		{"full", `[witness]
endpoints = ["https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"]
name = "gw-a"
prefix = "/site1/redund/"
ttl = "5s"
ca_file = "/etc/redund/etcd-ca.pem"
cert_file = "/etc/redund/etcd.pem"
key_file = "/etc/redund/etcd-key.pem"
username = "redund"
password_env = "WITNESS_PW"`, nil},
		{"no endpoints", "[witness]\nname = \"a\"", []string{":1: witness.endpoints: at least one etcd member is required"}},
		{"empty endpoints", "[witness]\nendpoints = []", []string{":2: witness.endpoints: at least one etcd member"}},
		{"bad endpoints", `[witness]
endpoints = ["127.0.0.1:2379", "unix:///run/etcd.sock", "http://10.0.0.1", "http://h:2379/v3"]`, []string{
			"witness.endpoints[0]: \"127.0.0.1:2379\" is not an etcd client URL",
			"witness.endpoints[1]: \"unix:///run/etcd.sock\" is not an etcd client URL",
			"witness.endpoints[2]: \"http://10.0.0.1\": give the port",
			"witness.endpoints[3]: \"http://h:2379/v3\" is not an etcd client URL"}},
		{"ttl too short", "[witness]\nendpoints = [\"http://e:2379\"]\nttl = \"1s\"", []string{":3: witness.ttl: 1s is too short: at least 2s"}},
		{"ttl not whole seconds", "[witness]\nendpoints = [\"http://e:2379\"]\nttl = \"2500ms\"", []string{"witness.ttl: 2.5s: etcd leases count whole seconds"}},
		{"ttl negative", "[witness]\nendpoints = [\"http://e:2379\"]\nttl = \"-3s\"", []string{"witness.ttl: -3s is too short"}},
		{"ttl too long", "[witness]\nendpoints = [\"http://e:2379\"]\nttl = \"1h\"", []string{"witness.ttl: 1h0m0s is too long"}},
		{"ttl not a duration", "[witness]\nendpoints = [\"http://e:2379\"]\nttl = 3", []string{"witness.ttl"}},
		{"bad prefixes", "[witness]\nendpoints = [\"http://e:2379\"]\nprefix = \"redund\"", []string{":3: witness.prefix: \"redund\" must start and end with '/'"}},
		{"prefix with empty segment", "[witness]\nendpoints = [\"http://e:2379\"]\nprefix = \"/a//b/\"", []string{"witness.prefix: \"/a//b/\" has an empty segment"}},
		{"prefix with a space", "[witness]\nendpoints = [\"http://e:2379\"]\nprefix = \"/a b/\"", []string{"witness.prefix: \"/a b/\" has spaces"}},
		{"bad name", "[witness]\nendpoints = [\"http://e:2379\"]\nname = \"gw/a\"", []string{":3: witness.name: \"gw/a\": use letters"}},
		{"tls on http", "[witness]\nendpoints = [\"http://e:2379\"]\nca_file = \"/ca.pem\"", []string{"witness.endpoints[0]: \"http://e:2379\" is plain http, but ca_file or cert_file is set"}},
		{"cert without key", "[witness]\nendpoints = [\"https://e:2379\"]\ncert_file = \"/c.pem\"", []string{"witness.key_file: required with cert_file"}},
		{"user without password", "[witness]\nendpoints = [\"http://e:2379\"]\nusername = \"u\"", []string{"witness.password: required with username"}},
		{"password env unset", "[witness]\nendpoints = [\"http://e:2379\"]\nusername = \"u\"\npassword_env = \"WITNESS_NO_SUCH\"", []string{"witness.password_env: environment variable WITNESS_NO_SUCH is not set"}},
		{"unknown key", "[witness]\nendpoints = [\"http://e:2379\"]\nlease = \"3s\"", []string{":3: witness.lease: unknown key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check(t, tc.src)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.errs)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.errs) && !strings.Contains(tc.name, "not a duration") {
				t.Errorf("%d problems, want %d:\n%v", len(lines), len(tc.errs), err)
			}
			for i, want := range tc.errs {
				if i >= len(lines) || !strings.Contains(lines[i], want) {
					t.Errorf("problem %d: want %q in:\n%v", i, want, err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	f, err := check(t, "[witness]\nendpoints = [\"http://127.0.0.1:2379\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(*f.Witness, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if w.TTL() != 3*time.Second || w.prefix != "/redund/" || w.node == "" || !strings.HasPrefix(host, w.node) {
		t.Errorf("ttl %v prefix %q node %q (host %q)", w.TTL(), w.prefix, w.node, host)
	}
	if w.t.margin != 750*time.Millisecond || w.t.renew != 500*time.Millisecond {
		t.Errorf("timing %+v", w.t)
	}
	w.Close() // never run: returns at once
}

func TestNewRejects(t *testing.T) {
	if _, err := New(Config{}, nil); err == nil || !strings.Contains(err.Error(), "endpoints") {
		t.Errorf("empty config: %v", err)
	}
	_, err := New(Config{Endpoints: []string{"https://e:2379"}, CAFile: filepath.Join(t.TempDir(), "none.pem")}, nil)
	if err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Errorf("missing CA file: %v", err)
	}
	w, err := New(Config{Endpoints: []string{"http://e:2379"}, Name: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a/b", "../x", "a b"} {
		t.Run(name, func(t *testing.T) {
			if _, err := w.Lock(name); err == nil {
				t.Errorf("lock name %q accepted", name)
			}
			if err := w.Publish(name, "v"); err == nil {
				t.Errorf("topic %q accepted", name)
			}
		})
	}
}
