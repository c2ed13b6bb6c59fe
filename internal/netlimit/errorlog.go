package netlimit

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/redund/redund/internal/logging"
)

// ErrorLogEvery is the interval of an HTTP server's error lines: at most
// one connection error and one summary, and one handler panic, per
// interval.
const ErrorLogEvery = 10 * time.Second

// ErrorLog takes the error lines net/http writes itself (http.Server's
// ErrorLog) for one listener. A stranger can cause one per connection (a
// failed TLS handshake costs them a few bytes), and some quote what they
// sent (crypto/tls and x509 errors quote a client certificate's names), so
// such a line is not logged as it is: it becomes an event of a
// logging.Throttle whose source is the remote address in the line and
// whose detail is a fixed label chosen from the line, so that the
// operator still learns that handshakes fail and from where. A handler
// panic is our bug, not the client's text: it is logged in full (value
// and stack, which are what fixes it) at error level, but at most once
// per ErrorLogEvery, since a request that makes a handler panic can be
// repeated.
type ErrorLog struct {
	log    *slog.Logger
	events *logging.Throttle
	panics logging.Every
}

// NewErrorLog returns the error log of the listener named port ("admin
// listener"); Run must run while the server does.
func NewErrorLog(log *slog.Logger, port string) *ErrorLog {
	return &ErrorLog{log: log, events: logging.NewThrottle(log, port+": connection error", ErrorLogEvery),
		panics: logging.Every{Period: ErrorLogEvery}}
}

// Run writes the summaries of the dropped lines until ctx ends.
func (e *ErrorLog) Run(ctx context.Context) { e.events.Run(ctx) }

// Write takes one line of net/http (a log.Logger's output).
func (e *ErrorLog) Write(p []byte) (int, error) {
	line := string(p)
	source, label := classify(line)
	if label == labelPanic {
		if ok, held := e.panics.Allow(time.Now()); ok {
			e.log.Error("HTTP handler panic", "from", source, "held_back", held, "panic", strings.TrimSpace(line))
		}
		return len(p), nil
	}
	e.events.Event(source, label)
	return len(p), nil
}

const labelPanic = "handler panic"

// classify returns the remote address a line of net/http names ("server"
// when none) and a fixed label for it. The labels never contain the
// line's text, only constants: a client can at most steer which label its
// line gets.
func classify(line string) (source, label string) {
	first, _, _ := strings.Cut(line, "\n")
	source = remoteAddr(first)
	switch {
	case strings.Contains(first, "panic serving"):
		return source, labelPanic
	case strings.Contains(first, "TLS handshake error"):
		_, reason, _ := strings.Cut(first, "TLS handshake error from ")
		return source, "TLS handshake failed: " + handshakeReason(reason)
	case strings.Contains(first, "Accept error"):
		return source, "accept failed (file descriptors exhausted?)"
	case strings.Contains(first, "WriteHeader"), strings.Contains(first, "hijacked"),
		strings.Contains(first, "Content-Length"), strings.Contains(first, "does not allow body"):
		return source, "a handler wrote an invalid response (our bug)"
	case strings.Contains(first, "http2"), strings.Contains(first, "SETTINGS"), strings.Contains(first, "PING"):
		return source, "HTTP/2 connection error"
	}
	return source, "other server error"
}

// handshakeReason is a fixed label for crypto/tls's error.
func handshakeReason(reason string) string {
	switch {
	case strings.Contains(reason, "does not look like a TLS handshake"), strings.Contains(reason, "SSLv2"),
		strings.Contains(reason, "HTTP request to an HTTPS server"):
		return "not TLS"
	case strings.Contains(reason, "certificate"):
		return "client certificate refused"
	case strings.Contains(reason, "unsupported versions"), strings.Contains(reason, "cipher suite"),
		strings.Contains(reason, "protocol version"), strings.Contains(reason, "application protocol"):
		return "no common version, cipher suite or protocol"
	case strings.Contains(reason, "timeout"):
		return "timeout"
	case strings.Contains(reason, "EOF"), strings.Contains(reason, "reset by peer"), strings.Contains(reason, "broken pipe"):
		return "closed by the client"
	}
	return "other"
}

// remoteAddr is the IP address after "from ", "from client " or "serving "
// in a line of net/http, or "server".
func remoteAddr(line string) string {
	for _, key := range []string{" from client ", " from ", " serving "} {
		i := strings.Index(line, key)
		if i < 0 {
			continue
		}
		tok := line[i+len(key):]
		if j := strings.IndexAny(tok, " \n"); j >= 0 {
			tok = tok[:j]
		}
		tok = strings.TrimSuffix(tok, ":")
		if ap, err := netip.ParseAddrPort(tok); err == nil {
			return ap.Addr().Unmap().String()
		}
		if a, err := netip.ParseAddr(tok); err == nil {
			return a.Unmap().String()
		}
	}
	return "server"
}
