package peer

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// digestServer answers with the body "abc" + "defgh" whose proof covers a
// digest: each part's length and SHA-256 (or, digest false, the plain
// body hash).
func digestServer(t *testing.T, a *HTTPAuth, digest bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce, err := a.VerifyRequest(r, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		sw := a.SignResponse(w, nonce)
		defer sw.Finish()
		d := sha256.New()
		if digest {
			sw.UseDigest(d)
		}
		for _, part := range []string{"abc", "defgh"} {
			sum := sha256.Sum256([]byte(part))
			d.Write([]byte{byte(len(part))})
			d.Write(sum[:])
			_, _ = sw.Write([]byte(part))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// readDigest reads the answer of srv in digest mode: parts of the given
// lengths, each covered by its length and SHA-256 (a changed byte makes
// another digest), then Verify.
func readDigest(t *testing.T, a *HTTPAuth, rt http.RoundTripper, url string, parts []int) error {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(nil))
	nonce := a.SignRequest(req, nil)
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	vb, err := a.VerifyResponse(resp, nonce)
	if err != nil {
		return err
	}
	d := sha256.New()
	vb.UseDigest(d)
	for _, n := range parts {
		b := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		d.Write([]byte{byte(n)})
		d.Write(sum[:])
		vb.Consumed(int64(n))
	}
	return vb.Verify()
}

// TestVerifiedBodyDigest: an answer whose proof covers the application's
// digest verifies when the client computes the same digest and consumes
// every byte; a changed byte is an authentication failure; a proof over
// the plain body hash never verifies as a digest proof; bytes the client
// did not consume are an error that is not an authentication failure
// (the proof was not checked).
func TestVerifiedBodyDigest(t *testing.T) {
	a := newTestHTTPAuth(t, "digest-secret-0123456789")
	flip := rebody(func(b []byte) []byte { b = bytes.Clone(b); b[4] ^= 1; return b })
	for _, c := range []struct {
		name     string
		digest   bool
		rt       http.RoundTripper
		parts    []int
		auth, ok bool
	}{
		{name: "verifies", digest: true, parts: []int{3, 5}, ok: true},
		{name: "changed byte", digest: true, rt: flip, parts: []int{3, 5}, auth: true},
		{name: "plain proof", digest: false, parts: []int{3, 5}, auth: true},
		{name: "parts split otherwise", digest: true, parts: []int{4, 4}, auth: true},
		{name: "bytes not consumed", digest: true, parts: []int{3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := digestServer(t, newTestHTTPAuth(t, "digest-secret-0123456789"), c.digest)
			err := readDigest(t, a, c.rt, srv.URL, c.parts)
			if c.ok != (err == nil) || c.auth != errors.Is(err, ErrAuth) || (!c.ok && !c.auth && !errors.Is(err, ErrUnconsumed)) {
				t.Fatalf("err %v; want ok %v, authentication failure %v", err, c.ok, c.auth)
			}
		})
	}
}
