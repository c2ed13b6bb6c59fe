package peer

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Links that run over HTTP (schedsync's: both nodes listen and dial, with
// several requests in flight) are authenticated with the shared secret as
// follows. Every request carries
//
//	X-Redund-Auth: <proto> <unix ms> <nonce: 32 hex> <SHA-256 of the body: 64 hex> <MAC: 64 hex>
//	MAC = HMAC(Kreq; proto, method, request URI, unix ms, nonce, body SHA-256, signed request headers)
//
// and every answer to an authenticated request carries
//
//	X-Redund-Proof:      HMAC(Kresp; "head", proto, nonce, status, signed response headers)
//	X-Redund-Body-Proof: HMAC(Kresp; "body", proto, nonce, status, signed response headers,
//	                          SHA-256 of the body, signed trailers)   (an HTTP trailer)
//
// or, for an answer both ends agree to cover with an application digest
// (ResponseSigner.UseDigest and VerifiedBody.UseDigest: an encoding of the
// body that determines every byte, such as its records with the SHA-256
// of each record's content, which the application computes anyway),
// "body-digest" and the digest's sum in place of "body" and the body's
// SHA-256.
//
// Kreq and Kresp are derived from the secret and proto with the HMAC the
// framed link uses for its proofs (proof in auth.go), one per direction, so
// a request's MAC is never a valid answer; each MAC input field is
// length-prefixed (uvarint). MACs are compared in constant time. The
// receiver of a request refuses a bad MAC, a time more than Skew away from
// its clock and a nonce it has seen or sent (ReplayCache), all before it reads the
// body, then reads the body (bounded) and refuses it unless its SHA-256 is
// the signed one. The answer's proofs bind it to the request's nonce, so an
// old answer cannot be replayed either.
const (
	HeaderAuth       = "X-Redund-Auth"
	HeaderProof      = "X-Redund-Proof"
	TrailerBodyProof = "X-Redund-Body-Proof"
	// HeaderProto names the server's proto on every answer. It is not
	// authenticated: a client uses it only to choose which fixed text
	// explains an answer that has no valid proof.
	HeaderProto = "X-Redund-Proto"
)

// Defaults of HTTPAuthConfig.
const (
	DefaultSkew      = 60 * time.Second
	DefaultMaxNonces = 1 << 16
	maxAuthHeader    = 512
	maxProto         = 32
)

// HTTPAuthConfig configures an HTTPAuth; both ends use the same values.
type HTTPAuthConfig struct {
	Secret string
	// Proto names the application protocol and its version
	// ("schedsync/2"): it is part of every MAC and of the key derivation,
	// and a request for another proto is refused with a ProtoError.
	// Letters, digits, '.', '/' and '-', at most 32 characters.
	Proto string
	// RequestHeaders and ResponseHeaders are covered by the MACs (values
	// in order; absent and empty are the same). ResponseTrailers are
	// covered by the body proof and declared by the signer.
	RequestHeaders, ResponseHeaders, ResponseTrailers []string

	Skew      time.Duration // default DefaultSkew
	MaxNonces int           // replay cache bound, default DefaultMaxNonces
}

// HTTPAuth signs and verifies the requests and answers of an HTTP link
// between two nodes that share a secret.
type HTTPAuth struct {
	cfg             HTTPAuthConfig
	reqKey, respKey []byte
	replay          *ReplayCache
	now             func() time.Time
}

// NewHTTPAuth checks c and derives the keys.
func NewHTTPAuth(c HTTPAuthConfig) (*HTTPAuth, error) {
	if c.Secret == "" {
		return nil, errors.New("peer: http auth: empty secret")
	}
	if !validProto(c.Proto) {
		return nil, fmt.Errorf("peer: http auth: bad proto %q", c.Proto)
	}
	if c.Skew <= 0 {
		c.Skew = DefaultSkew
	}
	if c.MaxNonces <= 0 {
		c.MaxNonces = DefaultMaxNonces
	}
	s := []byte(c.Secret)
	return &HTTPAuth{cfg: c, now: time.Now, replay: NewReplayCache(c.Skew, c.MaxNonces),
		reqKey:  proof(s, "redund-http request key", []byte(c.Proto), nil),
		respKey: proof(s, "redund-http response key", []byte(c.Proto), nil)}, nil
}

// Proto is the configured proto.
func (a *HTTPAuth) Proto() string { return a.cfg.Proto }

// ProtoError refuses a request signed for another proto (another version
// of the application): Remote is the other node's, Local this node's.
type ProtoError struct{ Local, Remote string }

func (e *ProtoError) Error() string {
	return fmt.Sprintf("the other node speaks %s, this node %s", e.Remote, e.Local)
}

// Unwrap makes a ProtoError an ErrAuth.
func (e *ProtoError) Unwrap() error { return ErrAuth }

// authFields is a parsed X-Redund-Auth header.
type authFields struct {
	proto string
	ms    int64
	nonce [16]byte
	body  [32]byte
	mac   [32]byte
}

// parseAuthHeader parses an X-Redund-Auth value strictly: single spaces,
// lower-case hex of the exact lengths, a decimal time. A header whose
// first field is a well-formed proto but whose layout is another
// version's returns just that proto and errOtherLayout.
func parseAuthHeader(s string) (authFields, error) {
	var f authFields
	if s == "" {
		return f, authErrorf("no %s header", HeaderAuth)
	}
	if len(s) > maxAuthHeader {
		return f, authErrorf("malformed %s header", HeaderAuth)
	}
	p := strings.Split(s, " ")
	if !validProto(p[0]) {
		return f, authErrorf("malformed %s header", HeaderAuth)
	}
	f.proto = p[0]
	if len(p) != 5 || !decHex(f.nonce[:], p[2]) || !decHex(f.body[:], p[3]) || !decHex(f.mac[:], p[4]) {
		return f, errOtherLayout
	}
	ms, err := strconv.ParseUint(p[1], 10, 63)
	if err != nil || len(p[1]) > 15 || (len(p[1]) > 1 && p[1][0] == '0') {
		return f, errOtherLayout
	}
	f.ms = int64(ms)
	return f, nil
}

var errOtherLayout = authErrorf("malformed %s header", HeaderAuth)

// decHex decodes exactly len(dst) bytes of lower-case hex.
func decHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}

