package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
)

// configDaemon is a daemon named name on the config file path, logging
// into the returned buffer.
func configDaemon(t *testing.T, path, name string) (*daemon, *testutil.Buffer) {
	t.Helper()
	d, err := newDaemon(&globalOptions{ConfigPath: path, LogLevel: "debug", LogFormat: "text"}, name)
	if err != nil {
		t.Fatal(err)
	}
	buf := &testutil.Buffer{}
	if d.Log, err = logging.New(buf, "debug", "text", nil); err != nil {
		t.Fatal(err)
	}
	d.notify = newNotifier(d.Log)
	return d, buf
}

const reloadBase = `[admin]
voter = "127.0.0.1:9181"
ddns = "127.0.0.1:9182"

[voter.east]
listen = "127.0.0.1:1667"
password = "BLAH"

[voter.east.clients.a]
password = "a-pw"
`

func TestChangedKeys(t *testing.T) {
	dir := t.TempDir()
	read := func(src string) flatConfig {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := readFlat(p)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	old := read("[admin]\nvoter = \"a\"\nddns = \"b\"\n[voter.east]\nlisten = \"x\"\n[[voter.east.s]]\nn = 1\n[[voter.east.s]]\nn = 2\n[ddns.cat]\nname = \"c\"\n")
	for _, tt := range []struct {
		name, src string
		tables    []string
		want      []string
	}{
		{"same", "[voter.east]\nlisten = \"x\"\n[[voter.east.s]]\nn = 1\n[[voter.east.s]]\nn = 2\n[admin]\nddns = \"b\"\nvoter = \"a\"\n", schemeTables("voter serve"), nil},
		{"changed, added, removed, array element", "[admin]\nvoter = \"z\"\n[voter.east]\nlisten = \"y\"\nlinger = 3\n[[voter.east.s]]\nn = 1\n[[voter.east.s]]\nn = 5\n",
			schemeTables("voter serve"), []string{"admin.voter", "voter.east.linger", "voter.east.listen", "voter.east.s[1].n"}},
		{"another daemon's keys are not ours", "[admin]\nvoter = \"a\"\nddns = \"q\"\n[voter.east]\nlisten = \"x\"\n[[voter.east.s]]\nn = 1\n[[voter.east.s]]\nn = 2\n[ddns.cat]\nname = \"d\"\n",
			schemeTables("voter serve"), nil},
		{"the admin socket is every daemon's", "[admin]\nvoter = \"a\"\nddns = \"b\"\nsocket_dir = \"/run/redund\"\n[voter.east]\nlisten = \"x\"\n[[voter.east.s]]\nn = 1\n[[voter.east.s]]\nn = 2\n",
			schemeTables("voter serve"), []string{"admin.socket_dir"}},
		{"instance filter", "[voter.east]\nlisten = \"y\"\n[voter.west]\nlisten = \"w\"\n", []string{"voter.west"}, []string{"voter.west.listen"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := changedKeys(old, read(tt.src), tt.tables); !slices.Equal(got, tt.want) {
				t.Errorf("%s: changed %q, want %q", tt.name, got, tt.want)
			}
		})
	}
	if got := missingTables(old, read("[admin]\nvoter = \"a\"\n"), schemeTables("voter serve")); !slices.Equal(got, []string{"voter"}) {
		t.Errorf("missingTables = %q, want [voter]", got)
	}
}

// A bad config on reload: every problem is logged with file:line, and the
// comparison base stays the running config.
func TestReloadBadConfigKeepsOld(t *testing.T) {
	path := writeFile(t, "redund.toml", reloadBase)
	d, logs := configDaemon(t, path, "voter serve")
	bad := strings.Replace(reloadBase, `listen = "127.0.0.1:1667"`, "listen = \"nonsense\"\nlingr = 3", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	out := logs.String()
	for _, want := range []string{
		"config reload refused: still running on the old config", "problems=2",
		path + `:6: voter.east.listen: \"nonsense\" is not host:port`,
		path + ":7: voter.east.lingr: unknown key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "config reloaded") {
		t.Errorf("a refused config was reported as reloaded:\n%s", out)
	}
	// the next reload still compares with what runs
	good := strings.Replace(reloadBase, `password = "a-pw"`, `password = "b-pw"`, 1)
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	if out := logs.String(); !strings.Contains(out, "key=voter.east.clients.a.password at="+path+":10") ||
		strings.Contains(out, "key=voter.east.listen") {
		t.Errorf("second reload should report only the password, at its line:\n%s", out)
	}
	if err := os.WriteFile(path, []byte("[admin]\nvoter = \"127.0.0.1:9181\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	if out := logs.String(); !strings.Contains(out, path+": voter: this daemon runs on this table; the new config has none") {
		t.Errorf("a config without [voter] was not refused:\n%s", out)
	}
}

// A valid config: each changed key of this daemon is logged as needing a
// restart, others' keys are not; with a Reload hook the keys it applied
// are logged as applied and become the running config.
func TestReloadReportsChangedKeys(t *testing.T) {
	path := writeFile(t, "redund.toml", reloadBase)
	d, logs := configDaemon(t, path, "voter serve")
	next := strings.Replace(reloadBase, `password = "a-pw"`, "password = \"b-pw\"\ntransmit = true", 1)
	next = strings.Replace(next, `ddns = "127.0.0.1:9182"`, `ddns = "127.0.0.1:9999"`, 1)
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	out := logs.String()
	for _, want := range []string{
		"key=voter.east.clients.a.password at=" + path + ":10", "key=voter.east.clients.a.transmit at=" + path + ":11",
		"config key changed: restart to apply it\" key=", "changed=2 applied=0 need_restart=2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "applies no change live") {
		t.Errorf("every daemon has a reload hook; the log says one applies nothing live:\n%s", out)
	}
	if strings.Contains(out, "admin.ddns") || strings.Contains(out, "b-pw") {
		t.Errorf("another daemon's key, or a secret value, was logged:\n%s", out)
	}

	var gotChanged []string
	d.Reload = func(_ context.Context, f *fileConfig, changed []string) ([]string, error) {
		gotChanged = changed
		if f.Voter["east"].Clients["a"].Password.Reveal() != "b-pw" {
			return nil, errors.New("the hook did not get the new config")
		}
		return []string{"voter.east.clients.a.password", "not.a.changed.key"}, nil
	}
	d.reload(t.Context())
	out = logs.String()
	if !slices.Equal(gotChanged, []string{"voter.east.clients.a.password", "voter.east.clients.a.transmit"}) ||
		!strings.Contains(out, "config key applied\" key=voter.east.clients.a.password") ||
		!strings.Contains(out, "changed=2 applied=1 need_restart=1") {
		t.Errorf("hook got %q; log:\n%s", gotChanged, out)
	}
	d.Reload = func(context.Context, *fileConfig, []string) ([]string, error) { return nil, nil }
	d.reload(t.Context()) // the applied key is now the running one
	if out := logs.String(); !strings.HasSuffix(strings.TrimSpace(out), "changed=1 applied=0 need_restart=1") {
		t.Errorf("after applying, only transmit should still differ:\n%s", out)
	}
}

// A reload says what took effect: "config reloaded" only when every
// change is applied; otherwise a warning, and the READY=1 that ends the
// reload carries a STATUS= (what systemctl status shows) naming the
// config's sum, the keys that need a restart, or the refused reload with
// where its first problem is, never a value.
func TestReloadStatusSaysWhatRuns(t *testing.T) {
	sock := notifySocket(t)
	path := writeFile(t, "redund.toml", reloadBase)
	d, logs := configDaemon(t, path, "voter serve")
	startSum := d.sum
	if !strings.HasPrefix(startSum, "sha256:") || !strings.Contains(d.statusLine(), "config "+startSum) {
		t.Fatalf("sum %q, status %q", startSum, d.statusLine())
	}

	// every change needs a restart: not "reloaded"
	next := strings.Replace(reloadBase, `listen = "127.0.0.1:1667"`, `listen = "127.0.0.1:1668"`, 1)
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Reload = func(context.Context, *fileConfig, []string) ([]string, error) { return nil, nil }
	d.reload(t.Context())
	nextNotify(t, sock, "RELOADING=1")
	st := nextNotify(t, sock, "READY=1\nSTATUS=")
	if out := logs.String(); strings.Contains(out, "config reloaded") || !strings.Contains(out, "restart to apply the rest") {
		t.Errorf("a reload that applied nothing was logged as reloaded:\n%s", out)
	}
	if !strings.Contains(st, "1 changed key(s) need a restart (voter.east.listen)") ||
		!strings.Contains(st, "applied 0 of 1 changed keys") || strings.Contains(st, "1668") {
		t.Errorf("STATUS after a reload needing a restart: %q", st)
	}
	sum := d.sum
	if sum == startSum || !strings.Contains(st, "config "+sum) {
		t.Errorf("STATUS %q does not name the new file's sum %s (was %s)", st, sum, startSum)
	}

	// a bad file: refused, the status says so and where
	bad := strings.Replace(next, `password = "a-pw"`, `password = "a-pw"`+"\nlingr = 3", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	nextNotify(t, sock, "RELOADING=1")
	st = nextNotify(t, sock, "READY=1\nSTATUS=")
	if !strings.Contains(st, "refused (1 problem(s), the first at "+path+":11), still on the old config") ||
		!strings.Contains(st, "config "+sum) || strings.Contains(st, "lingr") {
		t.Errorf("STATUS after a refused reload: %q", st)
	}

	// every change applied: reloaded
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Reload = func(_ context.Context, _ *fileConfig, changed []string) ([]string, error) { return changed, nil }
	d.reload(t.Context())
	nextNotify(t, sock, "RELOADING=1")
	st = nextNotify(t, sock, "READY=1\nSTATUS=")
	if !strings.Contains(logs.String(), "config reloaded") || !strings.Contains(st, "; reloaded at ") ||
		strings.Contains(st, "need a restart") {
		t.Errorf("STATUS after a full reload: %q\n%s", st, logs)
	}
}

// A secret file whose content changed is a changed key at a reload (its
// K_file key): the scheme's hook gets it, and it is logged as applied or
// as needing a restart like any key, never its value. It used to be
// invisible ("nothing changed"), though a ddns or voter reload for another
// key of the same table would pick the new content up silently.
func TestReloadSeesSecretFileContent(t *testing.T) {
	pw := writeFile(t, "a.pw", "OLDSECRET\n")
	path := writeFile(t, "redund.toml", strings.Replace(reloadBase, `password = "a-pw"`, fmt.Sprintf("password_file = %q", pw), 1))
	d, logs := configDaemon(t, path, "voter serve")
	var got []string
	d.Reload = func(_ context.Context, _ *fileConfig, changed []string) ([]string, error) {
		got = changed
		return nil, nil
	}
	d.reload(t.Context()) // nothing changed
	if got != nil || !strings.Contains(logs.String(), "nothing changed for this daemon") {
		t.Fatalf("an unchanged file: hook got %q\n%s", got, logs)
	}
	if err := os.WriteFile(pw, []byte("NEWSECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t.Context())
	out := logs.String()
	if !slices.Equal(got, []string{"voter.east.clients.a.password_file"}) ||
		!strings.Contains(out, "key=voter.east.clients.a.password_file") || strings.Contains(out, "SECRET") {
		t.Errorf("a new secret file content: hook got %q\n%s", got, out)
	}
}
