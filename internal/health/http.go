package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxRedirects is how many redirects a probe follows, as net/http's client.
const maxRedirects = 10

// The redirects an HTTP check follows (Config.Redirects).
const (
	// RedirectsSameHost, the default, follows a redirect to the URL's
	// own host name (any port, http to https), not to another host: the
	// checked server cannot make the prober GET any host its network
	// reaches, nor have another host's answer make its check OK
	RedirectsSameHost = "same-host"
	// RedirectsFollow follows redirects to any host (up to maxRedirects)
	RedirectsFollow = "follow"
	// RedirectsNone follows none
	RedirectsNone = "none"
)

// httpCheck GETs (or HEADs) a URL, follows redirects, then checks the final
// status and searches the first maxBytes of the body.
//
// It speaks HTTP/1.1 itself instead of going through net/http's client:
// every probe is one request on one connection that the probe owns, so it
// needs none of the client's connection pool, its two goroutines per
// connection or its per-request allocations (see issue 15 item 3: they cost
// more than the TCP connect and close themselves). The request bytes are
// built once (by net/http); the response head is read by readHead, which
// keeps only the status and the fields that frame the body.
type httpCheck struct {
	method                string
	status                StatusSet
	mustHave, mustNotHave []byte
	maxBytes              int
	insecure              bool
	keepAlive             bool
	redirects             string // one of the Redirects constants
	dialer                net.Dialer
	target, addr          string           // the URL's own host:port, and where to connect for it
	first                 *hop             // the request to the URL itself
	idle                  chan *clientConn // keepalive without a pool: this check's kept connection
	// pool, when set (checks of a Probes), keeps the idle connections of
	// every keepalive check by host:port instead of idle; key is first's
	pool *connPool
	key  string
	// fresh makes the next probe dial a new connection instead of taking
	// one from the pool (after a failed probe); only the probe touches it
	fresh bool
	// lateAt is when the answer the last probe read late had arrived
	// (readLate; zero when it read none late); only the probe touches it
	lateAt time.Time
}

// hop is one request of a probe: to the configured URL or to a redirect.
type hop struct {
	url    *url.URL
	dial   string // host:port to connect to
	req    []byte // the request, as written on the wire
	method string
	tls    *tls.Config // nil for http
}

func newHTTP(c Config, pool *connPool) (*httpCheck, error) {
	h := &httpCheck{
		method:      strings.ToUpper(c.Method),
		mustHave:    []byte(c.MustHave),
		mustNotHave: []byte(c.MustNotHave),
		maxBytes:    c.MaxBytes,
		insecure:    c.Insecure,
		keepAlive:   c.KeepAlive,
		redirects:   c.Redirects,
		// a probe's connection lives for one probe (or is reused at once):
		// TCP keep-alive probes would only cost setsockopt calls
		dialer: net.Dialer{KeepAlive: -1},
		idle:   make(chan *clientConn, 1),
	}
	if h.redirects == "" {
		h.redirects = RedirectsSameHost
	}
	h.status, _ = ParseStatus(c.Status...) // checked by Validate
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	h.target, h.addr = hostPort(u), hostPort(u)
	if c.Addr != "" {
		h.addr = c.Addr
		if net.ParseIP(c.Addr) != nil { // okerr's addr=IP: keep the URL's port
			_, port, _ := net.SplitHostPort(h.target)
			h.addr = net.JoinHostPort(c.Addr, port)
		}
	}
	h.first, err = h.newHop(u, h.keepAlive)
	if err == nil && h.keepAlive && pool != nil {
		h.pool, h.key = pool, poolKey(h.first)
	}
	return h, err
}

// hostPort returns the host:port a URL connects to, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// newHop prepares the request to u. Only the URL's own host:port goes to
// addr (the Host header and TLS SNI still come from the URL); a redirect
// elsewhere is dialled as it says.
func (h *httpCheck) newHop(u *url.URL, keepAlive bool) (*hop, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("unsupported protocol scheme %q", u.Scheme)
	}
	hp := &hop{url: u, dial: hostPort(u), method: h.method}
	if strings.EqualFold(hp.dial, h.target) {
		hp.dial = h.addr
	}
	if u.Scheme == "https" {
		// insecure is the user's explicit choice
		hp.tls = &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: h.insecure} //nolint:gosec
	}
	req, err := requestBytes(h.method, u, keepAlive)
	hp.req = req
	return hp, err
}

