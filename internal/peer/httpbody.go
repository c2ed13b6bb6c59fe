package peer

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
)

// ResponseSigner is an http.ResponseWriter that signs the answer to one
// authenticated request: X-Redund-Proof when the header is written, and
// the X-Redund-Body-Proof trailer (over the body and the signed trailers)
// in Finish, which the handler's caller must call after the handler.
type ResponseSigner struct {
	http.ResponseWriter
	a      *HTTPAuth
	nonce  string
	h      hash.Hash
	digest bool // UseDigest: h is the caller's, fed by the caller
	status int
	head   []string // the signed response headers as sent
}

// SignResponse wraps w for the answer to the request with nonce.
func (a *HTTPAuth) SignResponse(w http.ResponseWriter, nonce string) *ResponseSigner {
	return &ResponseSigner{ResponseWriter: w, a: a, nonce: nonce, h: newBodyHash()}
}

// UseDigest makes the body proof cover d's sum instead of the SHA-256 of
// the bytes written: the caller writes into d its own encoding of the
// whole body (every byte, or the hash of it; see VerifiedBody.UseDigest,
// which the client must call for the same answer). Call it before the
// first Write.
func (s *ResponseSigner) UseDigest(d hash.Hash) { s.h, s.digest = d, true }

// WriteHeader sets the head proof and declares the trailers.
func (s *ResponseSigner) WriteHeader(code int) {
	if s.status != 0 || code < 200 {
		s.ResponseWriter.WriteHeader(code)
		return
	}
	s.status = code
	h := s.ResponseWriter.Header()
	h.Set(HeaderProto, s.a.cfg.Proto)
	s.head = headerValues(h, s.a.cfg.ResponseHeaders)
	h.Set(HeaderProof, hex.EncodeToString(s.a.headMAC(s.nonce, code, s.head)))
	declared := map[string]bool{}
	for _, v := range h.Values("Trailer") {
		for _, t := range strings.Split(v, ",") {
			declared[http.CanonicalHeaderKey(strings.TrimSpace(t))] = true
		}
	}
	for _, t := range append([]string{TrailerBodyProof}, s.a.cfg.ResponseTrailers...) {
		if !declared[http.CanonicalHeaderKey(t)] {
			h.Add("Trailer", t)
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write hashes and writes b.
func (s *ResponseSigner) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	n, err := s.ResponseWriter.Write(b)
	if !s.digest {
		s.h.Write(b[:n])
	}
	return n, err
}

// Finish sets the body proof; the handler has written everything,
// trailers included.
func (s *ResponseSigner) Finish() {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	h := s.ResponseWriter.Header()
	m := s.a.bodyMAC(s.digest, s.nonce, s.status, s.head, s.h.Sum(nil), headerValues(h, s.a.cfg.ResponseTrailers))
	h.Set(TrailerBodyProof, hex.EncodeToString(m))
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *ResponseSigner) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// VerifiedBody is the body of an answer whose head proof verified. It
// hashes what is read; at the end of the body it checks the body proof and
// returns an error wrapping ErrAuth instead of io.EOF when it does not
// match (in digest mode, see UseDigest, only Verify checks). Nothing read from it may be used (applied, committed, shown)
// before Verify returns nil.
type VerifiedBody struct {
	rc    io.ReadCloser
	resp  *http.Response
	a     *HTTPAuth
	nonce string
	head  []string
	h     hash.Hash
	// UseDigest: h is the caller's; read counts the bytes of the body
	// and covered those the caller has consumed (and covered in h)
	digest        bool
	read, covered int64
	atEOF         bool  // digest mode: the body ended; Verify checks
	end           error // set at the end of the body (digest mode: by Verify): io.EOF when the proof matched
}

// UseDigest makes the body proof cover d's sum instead of the SHA-256 of
// the body (the server called ResponseSigner.UseDigest for this answer;
// the proof says which of the two it covers, so neither verifies as the
// other). The caller writes into d, as it consumes the body, an encoding
// of what it read that determines every byte (the bytes themselves, or
// their hash where the caller hashes them anyway, as schedsync does for
// file content), and reports each consumed byte with Consumed. Bytes of
// the body the caller did not consume make Verify fail, and an answer
// shorter or longer than what the proof's digest describes fails too
// (the caller's digest then differs). Unconsumed bytes are reported with
// an error that does not wrap ErrAuth (the proof could not be checked).
// Call it before the first Read.
func (b *VerifiedBody) UseDigest(d hash.Hash) { b.h, b.digest = d, true }

// ErrUnconsumed is Verify's error, in digest mode, when the caller did not
// consume the whole body: the proof was not checked.
var ErrUnconsumed = errors.New("peer: bytes of the answer were not consumed, so its proof was not checked")

// Consumed tells a VerifiedBody in digest mode that the caller consumed
// (and covered in its digest) n more bytes of the body.
func (b *VerifiedBody) Consumed(n int64) { b.covered += n }

// maxTail bounds what Verify reads past what the caller consumed.
const maxTail = 1 << 20

// VerifyResponse checks the head proof of resp, the answer to the request
// signed with nonce, and replaces resp.Body with a VerifiedBody. An answer
// without a valid proof is refused with an error wrapping ErrAuth whose
// text is fixed (nothing of the answer is quoted); the caller should close
// its body unread.
func (a *HTTPAuth) VerifyResponse(resp *http.Response, nonce string) (*VerifiedBody, error) {
	got, err := hex.DecodeString(resp.Header.Get(HeaderProof))
	head := headerValues(resp.Header, a.cfg.ResponseHeaders)
	if err != nil || !hmac.Equal(got, a.headMAC(nonce, resp.StatusCode, head)) {
		return nil, a.unauthenticated(resp)
	}
	vb := &VerifiedBody{rc: resp.Body, resp: resp, a: a, nonce: nonce, head: head, h: newBodyHash()}
	resp.Body = vb
	return vb, nil
}

// unauthenticated explains an answer without a valid proof, choosing among
// fixed texts by the (unauthenticated) proto it names.
func (a *HTTPAuth) unauthenticated(resp *http.Response) error {
	code := resp.StatusCode
	switch p := resp.Header.Get(HeaderProto); {
	case p == "":
		return authErrorf("answer (HTTP %d) not authenticated and names no protocol: the other node runs an "+
			"older redund or is not a redund node, or the answer was changed on the way", code)
	case p == a.cfg.Proto:
		return authErrorf("answer (HTTP %d) not authenticated: the other node does not know the shared secret, "+
			"or the answer was changed on the way", code)
	case validProto(p):
		return &ProtoError{Local: a.cfg.Proto, Remote: p}
	}
	return authErrorf("answer (HTTP %d) not authenticated", code)
}

// Read reads the body; see VerifiedBody.
func (b *VerifiedBody) Read(p []byte) (int, error) {
	if b.end != nil {
		return 0, b.end
	}
	if b.atEOF {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if b.digest {
		b.read += int64(n)
	} else {
		b.h.Write(p[:n])
	}
	if err == io.EOF {
		if b.digest {
			// the caller has not covered these last bytes yet: Verify
			// checks, once the caller's digest is complete
			b.atEOF = true
			return n, io.EOF
		}
		b.end = b.check()
		return n, b.end
	}
	return n, err
}

// check compares the body proof in the trailer (complete once the body
// has been read to its end).
func (b *VerifiedBody) check() error {
	t := b.resp.Trailer
	if b.digest && b.read != b.covered {
		// not an authentication failure: the caller stopped consuming
		// (it failed on its own) or the body is longer than it expected
		return fmt.Errorf("%w (%d bytes, HTTP %d)", ErrUnconsumed, b.read-b.covered, b.resp.StatusCode)
	}
	got, err := hex.DecodeString(t.Get(TrailerBodyProof))
	want := b.a.bodyMAC(b.digest, b.nonce, b.resp.StatusCode, b.head, b.h.Sum(nil), headerValues(t, b.a.cfg.ResponseTrailers))
	if err != nil || !hmac.Equal(got, want) {
		return authErrorf("answer (HTTP %d) not authenticated: its body or trailers do not match the proof "+
			"(changed on the way?)", b.resp.StatusCode)
	}
	return io.EOF
}

// Verify reads what is left of the body (at most 1 MiB more) and reports
// whether all of it, and the signed trailers, match the proof: nil, an
// error wrapping ErrAuth, or (when the body could not be read to its end)
// another error.
func (b *VerifiedBody) Verify() error {
	if b.end == nil {
		n, err := io.Copy(io.Discard, io.LimitReader(b, maxTail))
		if b.atEOF {
			b.end = b.check()
		}
		if b.end == nil {
			if err != nil {
				return fmt.Errorf("peer: reading the answer: %w", err)
			}
			return fmt.Errorf("peer: answer more than %d bytes longer than expected: not checked", n)
		}
	}
	if b.end == io.EOF {
		return nil
	}
	return b.end
}

// Close closes the underlying body.
func (b *VerifiedBody) Close() error { return b.rc.Close() }

// Refuse answers a refused request with code and text (the server's own
// words, never the request's). With the nonce of a request whose MAC
// verified (see VerifyRequest) the answer is signed, so the client can
// show text; otherwise it names only this node's proto.
func (a *HTTPAuth) Refuse(w http.ResponseWriter, nonce string, code int, text string) {
	if nonce == "" {
		w.Header().Set(HeaderProto, a.cfg.Proto)
		http.Error(w, text, code)
		return
	}
	sw := a.SignResponse(w, nonce)
	http.Error(sw, text, code)
	sw.Finish()
}
