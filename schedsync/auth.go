package schedsync

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Every request between the two nodes carries
//
//	X-Redund-Auth: v1 <ts> <nonce> <hex HMAC-SHA256(secret, "schedsync-v1\n" method \n uri \n ts \n nonce)>
//
// The receiver refuses clocks more than authSkew apart and replayed nonces,
// and proves it knows the secret too with X-Redund-Proof (an HMAC over the
// nonce and status code), so a secondary never syncs from an impostor.
const (
	authHeader  = "X-Redund-Auth"
	proofHeader = "X-Redund-Proof"
	authSkew    = 60 * time.Second
)

var errAuth = errors.New("authentication failed")

type authenticator struct {
	secret []byte
	mu     sync.Mutex
	seen   map[string]time.Time // nonces of the last 2*authSkew
}

// newAuthenticator returns nil without a secret: the link then relies on
// pinned TLS alone (Validate insists on one of the two).
func newAuthenticator(secret string) *authenticator {
	if secret == "" {
		return nil
	}
	return &authenticator{secret: []byte(secret), seen: map[string]time.Time{}}
}

func (a *authenticator) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

// sign adds the auth header to req and returns its nonce.
func (a *authenticator) sign(req *http.Request) string {
	if a == nil {
		return ""
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	nonce := hex.EncodeToString(b[:])
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(authHeader, "v1 "+ts+" "+nonce+" "+a.mac("schedsync-v1", req.Method, req.URL.RequestURI(), ts, nonce))
	return nonce
}

// verify checks req's auth header and returns its nonce.
func (a *authenticator) verify(req *http.Request) (string, error) {
	if a == nil {
		return "", nil
	}
	f := strings.Fields(req.Header.Get(authHeader))
	if len(f) != 4 || f[0] != "v1" || len(f[2]) != 32 {
		return "", fmt.Errorf("%w: missing or malformed %s", errAuth, authHeader)
	}
	ts, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: bad timestamp", errAuth)
	}
	now := time.Now()
	if d := now.Sub(time.Unix(ts, 0)); d > authSkew || d < -authSkew {
		return "", fmt.Errorf("%w: clocks differ by %s (check NTP)", errAuth, d.Round(time.Second))
	}
	want := a.mac("schedsync-v1", req.Method, req.URL.RequestURI(), f[1], f[2])
	if !hmac.Equal([]byte(want), []byte(f[3])) {
		return "", fmt.Errorf("%w: wrong secret", errAuth)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.seen[f[2]]; dup {
		return "", fmt.Errorf("%w: replayed request", errAuth)
	}
	for n, t := range a.seen {
		if now.Sub(t) > 2*authSkew {
			delete(a.seen, n)
		}
	}
	a.seen[f[2]] = now
	return f[2], nil
}

// prove sets the response proof for nonce and code (before WriteHeader).
func (a *authenticator) prove(w http.ResponseWriter, nonce string, code int) {
	if a == nil {
		return
	}
	w.Header().Set(proofHeader, a.mac("schedsync-resp", nonce, strconv.Itoa(code)))
}

// check verifies the proof of a response to a request signed with nonce.
func (a *authenticator) check(resp *http.Response, nonce string) error {
	if a == nil {
		return nil
	}
	want := a.mac("schedsync-resp", nonce, strconv.Itoa(resp.StatusCode))
	if !hmac.Equal([]byte(want), []byte(resp.Header.Get(proofHeader))) {
		return fmt.Errorf("%w: the peer does not know the shared secret", errAuth)
	}
	return nil
}
