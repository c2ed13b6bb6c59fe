package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// redactRoot has secrets under the usual names and under names of their
// own (voter's primary, gateway's history_dsn), in a map of tables and an
// array of tables.
type redactRoot struct {
	Admin struct {
		Token  Secret `toml:"token"`
		Listen string `toml:"listen"`
	} `toml:"admin"`
	Voter map[string]*struct {
		Primary Secret `toml:"primary"`
		Clients []struct {
			Name     string `toml:"name"`
			Password Secret `toml:"password"`
		} `toml:"clients"`
	} `toml:"voter"`
	Gateway *struct {
		HistoryDSN Secret `toml:"history_dsn"`
	} `toml:"gateway"`
}

// A parse error shows the offending line with the secret's value
// [redacted]; the line of any other key is shown as it is.
func TestParseErrorRedactsSecretValues(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unterminated token", "[admin]\ntoken = \"S3cr3t-admin-token\n", "token = [redacted]"},
		{"bad escape", "[admin]\ntoken = \"S3cr3t\\q-token\"\n", "token = [redacted]"},
		{"bare value", "[admin]\ntoken = S3cr3tbare\n", "token = [redacted]"},
		{"quoted key", "[admin]\n\"token\" = 'S3cr3t-lit\n", "\"token\" = [redacted]"},
		{"inline table", "admin = { listen = \"127.0.0.1:9180\", token = \"S3cr3t }\n", "admin = { listen = \"127.0.0.1:9180\", token = [redacted]"},
		{"dotted key", "admin.token = \"S3cr3t\n", "admin.token = [redacted]"},
		{"garbage after the value", "[admin]\ntoken = \"S3cr3t-x\" junk\n", "token = [redacted]"},
		{"inside a multi-line secret", "[admin]\ntoken = \"\"\"first\nS3cr3t\\q-second\n\"\"\"\n", "    [redacted]"},
		{"key of its own (voter primary)", "[voter.east]\nprimary = \"10.0.0.1,S3cr3t-pw\n", "primary = [redacted]"},
		{"array of tables", "[[voter.east.clients]]\nname = \"a\"\npassword = \"S3cr3t-client\n", "password = [redacted]"},
		{"history_dsn", "[gateway]\nhistory_dsn = \"postgres://u:S3cr3t@db/h\n", "history_dsn = [redacted]"},
		{"other keys are shown", "[admin]\nlisten = \"127.0.0.1:9180\n", "listen = \"127.0.0.1:9180\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "redund.toml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Check(path, &redactRoot{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "S3cr3t") {
				t.Fatalf("the error shows the secret:\n%s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("the error lacks %q:\n%s", tc.want, msg)
			}
		})
	}
}

func TestSecretKeys(t *testing.T) {
	got := secretKeys(reflect.TypeOf(&redactRoot{}))
	for _, k := range []string{"token", "secret", "password", "primary", "history_dsn"} {
		if !got[k] {
			t.Errorf("%s is not a secret key: %v", k, got)
		}
	}
	for _, k := range []string{"listen", "name", "admin", "voter"} {
		if got[k] {
			t.Errorf("%s taken for a secret key", k)
		}
	}
}

func TestRedactLine(t *testing.T) {
	secret := map[string]bool{"token": true}
	for _, tc := range []struct{ in, want string }{
		{`token = "abc`, `token = [redacted]`},
		{`  token="abc"`, `  token= [redacted]`},
		{`token_env = "X"`, `token_env = "X"`},
		{`a = { b = 1, token = 'x' }`, `a = { b = 1, token = [redacted]`},
		{`x."token" = 1`, `x."token" = [redacted]`},
		{`# token = "in a comment"`, `# token = "in a comment"`},
		{`notoken = 1`, `notoken = 1`},
		{``, ``},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got, _ := redactLine(tc.in, secret); got != tc.want {
				t.Errorf("redactLine(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
