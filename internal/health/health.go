// Package health probes things (HTTP, TCP, DNS, a command) and turns the
// results into a state with hysteresis.
//
// A Config, written in TOML inside another table, becomes a Checker with New.
// A Checker runs one probe and returns a Result. A Monitor runs a Checker on an
// interval with jitter, never more than one probe at a time, and moves its
// State from UNKNOWN to OK or ERR after `rise` consecutive successes or `fall`
// consecutive failures; subscribers get every change on a channel.
package health

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/text"
)

// Defaults used when a Config leaves a key unset.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultMaxBytes = 64 << 10
	maxReason       = 200 // bytes of command output kept as a reason
	// maxReasonLen bounds a whole reason: what a server sent (a
	// certificate's names in crypto/tls's error) can make one long
	maxReasonLen = 512
)

// Config is a health check as written in TOML (embedded in other tables, e.g.
// [ddns.cat.servers.check]). Only the keys of its Kind may be set.
type Config struct {
	Kind string `toml:"kind"` // http, tcp, dns, exec

	// http
	URL         string   `toml:"url"`
	Method      string   `toml:"method"`      // GET (default) or HEAD
	Status      []string `toml:"status"`      // e.g. ["200","301-302"]; default 200-399 after redirects
	MustHave    string   `toml:"musthave"`    // substring required in the first MaxBytes of the body
	MustNotHave string   `toml:"mustnothave"` // substring forbidden in the first MaxBytes of the body
	MaxBytes    int      `toml:"max_bytes"`   // default 65536
	Addr        string   `toml:"addr"`        // connect to this IP:port (or IP, URL's port), keep URL host for Host header and TLS SNI
	Insecure    bool     `toml:"insecure"`    // skip TLS certificate verification
	KeepAlive   bool     `toml:"keepalive"`   // reuse one connection from probe to probe (default: a new one each probe)
	Redirects   string   `toml:"redirects"`   // which redirects to follow: same-host (default), follow, none

	// tcp
	Address string `toml:"address"` // host:port to connect to
	Send    string `toml:"send"`    // written after connecting
	Expect  string `toml:"expect"`  // substring the reply must contain

	// dns
	Server string `toml:"server"` // host or host:port (default port 53)
	Name   string `toml:"name"`   // name to query
	Type   string `toml:"type"`   // A, AAAA, CNAME, TXT, SRV, MX, NS, PTR (default A)
	Value  string `toml:"value"`  // optional: one answer must have this value

	// exec
	Command []string `toml:"command"` // program and arguments, run without a shell

	// all
	Timeout config.Duration `toml:"timeout"` // default 3s
}

// Result is the outcome of one probe.
type Result struct {
	OK      bool
	Reason  string        // short human text: "HTTP 503", "connect: connection refused"
	Latency time.Duration // time the probe took
	Time    time.Time     // when the probe started
	// ReadLate: the prober read the answer only after the timeout (it was
	// short of CPU), but the kernel had received it in time, so it counts
	// (HTTP); Latency is then until the answer arrived.
	ReadLate bool
}

// Checker runs one probe. Check returns when the probe is done, its timeout
// has passed or ctx is done, whichever comes first.
type Checker interface {
	Check(ctx context.Context) Result
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context) Result

// Check calls f.
func (f CheckerFunc) Check(ctx context.Context) Result { return f(ctx) }

// SetDefaults fills in every key the check leaves unset that its kind
// uses: timeout (3s) for all; method (GET) and max_bytes (65536) for http;
// type (A) for dns. The table that holds the check calls it from its own
// SetDefaults (once, after decoding); New and Probes.Add call it on their
// copy for a Config built in code. status stays unset (200-399 after
// redirects): the default is a rule, not a list.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	switch c.Kind {
	case "http":
		if c.Method == "" {
			c.Method = http.MethodGet
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = DefaultMaxBytes
		}
	case "dns":
		if c.Type == "" {
			c.Type = "A"
		}
	}
}