// requestBytes is the request to u as written on the wire (by net/http).
func requestBytes(method string, u *url.URL, keepAlive bool) ([]byte, error) {
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "redund-health/1")
	if u.User != nil { // as net/http's client does for user:password@ in a URL
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
	}
	req.Close = !keepAlive // "Connection: close": the server need not keep it open
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// answer is what a probe needs from one response.
type answer struct {
	code     int
	location string // for a redirect to follow: where to
	// unfollowed says why an answer that redirects is judged itself
	// (Config.Redirects): "a redirect to HOST, another host, not followed"
	unfollowed string
	body       *[]byte // the first maxBytes of the body, when searched (from getBody)
}

// probeUntil runs one probe that ends by deadline (zero: none), taken apart
// from ctx so that a probe that needs no context makes none (probeCtx).
func (h *httpCheck) probeUntil(ctx context.Context, deadline time.Time) (bool, string) {
	pc := probeCtx{parent: ctx, deadline: deadline}
	defer pc.done()
	h.lateAt = time.Time{}
	hp := h.first
	for redirects := 0; ; redirects++ {
		a, err := h.roundTrip(&pc, hp)
		if err != nil {
			h.lateAt = time.Time{} // what was read late did not make an answer
		}
		if err != nil && pc.err() != nil {
			return false, pc.err().Error() // timed words it as a timeout
		}
		if err != nil {
			return false, shortErr(err)
		}
		if a.location == "" {
			ok, reason := h.judge(a)
			if a.unfollowed != "" {
				reason += " (" + a.unfollowed + ")"
			}
			if !ok {
				h.dropIdle() // the next probe tests a new connection
			}
			return ok, reason
		}
		if redirects == maxRedirects {
			return false, "stopped after 10 redirects"
		}
		u, err := hp.url.Parse(a.location)
		if err == nil && hp.tls != nil && u.Scheme == "http" {
			// the check asked for TLS: an answer in clear text, which
			// anyone on its path can write, does not make it OK
			return false, "redirect from https to http not followed"
		}
		if err == nil {
			hp, err = h.newHop(u, false)
		}
		if err != nil {
			return false, "redirect: " + shortErr(err)
		}
	}
}

// follows reports whether a probe follows a redirect to location from the
// request hp, and if not, why.
func (h *httpCheck) follows(hp *hop, location string) (bool, string) {
	switch h.redirects {
	case RedirectsFollow:
		return true, ""
	case RedirectsNone:
		return false, "a redirect, not followed"
	}
	u, err := hp.url.Parse(location)
	if err != nil || strings.EqualFold(u.Hostname(), h.first.url.Hostname()) {
		return true, "" // one that cannot be parsed fails the probe
	}
	return false, "a redirect to " + u.Host + ", another host, not followed"
}

// judge checks the final answer's status and body.
func (h *httpCheck) judge(a answer) (bool, string) {
	code := httpCode(a.code)
	if a.body != nil {
		defer putBody(a.body)
	}
	if !h.status.Has(a.code) {
		return false, code
	}
	if a.body == nil {
		return true, code
	}
	body := *a.body
	if len(h.mustHave) > 0 && !bytes.Contains(body, h.mustHave) {
		return false, fmt.Sprintf("musthave %q not found in first %d bytes", h.mustHave, h.maxBytes)
	}
	if len(h.mustNotHave) > 0 && bytes.Contains(body, h.mustNotHave) {
		return false, fmt.Sprintf("mustnothave %q found in first %d bytes", h.mustNotHave, h.maxBytes)
	}
	return true, code
}

// httpCode words a status code as the reason of a probe ("HTTP 200"),
// without an allocation for the usual answer.
func httpCode(code int) string {
	if code == http.StatusOK {
		return "HTTP 200"
	}
	return "HTTP " + strconv.Itoa(code)
}

// isRedirect reports the codes net/http's client follows.
func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// shortErr words a network error without the URL and addresses Go puts
// around it: "connect: connection refused", "tls: ...".
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return oe.Err.Error()
		}
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

// dropIdle makes the next probe open a new connection: it closes the
// connection this check keeps, or (pooled) skips the pool once.
func (h *httpCheck) dropIdle() {
	if h.pool != nil {
		h.fresh = true
		return
	}
	h.closeIdle()
}

// closeIdle closes the connection kept for the next probe, if any. Pooled
// connections are closed by the pool's owner.
func (h *httpCheck) closeIdle() {
	if h.pool != nil {
		return
	}
	select {
	case c := <-h.idle:
		c.close()
	default:
	}
}
