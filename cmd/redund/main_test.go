package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/config"
)

// runCLI runs the app in-process and returns stdout and the exit code main
// would use.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := run(context.Background(), app, append([]string{"redund"}, args...))
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String(), exitCode(err)
}

// serveTCP accepts connections on a loopback port until the test ends and
// gives each to handle, then closes it. It returns the address.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigCheck(t *testing.T) {
	good := writeFile(t, "good.toml", "[admin]\nlisten = \"127.0.0.1:9180\"\n")
	out, code := runCLI(t, "config", "check", good)
	if code != exitOK || strings.TrimSpace(out) != "ok" {
		t.Fatalf("good config: code %d, out %q", code, out)
	}
	bad := writeFile(t, "bad.toml", "[admin]\nlisten = \"127.0.0.1:9180\"\nlisen = \"x\"\nvoter = \"nope\"\n")
	out, code = runCLI(t, "--config", bad, "config", "check")
	if code != exitUsage {
		t.Fatalf("bad config: code %d, want 2; out %q", code, out)
	}
	for _, want := range []string{"bad.toml:3: admin.lisen: unknown key", "bad.toml:4: admin.voter:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	out, code = runCLI(t, "config", "check", filepath.Join(t.TempDir(), "missing.toml"))
	if code != exitUsage || !strings.Contains(out, "cannot read config") {
		t.Fatalf("missing file: code %d, out %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	if _, code := runCLI(t, "config", "check", "a", "b"); code != exitUsage {
		t.Fatalf("too many args: code %d", code)
	}
	if _, code := runCLI(t, "--no-such-flag"); code != exitUsage {
		t.Fatalf("unknown flag: code %d", code)
	}
	for args, want := range map[string]string{
		"frobnicate":          `unknown command "frobnicate" (see redund --help)`,
		"srv frob":            `srv: unknown command "frob" (see redund srv --help)`,
		"gateway config frob": `gateway config: unknown command "frob" (see redund gateway config --help)`,
		"help frob":           `No help topic for 'frob'`,
		"voter client":        `voter client: --password and --host-password are required`,
	} {
		t.Run(args, func(t *testing.T) {
			if out, code := runCLI(t, strings.Fields(args)...); code != exitUsage || !strings.Contains(out, want) {
				t.Errorf("%s: code %d, out %q; want exit 2 and %q", args, code, out, want)
			}
		})
	}
	// a group alone shows its help
	if out, code := runCLI(t, "gateway", "config"); code != exitOK || !strings.Contains(out, "import") {
		t.Errorf("gateway config: code %d, out %q; want its help", code, out)
	}
}

// TestLogFlagsCheckedEverywhere: --log-level verbose is refused by status
// as by the daemons, with exit 2 and the accepted words.
func TestLogFlagsCheckedEverywhere(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"--log-level", "verbose", "status", "--json"}},
		{[]string{"--log-format", "yaml", "status", "--json"}},
		{[]string{"--log-level", "verbose", "srv", "gen"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(out, "use debug, info, warn or error") && !strings.Contains(out, "use text or json") {
				t.Errorf("%v: exit %d, output %q; want 2 and the accepted values", tc.args, code, out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, code := runCLI(t, "version")
	if code != exitOK || !regexp.MustCompile(`^redund \S+ \(revision \S+, go1\.\d+`).MatchString(out) {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestHelpListsCommands(t *testing.T) {
	out, _ := runCLI(t, "--help")
	for _, c := range []string{"version", "config", "check", "status", "voter", "srv", "ddns", "gateway", "schedsync"} {
		if !regexp.MustCompile(`(?m)^\s+` + c + `\b`).MatchString(out) {
			t.Errorf("--help does not list %q:\n%s", c, out)
		}
	}
}

// TestSharedExampleChecksOK: the README's first command prints ok as written.
func TestSharedExampleChecksOK(t *testing.T) {
	out, code := runCLI(t, "config", "check", "../../docs/examples/redund.toml")
	if code != exitOK || strings.TrimSpace(out) != "ok" {
		t.Fatalf("code %d, out %q", code, out)
	}
}

// TestHelpTeaches: every flag says what it does, and every command that
// runs something documents its exit status (in its own help or its
// group's).
func TestHelpTeaches(t *testing.T) {
	var walk func(cmds []*cli.Command, exitDoc bool)
	walk = func(cmds []*cli.Command, exitDoc bool) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if u, ok := f.(cli.DocGenerationFlag); ok && u.GetUsage() == "" {
					t.Errorf("%s: flag --%s has no usage text", c.FullName(), f.Names()[0])
				}
			}
			if len(c.Subcommands) > 0 && c.Description == "" {
				t.Errorf("%s: a command group without a description", c.FullName())
			}
			// a group may claim the generic meaning of 1 only when every
			// one of its commands means that by it
			if len(c.Subcommands) > 0 && strings.Contains(c.Description, exitStatusHelp) {
				for _, sc := range c.Subcommands {
					if sc.Description != "" && !strings.Contains(sc.Description, exitStatusHelp) {
						t.Errorf("%s: the group's EXIT STATUS says what %s does not", c.FullName(), sc.FullName())
					}
				}
			}
			documented := exitDoc || strings.Contains(c.Description, "EXIT STATUS")
			if len(c.Subcommands) == 0 && !documented && c.Name != "version" {
				t.Errorf("%s: --help has no EXIT STATUS section", c.FullName())
			}
			walk(c.Subcommands, documented)
		}
	}
	walk(newApp().Commands, false)
}

// TestWrongArgCountExit2: a wrong number of arguments is a usage error
// (exit 2) naming the command, before any config is read or request made.
func TestWrongArgCountExit2(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	for _, tt := range []struct {
		cmd  string
		args []string
	}{
		{"config check", []string{"a", "b"}},
		{"status", []string{"extra"}},
		{"voter serve", []string{"extra"}},
		{"voter client", []string{"--password", "p", "--host-password", "h", "extra"}},
		{"voter import", nil},
		{"srv gen", []string{"extra"}},
		{"srv order", nil},
		{"srv check", []string{"extra"}},
		{"srv push", []string{"extra"}},
		{"ddns run", []string{"extra"}},
		{"ddns maintenance", []string{"cat", "main"}},
		{"ddns propagation", []string{"cat", "dog"}},
		{"schedsync run", []string{"extra"}},
		{"schedsync resync", []string{"extra"}},
		{"schedsync status", []string{"extra"}},
		{"gateway run", []string{"extra"}},
		{"gateway failover", []string{"extra"}},
		{"gateway status", []string{"extra"}},
		{"gateway fingerprint", nil},
		{"gateway config set", []string{"key"}},
		{"gateway config export", []string{"extra"}},
		{"gateway config get", nil},
		{"gateway config import", []string{"a", "b"}},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			args := append(append([]string{"--config", missing}, strings.Fields(tt.cmd)...), tt.args...)
			out, code := runCLI(t, args...)
			want := "\n" + tt.cmd + ": wrong number of arguments (see --help)"
			if code != exitUsage || !strings.Contains("\n"+out, want) {
				t.Errorf("%s %q: code %d, output %q; want exit %d and %q", tt.cmd, tt.args, code, out, exitUsage, want[1:])
			}
		})
	}
}

