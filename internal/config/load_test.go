package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testServer struct {
	Name     string `toml:"name"`
	Priority int    `toml:"priority"`
	Password Secret `toml:"password"`
	Cache    string `toml:"cache_file"` // a real key that merely ends in _file
}

type testScheme struct {
	Interval Duration      `toml:"interval"`
	Servers  []*testServer `toml:"servers"`
	Token    Secret        `toml:"token"`
}

type testRoot struct {
	Admin struct {
		Listen string `toml:"listen"`
	} `toml:"admin"`
	Ddns map[string]*testScheme `toml:"ddns"`
}

func (r *testRoot) Validate() error {
	var errs Errors
	for name, s := range r.Ddns {
		for i, srv := range s.Servers {
			if srv.Priority <= 0 {
				errs.Add(Join("ddns."+name, Index("servers", i)+".priority"), "must be > 0")
			}
		}
	}
	return errs.Err()
}

func decodeRoot(t *testing.T, src string) (*testRoot, error) {
	t.Helper()
	var r testRoot
	err := Decode("redund.toml", src, &r)
	if err == nil {
		err = Annotate("redund.toml", src, r.Validate())
	}
	return &r, err
}

func TestDecodeErrors(t *testing.T) {
	t.Setenv("REDUND_TEST_TOKEN", "tok-from-env")
	tests := []struct {
		name string
		src  string
		want []string // substrings of the error, in order of lines; empty = no error
	}{
		{"ok", "[admin]\nlisten = \"127.0.0.1:1\"\n", nil},
		{"unknown key", "[admin]\nlisten = \"x\"\nlisen = \"y\"\n",
			[]string{"redund.toml:3: admin.lisen: unknown key"}},
		{"unknown table", "[admn]\nlisten = \"x\"\n", []string{"redund.toml:2: admn.listen: unknown key"}},
		{"parse error", "[admin]\nlisten = \n", []string{"redund.toml:2: ", "column"}},
		{"wrong type", "[admin]\nlisten = 5\n", []string{"redund.toml:2:", "admin.listen"}},
		{"bad duration", "[ddns.cat]\ninterval = \"3 parsecs\"\n",
			[]string{"redund.toml:2:", "invalid duration"}},
		{"validation path and line", "[ddns.cat]\n[[ddns.cat.servers]]\nname = \"a\"\npriority = 1\n" +
			"[[ddns.cat.servers]]\nname = \"b\"\npriority = 0\n",
			[]string{"redund.toml:7: ddns.cat.servers[1].priority: must be > 0"}},
		{"unknown key in the second element", "[ddns.cat]\n[[ddns.cat.servers]]\nname = \"a\"\npriority = 1\n" +
			"[[ddns.cat.servers]]\nname = \"b\"\n# a comment\nwieght = 3\npriority = 2\n",
			[]string{"redund.toml:8: ddns.cat.servers[1].wieght: unknown key"}},
		{"unknown key in two elements", "[ddns.cat]\n[[ddns.cat.servers]]\nname = \"a\"\nprio = 1\npriority = 1\n" +
			"[[ddns.cat.servers]]\nname = \"b\"\nprio = 2\npriority = 2\n",
			[]string{"redund.toml:4: ddns.cat.servers[0].prio: unknown key", "redund.toml:8: ddns.cat.servers[1].prio: unknown key"}},
		{"every error reported", "[admin]\nx = 1\ny = 2\n",
			[]string{"redund.toml:2: admin.x", "redund.toml:3: admin.y"}},
		{"env secret missing", "[ddns.cat]\ntoken_env = \"REDUND_NO_SUCH_VAR\"\n",
			[]string{"redund.toml:2: ddns.cat.token_env: environment variable REDUND_NO_SUCH_VAR is not set"}},
		{"file secret missing", "[ddns.cat]\n[[ddns.cat.servers]]\npriority = 1\npassword_file = \"/nonexistent/pw\"\n",
			[]string{"redund.toml:4: ddns.cat.servers[0].password_file: cannot read secret file /nonexistent/pw"}},
		{"inline and file", "[ddns.cat]\ntoken = \"a\"\ntoken_file = \"b\"\n",
			[]string{"ddns.cat.token_file: give token or token_file, not both"}},
		{"non-secret _env is unknown", "[admin]\nlisten_env = \"X\"\n", []string{"admin.listen_env: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRoot(t, tt.src)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDUND_TEST_TOKEN", "tok-from-env")
	src := "[ddns.cat]\ntoken_env = \"REDUND_TEST_TOKEN\"\n[[ddns.cat.servers]]\npriority = 1\n" +
		"password_file = \"" + pw + "\"\ncache_file = \"/var/cache/x\"\n" +
		"[[ddns.cat.servers]]\npriority = 2\npassword = \"inline\"\n"
	r, err := decodeRoot(t, src)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Ddns["cat"]
	if got := s.Token.Reveal(); got != "tok-from-env" {
		t.Errorf("token = %q", got)
	}
	if got := s.Servers[0].Password.Reveal(); got != "s3cret" {
		t.Errorf("servers[0].password = %q", got)
	}
	if got := s.Servers[0].Cache; got != "/var/cache/x" {
		t.Errorf("cache_file = %q (a non-secret _file key must stay a plain key)", got)
	}
	if got := s.Servers[1].Password.Reveal(); got != "inline" {
		t.Errorf("servers[1].password = %q", got)
	}
}

func TestSecretRedacted(t *testing.T) {
	s := Secret("hunter2")
	for _, out := range []string{s.String(), s.GoString(), s.LogValue().String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret leaked: %q", out)
		}
	}
	b, _ := s.MarshalJSON()
	if strings.Contains(string(b), "hunter2") {
		t.Fatalf("secret leaked in JSON: %s", b)
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1500ms")); err != nil || d.D().Milliseconds() != 1500 {
		t.Fatalf("got %v, %v", d, err)
	}
}

func TestPositions(t *testing.T) {
	src := `# comment
[admin]
listen = "x"

[ddns.cat]
name = "cat.example.com."
servers = [
  { name = "a" },
]
[[ddns.cat.servers]]
name = "a"
text = """
not = a key
"""
[[ddns.cat.servers]]
priority = 3
[voter.east.clients]
"quoted.key" = 1
`
	p := positions(src)
	for path, line := range map[string]int{
		"admin.listen":                  3,
		"ddns.cat.name":                 6,
		"ddns.cat.servers[0].name":      11,
		"ddns.cat.servers[1].priority":  16,
		"ddns.cat.servers[1]":           15,
		"voter.east.clients.quoted.key": 18,
		"ddns.cat.servers[1].nope":      15,
	} {
		t.Run(path, func(t *testing.T) {
			if got := p.lookup(path); got != line {
				t.Errorf("lookup(%q) = %d, want %d", path, got, line)
			}
		})
	}
	if _, ok := p["ddns.cat.text"]; ok {
		t.Error("a line inside a multi-line string was taken for a key")
	}
}

func TestCheckHostPort(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:9180": true, "[::1]:1667": true, ":0": true,
		"127.0.0.1": false, "host:99999": false, "host:x": false} {
		t.Run(addr, func(t *testing.T) {
			if err := CheckHostPort(addr); (err == nil) != ok {
				t.Errorf("CheckHostPort(%q) = %v", addr, err)
			}
		})
	}
}

