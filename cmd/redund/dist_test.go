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
		exec := strings.Join(u["ExecStart"], " ")
		if exec != "/usr/bin/redund --config /etc/redund/redund.toml "+command {
			t.Errorf("%s: ExecStart=%s", path, exec)
		}
		words := strings.Fields(command)
		if c := app.Command(words[0]); c == nil || c.Command(words[1]) == nil {
			t.Errorf("%s: redund has no command %q", path, command)
		}
		for k, v := range map[string]string{
			"Type": "notify", "ExecReload": "/bin/kill -HUP $MAINPID", "User": "redund", "Group": "redund",
			"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
			"CapabilityBoundingSet": "", "AmbientCapabilities": "", "NotifyAccess": "main",
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
