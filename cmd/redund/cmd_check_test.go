package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestCheckHTTP(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "status=OK host=%s", r.Host)
	}))
	t.Cleanup(s.Close)
	addr := strings.TrimPrefix(s.URL, "http://")
	tests := []struct {
		args []string
		code int
		out  string // regexp
	}{
		{[]string{s.URL + "/"}, exitOK, `^OK \d+\.\dms HTTP 200\n$`},
		{[]string{"--musthave", "host=web.example.test", "--addr", addr, "http://web.example.test/"}, exitOK, `^OK .* HTTP 200`},
		{[]string{"http://web.example.test/", "--addr", addr, "--musthave=status=OK"}, exitOK, `^OK .* HTTP 200`},
		{[]string{s.URL + "/down"}, exitFailed, `^ERR \d+\.\dms HTTP 503\n`},
		{[]string{s.URL + "/down", "--status", "503"}, exitOK, `^OK .* HTTP 503`},
		{[]string{s.URL + "/", "--musthave", "nope"}, exitFailed, `^ERR .* musthave "nope" not found in first 65536 bytes`},
		{[]string{}, exitUsage, `check http: wrong number of arguments`},
		{[]string{s.URL, "--status"}, exitUsage, `flag needs an argument`},
		{[]string{"--status", "99", s.URL}, exitUsage, `status: status "99"`},
		{[]string{"ftp://x/"}, exitUsage, `URL: "ftp://x/": scheme must be http or https`},
		{[]string{s.URL, "--nope", "1"}, exitUsage, `flag provided but not defined: -nope`},
		{[]string{s.URL, "--timeout", "0s"}, exitUsage, `check http: --timeout must be more than 0`},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer(s.URL, "URL", addr, "ADDR").Replace(strings.Join(tt.args, " ")), func(t *testing.T) {
			out, code := runCLI(t, append([]string{"check", "http"}, tt.args...)...)
			if code != tt.code || !regexp.MustCompile(tt.out).MatchString(out) {
				t.Errorf("check http %q: code %d, out %q; want code %d, out matching %s", tt.args, code, out, tt.code, tt.out)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	out, code := runCLI(t, "check", "tcp", addr, "--json")
	var got struct {
		OK        bool    `json:"ok"`
		State     string  `json:"state"`
		Reason    string  `json:"reason"`
		LatencyMS float64 `json:"latency_ms"`
	}
	line, _, _ := strings.Cut(out, "\n") // runCLI appends the error text
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if code != exitFailed || got.OK || got.State != "ERR" || got.Reason != "connect: connection refused" {
		t.Errorf("code %d, %+v", code, got)
	}
}

func TestCheckTCPSendExpect(t *testing.T) {
	addr := serveTCP(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if string(buf[:n]) == "PING\r\n" { // --send unescapes \r\n
			_, _ = c.Write([]byte("+PONG\r\n"))
		}
	})
	out, code := runCLI(t, "check", "tcp", addr, "--send", `PING\r\n`, "--expect", "+PONG")
	if code != exitOK || !strings.HasPrefix(out, "OK ") {
		t.Errorf("code %d, out %q", code, out)
	}
}

func TestCheckExecAndDNS(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"exec", "--", "sh", "-c", "echo all good"}, exitOK, "all good\n"},
		{[]string{"exec", "--", "sh", "-c", "echo broken; exit 2"}, exitFailed, "exit status 2: broken\n"},
		{[]string{"exec", "--timeout", "200ms", "--", "sleep", "5"}, exitFailed, "timeout after 200ms\n"},
		{[]string{"exec"}, exitUsage, "no command given"},
		{[]string{"dns", "www.example.test"}, exitUsage, "server: missing"},
		{[]string{"dns", "--server", "127.0.0.1:53", "a", "A", "extra"}, exitUsage, "wrong number of arguments"},
		{[]string{"dns", "--server", "127.0.0.1:53", "www.example.test", "BOGUS"}, exitUsage, `TYPE: "BOGUS"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code := runCLI(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Errorf("check %q: code %d, out %q; want code %d and %q", tt.args, code, out, tt.code, tt.out)
			}
		})
	}
}

// TestCheckErrorsNameFlags: a bad check speaks of the flag or argument the
// user gives, not the config key ("health: server: missing").
func TestCheckErrorsNameFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "dns", "www.example.test"}, "check dns: --server: missing"},
		{[]string{"check", "http", "--method", "PUT", "http://x/"}, `check http: --method: "PUT" is not GET or HEAD`},
		{[]string{"check", "http", "--max-bytes", "-1", "http://x/"}, "check http: --max-bytes: must not be negative"},
		{[]string{"check", "http", "ftp://x/"}, "check http: URL:"},
		{[]string{"check", "http", "--redirects", "always", "http://x/"}, `check http: --redirects: "always" is not one of same-host, follow, none`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, code := runCLI(t, tc.args...)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Errorf("%v: exit %d, output %q; want 2 and %q", tc.args, code, out, tc.want)
			}
		})
	}
}