func validProto(s string) bool {
	if s == "" || len(s) > maxProto {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '/' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// macOf is HMAC-SHA256(key) over length-prefixed fields.
func macOf(key []byte, fields ...string) []byte {
	m := hmac.New(sha256.New, key)
	var n [binary.MaxVarintLen64]byte
	for _, f := range fields {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(f)))])
		_, _ = io.WriteString(m, f)
	}
	return m.Sum(nil)
}

// headerValues is one MAC field per name: its values joined by newlines
// (which a header value cannot contain).
func headerValues(h http.Header, names []string) []string {
	out := make([]string, len(names))
	for i, name := range names {
		out[i] = strings.Join(h.Values(name), "\n")
	}
	return out
}

func (a *HTTPAuth) requestMAC(method, uri string, f authFields, h http.Header) []byte {
	fields := append([]string{a.cfg.Proto, method, uri, strconv.FormatInt(f.ms, 10),
		string(f.nonce[:]), string(f.body[:])}, headerValues(h, a.cfg.RequestHeaders)...)
	return macOf(a.reqKey, fields...)
}

// SignRequest sets req's X-Redund-Auth for body (nil for none: the body is
// the caller's to attach) after the signed headers are set, and returns
// the nonce that VerifyResponse needs. The nonce goes into this node's own
// replay cache too, so the request, reflected back to this node, is
// refused as a replay.
func (a *HTTPAuth) SignRequest(req *http.Request, body []byte) string {
	f := authFields{proto: a.cfg.Proto, ms: a.now().UnixMilli(), body: sha256.Sum256(body)}
	if _, err := rand.Read(f.nonce[:]); err != nil {
		panic("peer: crypto/rand: " + err.Error())
	}
	_ = a.replay.Check(f.nonce, time.UnixMilli(f.ms), a.now())
	m := a.requestMAC(req.Method, req.URL.RequestURI(), f, req.Header)
	req.Header.Set(HeaderAuth, fmt.Sprintf("%s %d %x %x %x", f.proto, f.ms, f.nonce, f.body, m))
	return hex.EncodeToString(f.nonce[:])
}

// VerifyRequest authenticates r on the server: the header (MAC, clock,
// replay) before anything else, then the body, read whole (at most maxBody
// bytes) and left in r.Body once it matches. nonce is set when the MAC
// verified, even if the request is refused (clock, body): the refusal can
// then be signed with SignResponse, so the client learns the reason from
// an answer it can trust. A nonce seen before (a replayed request, or one
// reflected back to the node that signed it) leaves nonce empty: no
// answer is ever signed for a nonce but the one to the request that first
// carried it. Every error wraps ErrAuth; a request for another proto is a
// *ProtoError.
func (a *HTTPAuth) VerifyRequest(r *http.Request, maxBody int64) (nonce string, err error) {
	f, err := parseAuthHeader(r.Header.Get(HeaderAuth))
	if f.proto != "" && f.proto != a.cfg.Proto {
		return "", &ProtoError{Local: a.cfg.Proto, Remote: f.proto}
	}
	if err != nil {
		return "", err
	}
	if !hmac.Equal(a.requestMAC(r.Method, r.RequestURI, f, r.Header), f.mac[:]) {
		return "", authErrorf("wrong MAC: the other node does not know the shared secret, or the request was changed on the way")
	}
	if err := a.replay.Check(f.nonce, time.UnixMilli(f.ms), a.now()); errors.Is(err, errReplayed) {
		// only a replay or a reflection repeats a nonce: an answer
		// signed for it could pass as the answer to the request that
		// first carried it (still waiting, on the node that signed it
		// or on the way), so the refusal is not signed
		return "", err
	} else if nonce = hex.EncodeToString(f.nonce[:]); err != nil {
		return nonce, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nonce, authErrorf("reading the request body: %v", err)
	}
	if int64(len(body)) > maxBody {
		return nonce, authErrorf("request body larger than %d bytes", maxBody)
	}
	if sha256.Sum256(body) != f.body {
		return nonce, authErrorf("the request body does not match its MAC (changed on the way?)")
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return nonce, nil
}

// headMAC is the head proof over the status and the signed response
// headers' values.
func (a *HTTPAuth) headMAC(nonce string, status int, head []string) []byte {
	return macOf(a.respKey, append([]string{"head", a.cfg.Proto, nonce, strconv.Itoa(status)}, head...)...)
}

// bodyMAC is the body proof: the head's fields, the body's SHA-256 (or,
// digest, the sum of the digest the application computed over the body:
// the label differs) and the signed trailers' values.
func (a *HTTPAuth) bodyMAC(digest bool, nonce string, status int, head []string, sum []byte, trailers []string) []byte {
	label := "body"
	if digest {
		label = "body-digest"
	}
	fields := append([]string{label, a.cfg.Proto, nonce, strconv.Itoa(status)}, head...)
	fields = append(fields, string(sum))
	return macOf(a.respKey, append(fields, trailers...)...)
}

// newBodyHash is the hash of a body covered by a body proof.
func newBodyHash() hash.Hash { return sha256.New() }