// defaulted has a default that validation checks: Check must see it set.
type defaulted struct {
	Interval  Duration `toml:"interval"`
	Secret    Secret   `toml:"secret"`
	sawSecret Secret
}

func (d *defaulted) SetDefaults() {
	d.sawSecret = d.Secret
	if d.Interval == 0 {
		d.Interval = Duration(10 * time.Second)
	}
}

func (d *defaulted) Validate() error {
	if d.Interval == 0 {
		return &FieldError{Path: "interval", Msg: "unset: SetDefaults did not run before Validate"}
	}
	return nil
}

func TestDefaulterRunsAfterDecode(t *testing.T) {
	t.Setenv("REDUND_TEST_DEFAULTED", "s3cret-value")
	for _, tt := range []struct {
		name, src string
		want      time.Duration
	}{
		{"unset", `secret_env = "REDUND_TEST_DEFAULTED"`, 10 * time.Second},
		{"given", "interval = \"3s\"\nsecret_env = \"REDUND_TEST_DEFAULTED\"", 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			var d defaulted
			if err := Check(path, &d); err != nil {
				t.Fatal(err)
			}
			if d.Interval.D() != tt.want {
				t.Errorf("interval = %v, want %v", d.Interval, tt.want)
			}
			if d.sawSecret.Reveal() != "s3cret-value" {
				t.Errorf("SetDefaults ran before the secret was resolved (saw %q)", d.sawSecret.Reveal())
			}
		})
	}
}
