package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/redund/redund/internal/config"
)

// RequireToken lets a request through to h only when it carries
// "Authorization: Bearer <token>", or when it came over the admin socket
// from root, the daemon's user or a member of socket_group (SO_PEERCRED).
// The comparison takes the same time whatever the guess. An empty token
// refuses every other request: an endpoint that needs a token and has none
// configured stays closed to the network.
func RequireToken(token config.Secret, h http.Handler) http.Handler {
	return guarded{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trustedPeer(r) {
			h.ServeHTTP(w, r)
			return
		}
		if token == "" {
			WriteError(w, http.StatusForbidden, "no admin token configured ([admin] token)")
			return
		}
		if !tokenMatches(token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="redund"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong admin token")
			return
		}
		h.ServeHTTP(w, r)
	})}
}

// guarded is a handler behind RequireToken or Protect: Server.Handle takes
// only such a handler for a method that changes something.
type guarded struct{ http.Handler }

// tokenMatches reports whether r carries token (not empty) as its bearer
// token; the comparison takes the same time whatever the guess.
func tokenMatches(token config.Secret, r *http.Request) bool {
	got, ok := bearer(r)
	want := sha256.Sum256([]byte(token.Reveal()))
	sum := sha256.Sum256([]byte(got))
	return ok && token != "" && subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Protect guards an admin endpoint that changes something (POST): with a
// token configured every request must carry it (see RequireToken); without
// one only requests arriving over loopback are served, so that an admin
// listener opened to the network without a token cannot be driven from it.
// A request that a proxy on this host relayed (it names the client in
// Forwarded, X-Forwarded-For or X-Real-IP) arrives over loopback but is
// not local: it is refused too. On the admin socket, root, the daemon's
// user and the members of socket_group need no token (SO_PEERCRED); other
// users who can connect are treated as off loopback.
func Protect(token config.Secret, h http.Handler) http.Handler {
	if token != "" {
		return RequireToken(token, h)
	}
	return guarded{http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trustedPeer(r) {
			h.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.RemoteAddr, "unix:") {
			WriteError(w, http.StatusForbidden, "admin socket: only root, the daemon's user and [admin] socket_group "+
				"may use this without a token; set [admin] token to allow others")
			return
		}
		if !IsLoopback(r.RemoteAddr) || relayed(r) { // RemoteAddr: the client's ip:port
			WriteError(w, http.StatusForbidden,
				"admin endpoint refused off loopback (or through a proxy): set [admin] token to allow remote use")
			return
		}
		h.ServeHTTP(w, r)
	})}
}

// relayed reports whether r carries the headers by which a proxy names the
// client it relays.
func relayed(r *http.Request) bool {
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip"} {
		if len(r.Header.Values(k)) > 0 {
			return true
		}
	}
	return false
}

// IsLoopback reports whether an address (host:port, or a bare host) is on a
// loopback interface: 127.0.0.0/8, ::1 or "localhost". For a listen
// address, an empty host, 0.0.0.0 and :: bind every interface and are not
// loopback. Protect uses it on the client's address.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
