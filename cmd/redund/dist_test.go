package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitFile reads a systemd unit's [Service] settings (key → values).
func unitFile(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '[':
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			m[k] = append(m[k], v)
		}
	}
	return m
}

// Each daemon has a unit that runs one of this CLI's daemon commands as
// the redund user, is Type=notify with a reload, and is hardened; only a
// unit whose default port is below 1024 may keep CAP_NET_BIND_SERVICE (no
// daemon's is: voter's default is 1667).
func TestUnitFiles(t *testing.T) {
	want := map[string]string{"voter": "voter serve", "ddns": "ddns run", "gateway": "gateway run", "schedsync": "schedsync run"}
	app := newApp()
	for scheme, command := range want {
		path := filepath.Join("..", "..", "dist", "systemd", "redund-"+scheme+".service")
		u := unitFile(t, path)
		// The file is REDUND_CONFIG's, so that a drop-in's
		// Environment=REDUND_CONFIG=... (docs/service.md) takes effect: a
		// --config in ExecStart would beat it.
		exec := strings.Join(u["ExecStart"], " ")
		if exec != "/usr/bin/redund "+command {
			t.Errorf("%s: ExecStart=%s, want /usr/bin/redund %s (no --config)", path, exec, command)
		}
		if !slices.Equal(u["Environment"], []string{"REDUND_CONFIG=/etc/redund/redund.toml"}) {
			t.Errorf("%s: Environment=%q", path, u["Environment"])
		}
		// systemctl reload fails on a bad file, before the daemon is told.
		if want := []string{"/usr/bin/redund config check", "/bin/kill -HUP $MAINPID"}; !slices.Equal(u["ExecReload"], want) {
			t.Errorf("%s: ExecReload=%q, want %q", path, u["ExecReload"], want)
		}
		words := strings.Fields(command)
		if c := app.Command(words[0]); c == nil || c.Command(words[1]) == nil {
			t.Errorf("%s: redund has no command %q", path, command)
		}
		for k, v := range map[string]string{
			"Type": "notify", "User": "redund", "Group": "redund",
			"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
			"CapabilityBoundingSet": "", "AmbientCapabilities": "", "NotifyAccess": "main",
			// /run/redund for [admin] socket_dir: 0755 (the daemon refuses a
			// directory others may write to), kept while another unit uses it
			"RuntimeDirectory": "redund", "RuntimeDirectoryMode": "0755", "RuntimeDirectoryPreserve": "yes",
		} {
			if !slices.Equal(u[k], []string{v}) {
				t.Errorf("%s: %s=%q, want %q", path, k, u[k], v)
			}
		}
		for _, k := range []string{"StateDirectory", "RestrictAddressFamilies", "SystemCallFilter", "WatchdogSec"} {
			if len(u[k]) == 0 {
				t.Errorf("%s: no %s", path, k)
			}
		}
	}
	units, _ := filepath.Glob(filepath.Join("..", "..", "dist", "systemd", "*"))
	if len(units) != len(want) {
		t.Errorf("dist/systemd has %d files, want the %d units: %v", len(units), len(want), units)
	}
}

// REDUND_CONFIG names the config file when --config is not given (what the
// units rely on), and --config beats it.
func TestConfigFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	env, flag := filepath.Join(dir, "env.toml"), filepath.Join(dir, "flag.toml")
	t.Setenv("REDUND_CONFIG", env)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"environment", []string{"redund", "config", "check"}, env},
		{"flag", []string{"redund", "--config", flag, "config", "check"}, flag},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut strings.Builder
			app := newApp()
			app.Writer, app.ErrWriter = &out, &errOut
			_ = app.Run(tc.args)
			if !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("config check read another file than %s:\n%s%s", tc.want, &out, &errOut)
			}
		})
	}
}

// config check warns (exit 0, ok still printed) about a secret every user
// of the machine may read, naming file, line and key but not the value.
func TestConfigCheckWarnsOfOpenSecret(t *testing.T) {
	path := writeFile(t, "redund.toml", "[admin]\nlisten = \"127.0.0.1:9181\"\ntoken = \"TOKENVALUE-0123456789abcdef\"\n")
	for _, tc := range []struct {
		name string
		mode os.FileMode
		warn bool
	}{{"private", 0o640, false}, {"open to others", 0o644, true}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			out, code := runCLI(t, "config", "check", path)
			want := "warning: " + path + ":3: admin.token: a secret is written in the file and every user may read it (mode 0644)"
			if code != 0 || !strings.HasSuffix(out, "ok\n") || strings.Contains(out, "TOKENVALUE") ||
				strings.Contains(out, want) != tc.warn {
				t.Errorf("code %d, warning expected %v:\n%s", code, tc.warn, out)
			}
		})
	}
}
