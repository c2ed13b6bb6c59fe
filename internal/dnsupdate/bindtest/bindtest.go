// Package bindtest starts a real BIND9 (Debian package bind9) for tests:
// one primary zone on a free loopback port that accepts RFC 2136 updates
// signed with a fresh hmac-sha256 TSIG key.
//
// How named is run, and why:
//   - `named -g -c named.conf` in the foreground, everything (config, zone,
//     journal, pid file, session key) inside t.TempDir(), so nothing under
//     /etc/bind or /run/named is read or written. -g logs to stderr, which
//     is kept in the temp dir and shown when start-up fails.
//   - As root, named keeps running as root when no -u is given; this works
//     in containers and from any directory that root can write, including
//     t.TempDir(). (With -u bind, the bind user would need write access to
//     the temp dir for the journal, which t.TempDir()'s 0700 mode denies.)
//     As an ordinary user named runs as that user; nothing needs root
//     because the port is unprivileged.
//   - `controls { };` disables rndc (otherwise named reads /etc/bind/rndc.key).
//   - The key is generated in Go (32 random bytes, base64), the same as
//     `tsig-keygen -a hmac-sha256 ddns-key.` prints, so tsig-keygen is not needed.
package bindtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/testutil"
)

// KeyName is the TSIG key name every Server uses.
const KeyName = "ddns-key."

// startTimeout bounds how long named may take to answer its first query.
const startTimeout = 20 * time.Second

// Server is a running named.
type Server struct {
	Addr      string // 127.0.0.1:port, UDP and TCP
	Zone      string // fully qualified zone name
	KeyName   string // TSIG key name ("ddns-key.")
	KeySecret string // base64 hmac-sha256 secret
	Dir       string // working directory (named.conf, zone file, journal, named.log)

	cmd     *exec.Cmd
	log     *testutil.Buffer
	done    chan struct{}
	forward string // StartForwarder: the upstream 127.0.0.1:port
}

// Binary returns the path of named, or "" when BIND is not installed.
func Binary() string {
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/named", "/usr/local/sbin/named"} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Need skips the test when named is absent, or fails it when
// REDUND_INTEGRATION=1 says the integration tests must run.
func Need(t testing.TB) string {
	t.Helper()
	p := Binary()
	if p != "" {
		return p
	}
	msg := "BIND9 named not found on PATH or in /usr/sbin; install it with `apt-get install -y bind9 bind9-utils bind9-dnsutils`"
	if os.Getenv("REDUND_INTEGRATION") == "1" {
		t.Fatalf("%s (REDUND_INTEGRATION=1 requires it)", msg)
	}
	t.Skip(msg)
	return ""
}

// Start starts named serving zone with the given records (master-file
// lines relative to the zone, e.g. "www 300 IN A 192.0.2.1") besides a
// generated SOA, NS and ns A record. It waits until the zone answers SOA
// and stops named in t.Cleanup.
func Start(t testing.TB, zone string, records ...string) *Server {
	t.Helper()
	bin := Need(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		s, err := start(t, bin, dns.Fqdn(strings.ToLower(zone)), records)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("bindtest: %v", lastErr)
	return nil
}

// StartForwarder starts named as a caching recursive resolver that
// forwards every query to upstream (a Server): its answers come from its
// cache, without the AA flag, as a site's resolver gives them. It waits
// until upstream's zone answers through it.
func StartForwarder(t testing.TB, upstream *Server) *Server {
	t.Helper()
	bin := Need(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin, upstream.Zone, nil, upstream.Addr)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("bindtest: forwarder: %v", lastErr)
	return nil
}

func start(t testing.TB, bin, zone string, records []string, forward ...string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Zone: zone, KeyName: KeyName,
		KeySecret: newSecret(), Dir: t.TempDir(), log: &testutil.Buffer{}, done: make(chan struct{}),
	}
	if len(forward) > 0 {
		s.forward = forward[0]
	}
	if err := s.writeFiles(port, records); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-g", "-c", filepath.Join(s.Dir, "named.conf"))
	s.cmd.Dir = s.Dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start named: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// waitReady polls SOA over UDP until named answers for the zone, exits,
// or the deadline passes.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(s.Zone, dns.TypeSOA)
	m.RecursionDesired = s.forward != ""
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("named exited during start-up:\n%s", s.Log())
		default:
		}
		if strings.Contains(s.Log(), "address in use") { // lost the port to another process: retry on a new one
			return fmt.Errorf("named could not bind %s:\n%s", s.Addr, s.Log())
		}
		r, _, err := c.Exchange(m, s.Addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && (r.Authoritative || s.forward != "") && len(r.Answer) > 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a readiness wait
	}
	return fmt.Errorf("named did not answer SOA %s at %s within %s:\n%s", s.Zone, s.Addr, startTimeout, s.Log())
}

// Log returns what named has written to stderr so far.
func (s *Server) Log() string { return s.log.String() }

// ZoneFile is the path of the zone's master file.
func (s *Server) ZoneFile() string { return filepath.Join(s.Dir, "db.zone") }

func (s *Server) writeFiles(port int, records []string) error {
	if s.forward != "" {
		return s.writeForwarderConf(port)
	}
	conf := s.options(port, "\trecursion no;\n\tnotify no;\n") + fmt.Sprintf(`key %q {
	algorithm hmac-sha256;
	secret %q;
};
zone %q {
	type primary;
	file "db.zone";
	allow-update { key %q; };
};
`, s.KeyName, s.KeySecret, strings.TrimSuffix(s.Zone, "."), s.KeyName)
	zone := fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n%s\n",
		s.Zone, strings.Join(records, "\n"))
	if err := os.WriteFile(filepath.Join(s.Dir, "named.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	return os.WriteFile(s.ZoneFile(), []byte(zone), 0o644)
}

func (s *Server) writeForwarderConf(port int) error {
	host, upPort, err := net.SplitHostPort(s.forward)
	if err != nil {
		return err
	}
	conf := s.options(port, fmt.Sprintf("\trecursion yes;\n\tallow-recursion { 127.0.0.1; };\n\tforward only;\n\tforwarders { %s port %s; };\n", host, upPort))
	return os.WriteFile(filepath.Join(s.Dir, "named.conf"), []byte(conf), 0o644)
}

// options is named.conf's options block (with extra, lines of its own)
// and an empty controls block: files in s.Dir, loopback on port only.
func (s *Server) options(port int, extra string) string {
	return fmt.Sprintf(`options {
	directory %q;
	pid-file %q;
	session-keyfile %q;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	dnssec-validation no;
%s};
controls { };
`, s.Dir, filepath.Join(s.Dir, "named.pid"), filepath.Join(s.Dir, "session.key"), port, extra)
}

// freePort finds a loopback port free for both UDP and TCP.
func freePort() (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free loopback port for both UDP and TCP")
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// CheckZone runs named-checkzone on file for zone and returns its output;
// the test is skipped (or failed under REDUND_INTEGRATION=1) when
// named-checkzone is not installed (Debian package bind9-utils).
func CheckZone(t testing.TB, zone, file string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("named-checkzone")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/named-checkzone"); e == nil {
			bin = "/usr/sbin/named-checkzone"
		} else if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("named-checkzone not found (apt-get install -y bind9-utils); REDUND_INTEGRATION=1 requires it")
		} else {
			t.Skip("named-checkzone not found; install it with `apt-get install -y bind9-utils`")
		}
	}
	out, err := exec.Command(bin, zone, file).CombinedOutput()
	return string(out), err
}