// TestExitCode: the one mapping from errors to exit statuses.
func TestExitCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{context.Canceled, exitOK}, // Ctrl-C
		{fmt.Errorf("srv: %w", context.Canceled), exitOK},
		{errors.New("srv: server refused"), exitFailed},
		{failed(nil), exitFailed},
		{usageErr("bad flag"), exitUsage},
		{config.Errors{{File: "r.toml", Line: 3, Path: "admin.x", Msg: "unknown key"}}, exitUsage},
		{fmt.Errorf("load: %w", &config.FieldError{Path: "srv.domain", Msg: "is required"}), exitUsage},
		{&exitError{code: exitFailed, err: config.Errors{}}, exitFailed}, // the explicit code wins
		{cli.Exit("No help topic for 'x'", 3), exitUsage},                // urfave/cli's
	} {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// TestSuggestions: a misspelt command or flag gets the nearest one; nonsense
// gets no guess.
func TestSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, `unknown command "stauts"; did you mean "status"?`},
		{[]string{"gateway", "stauts"}, `gateway: unknown command "stauts"; did you mean "status"?`},
		{[]string{"status", "--endpont", "x"}, "did you mean --endpoint?"},
		{[]string{"gateway", "run", "-c", "a.toml"}, "-c is an option of redund itself: give it before the command (redund -c ... gateway run)"},
		{[]string{"status", "--log-level", "debug"}, "--log-level is an option of redund itself: give it before the command (redund --log-level ... status)"},
		{[]string{"frobnicate"}, `unknown command "frobnicate" (see redund --help)`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("%v: exit %d, output %q; want 2 and %q", tc.args, code, out, tc.want)
			}
		})
	}
}

