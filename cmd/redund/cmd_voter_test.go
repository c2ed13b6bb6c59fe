package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/voter"
)

// TestVoterClientJSON: with --duration and --json the simulator prints one
// JSON summary per client, and it did send to the server; a server that
// never answers leaves them unconnected, which exits 1.
func TestVoterClientJSON(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a server that never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	out, code := runCLI(t, "voter", "client", "--server", pc.LocalAddr().String(), "--password", "c%d",
		"--host-password", "pw", "--count", "2", "--duration", "300ms", "--json")
	var got []struct {
		Name      string
		Connected bool
		Sent      int
	}
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = out[:i] // the JSON line; the error follows it
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitFailed {
		t.Fatalf("code %d, %v:\n%s", code, err, out)
	}
	if len(got) != 2 || got[0].Sent == 0 || got[0].Connected {
		t.Errorf("summary %+v, want 2 unconnected clients that sent", got)
	}
	if err := pc.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pc.ReadFrom(make([]byte, 2048)); err != nil {
		t.Errorf("the server got nothing: %v", err)
	}
}

// TestVoterImportRoundTrip: what `voter import` prints is a config that
// `config check` accepts; a malformed voter.conf exits 2 naming the line.
func TestVoterImportRoundTrip(t *testing.T) {
	conf := writeFile(t, "voter.conf", "[general]\nport = 1667\npassword = BLAH\n\n[1999]\nlinger = 8\n"+
		"site1 = site1pw,transmit\nsite2 = site2pw\n")
	out, code := runCLI(t, "voter", "import", conf)
	if code != exitOK || !strings.Contains(out, "[voter.1999.clients.site1]") {
		t.Fatalf("import: code %d:\n%s", code, out)
	}
	if out, code := runCLI(t, "config", "check", writeFile(t, "redund.toml", out)); code != exitOK || out != "ok\n" {
		t.Errorf("config check of the imported TOML: code %d:\n%s", code, out)
	}
	bad := writeFile(t, "bad.conf", "[general]\npassword = BLAH\n[1999]\nnot a key value line\n")
	if out, code := runCLI(t, "voter", "import", bad); code != exitUsage || !strings.Contains(out, "bad.conf:4: expected key = value") {
		t.Errorf("bad voter.conf: code %d, want 2 and the line:\n%s", code, out)
	}
}

// TestVoterClientAuthExitCode: against a real server, a client with the
// right passwords (and a master timing source) is connected and exits 0; a wrong client password or a
// wrong host password is not connected and exits 1.
func TestVoterClientAuthExitCode(t *testing.T) {
	addr := startTestVoter(t).Addr("main").String()
	for _, tc := range []struct {
		pw, host string
		code     int
	}{{"apw", "hostpw", exitOK}, {"wrong", "hostpw", exitFailed}, {"apw", "wrong", exitFailed}} {
		t.Run("password="+tc.pw+",host-password="+tc.host, func(t *testing.T) {
			out, code := runCLI(t, "voter", "client", "--server", addr, "--password", tc.pw, "--host-password", tc.host,
				"--master-password", "gpw", "--duration", "1500ms", "--json")
			if code != tc.code || strings.Contains(out, `"Connected":false`) != (tc.code != exitOK) {
				t.Errorf("--password %s --host-password %s: exit %d, want %d:\n%s", tc.pw, tc.host, code, tc.code, out)
			}
		})
	}
}

func TestVoterClientBadNumbersExit2(t *testing.T) {
	for _, args := range [][]string{
		{"voter", "client", "--password", "c%d", "--host-password", "h", "--count", "0"},
		{"voter", "client", "--password", "c%d", "--host-password", "h", "--count", "-3"},
		{"voter", "client", "--password", "c", "--host-password", "h", "--interval", "0s"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if out, code := runCLI(t, args...); code != exitUsage || !strings.Contains(out, "--count must be at least 1") {
				t.Errorf("%v: exit %d, out %q", args, code, out)
			}
		})
	}
}

// TestVoterClientPasswordsOutOfArgs: the passwords can come from files or
// the environment instead of the command line (where ps shows them); a
// password given both as a flag and a file, or an empty file, is a usage
// error.
func TestVoterClientPasswordsOutOfArgs(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw, host, master, empty := file("pw", "apw\n"), file("host", "hostpw\r\nignored\n"), file("gps", "gpw"), file("empty", "\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"files", nil, []string{"--password-file", pw, "--host-password-file", host, "--master-password-file", master}, exitOK, `"Connected":true`},
		{"env", map[string]string{"REDUND_VOTER_PASSWORD": "apw", "REDUND_VOTER_HOST_PASSWORD": "hostpw",
			"REDUND_VOTER_MASTER_PASSWORD": "gpw"}, nil, exitOK, `"Connected":true`},
		{"flag-and-file", nil, []string{"--password", "apw", "--password-file", pw, "--host-password", "hostpw"}, exitUsage,
			"--password and --password-file both given"},
		{"empty-file", nil, []string{"--password-file", empty, "--host-password", "hostpw"}, exitUsage, "empty first line"},
		{"missing-file", nil, []string{"--password", "apw", "--host-password-file", filepath.Join(dir, "none")}, exitUsage,
			"--host-password-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			// A server per case: each run is a new client process on new
			// ports, and a server follows a connected client to another
			// address only after 2 s without packets from the old one.
			addr := startTestVoter(t).Addr("main").String()
			run := []string{"voter", "client", "--server", addr, "--duration", "1500ms", "--json"}
			out, code := runCLI(t, append(run, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.want) || (tc.code == exitOK && strings.Contains(out, `"Connected":false`)) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, out)
			}
		})
	}
}

// startTestVoter runs a VOTER server (instance "main", host password
// "hostpw") with a client "alice" (password "apw") and a master timing
// source "gps" ("gpw") until the test ends.
func startTestVoter(t *testing.T) *voter.Server {
	t.Helper()
	s, err := voter.New(map[string]*voter.Config{"main": {Listen: "127.0.0.1:0", Password: "hostpw", Buflen: 160,
		Clients: map[string]*voter.ClientConfig{"alice": {Password: "apw"},
			"gps": {Password: "gpw", Master: true}}}}, voter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}
