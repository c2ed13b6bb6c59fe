package adminapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/redund/redund/internal/config"
)

// Headers every answer of a guarded listener carries: no page may frame
// it (clickjacking; X-Frame-Options for browsers that predate
// frame-ancestors) and browsers take its Content-Type as given.
const (
	headerCSP     = "Content-Security-Policy"
	valueCSP      = "frame-ancestors 'none'"
	headerXFO     = "X-Frame-Options"
	headerNoSniff = "X-Content-Type-Options"
)

// Guard is the front door of every HTTP listener redund serves to people and
// their tools (the admin listeners, gateway's client listener). It refuses
//   - with 421, a request whose Host is not a name of the listener: an IP
//     address, localhost, the host of the listen address or one of the
//     allowed names (DNS rebinding: a page whose name resolves to this
//     machine reads or drives it as if it were the same site);
//   - with 403, a state-changing request (POST, PUT, DELETE, ...) that a
//     browser marks as cross-origin (Sec-Fetch-Site, or an Origin that is
//     not the Host), whatever its Content-Type;
//
// and sets Content-Security-Policy: frame-ancestors 'none', X-Frame-Options:
// DENY and X-Content-Type-Options: nosniff on every answer. A request that carries
// the token as its bearer token may use any Host (a browser cannot add it
// by itself). curl and redund's own clients send no Origin and use the
// address they were given, so they pass.
type Guard struct {
	token config.Secret
	names map[string]bool
	cop   *http.CrossOriginProtection
}

// NewGuard returns the guard of a listener: token is the [admin] token
// ("" for none), allowed the extra host names ([admin] allowed_hosts), and
// listen the listener's address(es) as configured and bound.
func NewGuard(token config.Secret, allowed []string, listen ...string) *Guard {
	g := &Guard{token: token, names: map[string]bool{}, cop: http.NewCrossOriginProtection()}
	for _, a := range listen {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
			g.names[normHost(h)] = true
		}
	}
	for _, h := range allowed {
		g.names[normHost(h)] = true
	}
	g.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return g
}

// Handler wraps h with the guard.
func (g *Guard) Handler(h http.Handler) http.Handler {
	inner := g.cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerCSP, valueCSP)
		w.Header().Set(headerXFO, "DENY")
		w.Header().Set(headerNoSniff, "nosniff")
		if !g.HostAllowed(r) {
			http.Error(w, "misdirected request: Host is not a name of this listener (see [admin] allowed_hosts)",
				http.StatusMisdirectedRequest)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

// HostAllowed reports whether r's Host header names this listener (see
// Guard). A request without Host (HTTP/1.0) does not come from a browser.
func (g *Guard) HostAllowed(r *http.Request) bool {
	if r.Host == "" {
		return true
	}
	h := hostOnly(r.Host)
	if h == "localhost" || g.names[h] {
		return true
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true // a page cannot be served from an IP address it does not own
	}
	return trustedPeer(r) || g.token != "" && tokenMatches(g.token, r)
}

// FillSecurityHeaders adds the guard's headers to an answer that lacks
// them, leaving a framing policy of its own (X-Frame-Options, or a CSP
// with frame-ancestors) as it is: for answers that come from an
// application behind a guarded proxy. An application's CSP without
// frame-ancestors is no framing policy: it is kept, and X-Frame-Options:
// DENY added.
func FillSecurityHeaders(h http.Header) {
	switch {
	case h.Get(headerXFO) != "" || framingCSP(h):
	case len(h.Values(headerCSP)) > 0:
		h.Set(headerXFO, "DENY")
	default:
		h.Set(headerCSP, valueCSP)
		h.Set(headerXFO, "DENY")
	}
	if h.Get(headerNoSniff) == "" {
		h.Set(headerNoSniff, "nosniff")
	}
}

// framingCSP reports whether a Content-Security-Policy of h has a
// frame-ancestors directive.
func framingCSP(h http.Header) bool {
	for _, v := range h.Values(headerCSP) {
		for _, d := range strings.Split(v, ";") {
			if name, _, _ := strings.Cut(strings.TrimSpace(d), " "); strings.EqualFold(name, "frame-ancestors") {
				return true
			}
		}
	}
	return false
}

// DropSecurityHeaders removes what Guard set, before a proxy copies an
// application's own headers in (FillSecurityHeaders then completes them).
func DropSecurityHeaders(h http.Header) {
	h.Del(headerCSP)
	h.Del(headerXFO)
	h.Del(headerNoSniff)
}

// hostOnly is the host of a Host header, without port or brackets,
// lower case and without a trailing dot.
func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	return normHost(h)
}

func normHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
}