// TestConfigCheckRedirectsNote: config check names an HTTP check that does
// not set redirects (its default changed: docs/check.md, "Upgrading"), as
// a note that leaves the file valid.
func TestConfigCheckRedirectsNote(t *testing.T) {
	path := writeFile(t, "ddns.toml", `[ddns.www]
name = "www.example.com"
[ddns.www.provider]
kind = "rfc2136"
server = "192.0.2.53:53"
zone = "example.com"
[[ddns.www.servers]]
name = "a"
address = "192.0.2.10"
priority = 20
[ddns.www.servers.check]
kind = "http"
url = "http://192.0.2.10/health"
[[ddns.www.servers]]
name = "b"
address = "192.0.2.20"
priority = 10
[ddns.www.servers.check]
kind = "http"
url = "http://192.0.2.20/health"
redirects = "follow"
`)
	out, code := runCLI(t, "config", "check", path)
	if code != exitOK || !strings.HasSuffix(out, "\nok\n") {
		t.Fatalf("code %d, out %q; want ok", code, out)
	}
	want := "note: " + path + ":11: ddns.www.servers[0].check: redirects not set: a redirect to another host"
	if !strings.HasPrefix(out, want) || strings.Count(out, "note:") != 1 {
		t.Errorf("out %q, want one note, for servers[0]: %q", out, want)
	}
}

// TestConfigCheckEchoAndManyNotes: a TCP check whose expect is part of its
// send passes on anything that echoes, so config check notes it; and past
// maxNotesPerKind checks of one kind the notes are folded into one count,
// so a config with many servers does not bury its warnings.
func TestConfigCheckEchoAndManyNotes(t *testing.T) {
	var b strings.Builder
	b.WriteString("[ddns.www]\nname = \"www.example.com\"\n[ddns.www.provider]\nkind = \"rfc2136\"\n" +
		"server = \"192.0.2.53:53\"\nzone = \"example.com\"\n")
	b.WriteString("[[ddns.www.servers]]\nname = \"echo\"\naddress = \"192.0.2.9\"\npriority = 1\n" +
		"[ddns.www.servers.check]\nkind = \"tcp\"\naddress = \"192.0.2.9:6379\"\nsend = \"PING\\r\\n\"\nexpect = \"PING\"\n")
	b.WriteString("[[ddns.www.servers]]\nname = \"redis\"\naddress = \"192.0.2.8\"\npriority = 2\n" +
		"[ddns.www.servers.check]\nkind = \"tcp\"\naddress = \"192.0.2.8:6379\"\nsend = \"PING\\r\\n\"\nexpect = \"+PONG\"\n")
	for i := 0; i < 6; i++ {
		fmt.Fprintf(&b, "[[ddns.www.servers]]\nname = \"h%d\"\naddress = \"192.0.2.%d\"\npriority = %d\n"+
			"[ddns.www.servers.check]\nkind = \"http\"\nurl = \"http://192.0.2.%d/\"\n", i, 20+i, 3+i, 20+i)
	}
	path := writeFile(t, "ddns.toml", b.String())
	out, code := runCLI(t, "config", "check", path)
	if code != exitOK || !strings.HasSuffix(out, "\nok\n") {
		t.Fatalf("code %d, out %q; want ok", code, out)
	}
	if !strings.Contains(out, "ddns.www.servers[0].check: expect is part of send") {
		t.Errorf("no echo note for servers[0]:\n%s", out)
	}
	if strings.Contains(out, "ddns.www.servers[1].check") {
		t.Errorf("a note for servers[1], whose expect is the service's own answer:\n%s", out)
	}
	if n := strings.Count(out, "redirects not set"); n != maxNotesPerKind {
		t.Errorf("%d redirect notes, want %d one by one:\n%s", n, maxNotesPerKind, out)
	}
	if !strings.Contains(out, "ddns.www.servers[5].check: and 3 more checks after it") {
		t.Errorf("no folded note for the other 3 HTTP checks:\n%s", out)
	}
}