// New validates c and returns its Checker.
func New(c Config) (Checker, error) { return newChecker(c, nil) }

// newChecker is New; a keepalive HTTP check keeps its idle connections in
// pool when one is given.
func newChecker(c Config, pool *connPool) (Checker, error) {
	c.SetDefaults() // c is a copy
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("health: %w", err)
	}
	timeout := c.Timeout.D()
	var probe func(ctx context.Context) (bool, string) // with the deadline in ctx
	var probeUntil func(ctx context.Context, deadline time.Time) (bool, string)
	closeIdle := func() {}
	readLate := func() time.Time { return time.Time{} }
	switch c.Kind {
	case "http":
		h, err := newHTTP(c, pool)
		if err != nil {
			return nil, fmt.Errorf("health: %w", err)
		}
		probeUntil, closeIdle = h.probeUntil, h.closeIdle // makes a context only when it needs one
		readLate = func() time.Time { return h.lateAt }
	case "tcp":
		t := &tcpCheck{address: c.Address, send: c.Send, expect: c.Expect}
		probeUntil = t.probeUntil
		readLate = func() time.Time { return t.lateAt }
	case "dns":
		d := newDNS(c)
		probeUntil = d.probeUntil
		readLate = func() time.Time { return d.lateAt }
	case "exec":
		probe = (&execCheck{argv: c.Command}).probe
	}
	if probeUntil == nil {
		probeUntil = func(ctx context.Context, deadline time.Time) (bool, string) {
			ctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			return probe(ctx)
		}
	}
	return &timed{timeout: timeout, probe: probeUntil, closeIdle: closeIdle, readLate: readLate}, nil
}

// timed wraps a probe with its timeout, latency and start time.
type timed struct {
	timeout time.Duration
	// probe runs one probe that must end by deadline; it takes the
	// deadline apart from ctx so that a probe that needs no context makes
	// none (an HTTP probe on a kept connection: probeCtx)
	probe     func(ctx context.Context, deadline time.Time) (ok bool, reason string)
	closeIdle func()
	// readLate is when the answer the last probe read after its deadline
	// had arrived (zero: none read late)
	readLate func() time.Time
}

// CloseIdle closes a connection that the check keeps open between probes
// (an HTTP check with keepalive); the next probe opens a new one. A Monitor
// calls it when its Run returns.
func (t *timed) CloseIdle() { t.closeIdle() }

func (t *timed) Check(ctx context.Context) Result {
	start := time.Now()
	ok, reason := t.probe(ctx, start.Add(t.timeout))
	res := Result{OK: ok, Reason: cleanReason(reason), Latency: time.Since(start), Time: start}
	if at := t.readLate(); !at.IsZero() {
		// the server's answer had come by then: that is its latency
		res.ReadLate, res.Latency = true, at.Sub(start)
	} else if !ok && res.Latency >= t.timeout {
		res.Reason = timeoutReason(t.timeout, reason)
	}
	return res
}

// timeoutReason words a probe that ran out of time, keeping what the probe
// said unless it only repeats that the deadline passed.
func timeoutReason(d time.Duration, reason string) string {
	r := "timeout after " + d.String()
	if reason == "" || strings.Contains(reason, "deadline exceeded") ||
		strings.Contains(reason, "i/o timeout") || strings.Contains(reason, "signal: killed") {
		return r
	}
	return r + ": " + reason
}

// cleanReason makes a probe's reason safe to show wherever it goes (status
// documents, the ddns page, log lines, events, `redund check`, `redund
// ddns plan`): much of it comes from the checked server, which is not
// authenticated (a certificate's names in crypto/tls's error, a command's
// output that quotes a server). Line breaks become spaces, control and
// bidirectional-text characters go (text.Clean), and it is cut to
// maxReasonLen bytes on a UTF-8 boundary. A reason that is already plain
// printable ASCII of that length is returned as it is, without allocation.
func cleanReason(s string) string {
	if plainASCII(s) && len(s) <= maxReasonLen {
		return s
	}
	return text.CleanCut(s, maxReasonLen)
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}
