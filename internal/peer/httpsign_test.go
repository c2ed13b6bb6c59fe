package peer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const httpProto = "test/1"

func newTestHTTPAuth(t testing.TB, secret string) *HTTPAuth {
	t.Helper()
	a, err := NewHTTPAuth(HTTPAuthConfig{Secret: secret, Proto: httpProto,
		RequestHeaders: []string{"X-Node"}, ResponseHeaders: []string{"X-Info"}, ResponseTrailers: []string{"X-Sum"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// refusals are the errors a signedServer refused requests with.
type refusals struct {
	mu   sync.Mutex
	errs []error
}

func (r *refusals) add(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() }

func (r *refusals) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// signedServer echoes the verified request body, sets a signed header
// and trailer, and records what it refused.
func signedServer(t *testing.T, a *HTTPAuth) (*httptest.Server, *refusals) {
	refused := &refusals{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce, err := a.VerifyRequest(r, 1<<20)
		if err != nil {
			refused.add(err)
			if nonce != "" {
				sw := a.SignResponse(w, nonce)
				http.Error(sw, err.Error(), http.StatusUnauthorized)
				sw.Finish()
				return
			}
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		sw := a.SignResponse(w, nonce)
		defer sw.Finish()
		body, _ := io.ReadAll(r.Body)
		sw.Header().Set("X-Info", "info")
		_, _ = sw.Write([]byte("echo:"))
		_, _ = sw.Write(body)
		sw.Header().Set("X-Sum", "sum")
	}))
	t.Cleanup(srv.Close)
	return srv, refused
}

// call signs and sends a request through rt (nil: straight), then
// verifies the answer and returns its body.
func call(t *testing.T, a *HTTPAuth, rt http.RoundTripper, url string, body []byte, edit func(*http.Request)) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/x?a=1", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Node", "node-a")
	nonce := a.SignRequest(req, body)
	if edit != nil {
		edit(req)
	}
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
		return resp, nil, err
	}
	got, _ := io.ReadAll(resp.Body)
	if err := vb.Verify(); err != nil {
		return resp, nil, err
	}
	return resp, got, nil
}

func TestHTTPAuthRoundTrip(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	srv, refused := signedServer(t, newTestHTTPAuth(t, testSecret))
	resp, got, err := call(t, a, nil, srv.URL, []byte("hello"), nil)
	if err != nil || string(got) != "echo:hello" || resp.Trailer.Get("X-Sum") != "sum" {
		t.Fatalf("round trip: %q %v (refused %v)", got, err, refused.all())
	}
	if _, got, err := call(t, a, nil, srv.URL, nil, nil); err != nil || string(got) != "echo:" {
		t.Fatalf("empty body: %q %v", got, err)
	}
}

func TestHTTPAuthRequestRefused(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	srv, refused := signedServer(t, newTestHTTPAuth(t, testSecret))
	setAuth := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(HeaderAuth, v) } }
	cases := []struct {
		name string
		edit func(*http.Request)
		want string
	}{
		{"body changed", func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader("HELLO")) }, "body does not match"},
		{"signed header changed", func(r *http.Request) { r.Header.Set("X-Node", "node-b") }, "wrong MAC"},
		{"query changed", func(r *http.Request) { r.URL.RawQuery = "a=2" }, "wrong MAC"},
		{"no header", func(r *http.Request) { r.Header.Del(HeaderAuth) }, "no X-Redund-Auth"},
		{"old layout", setAuth("v1 1700000000 0123456789abcdef0123456789abcdef " + strings.Repeat("ab", 32)), "speaks v1, this node test/1"},
		{"other proto", func(r *http.Request) {
			r.Header.Set(HeaderAuth, strings.Replace(r.Header.Get(HeaderAuth), httpProto, "test/2", 1))
		}, "speaks test/2"},
		{"garbage", setAuth("%%% {}"), "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(refused.all())
			resp, _, _ := call(t, a, nil, srv.URL, []byte("hello"), c.edit)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("accepted: HTTP %d", resp.StatusCode)
			}
			errs := refused.all()
			if len(errs) != n+1 || !strings.Contains(errs[n].Error(), c.want) || !errors.Is(errs[n], ErrAuth) {
				t.Fatalf("server refused with %v, want %q", errs[n:], c.want)
			}
		})
	}
	var pe *ProtoError
	if errs := refused.all(); !errors.As(errs[4], &pe) || pe.Remote != "v1" {
		t.Fatalf("old layout: %#v", errs[4])
	}
}

func TestHTTPAuthReplayAndClock(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	srv, _ := signedServer(t, newTestHTTPAuth(t, testSecret))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	a.SignRequest(req, nil)
	for i, want := range []int{200, 401} {
		r2 := req.Clone(req.Context())
		resp, err := http.DefaultClient.Do(r2)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("send %d: HTTP %d, want %d", i, resp.StatusCode, want)
		}
	}
	// a client whose clock is 2 minutes ahead: the refusal is signed, so
	// the client can show its reason
	ahead := newTestHTTPAuth(t, testSecret)
	ahead.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	resp, _, err := call(t, ahead, nil, srv.URL, nil, nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("clock skew: HTTP %d %v", resp.StatusCode, err)
	}
	// a request reflected back to the node that signed it
	self, refused := signedServer(t, a)
	resp, _, _ = call(t, a, nil, self.URL, nil, nil)
	if errs := refused.all(); resp.StatusCode != http.StatusUnauthorized || len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), "reflected") {
		t.Fatalf("reflected request: HTTP %d, refused %v", resp.StatusCode, errs)
	}
}

// tamper is an on-path RoundTripper that rewrites answers.
type tamper func(*http.Response)

func (f tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		f(resp)
	}
	return resp, err
}

// rebody reads the whole answer (trailers arrive) and serves edit(body).
func rebody(edit func([]byte) []byte) tamper {
	return func(resp *http.Response) {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr := resp.Trailer
		resp.Body = &trailerBody{r: bytes.NewReader(edit(b)), resp: resp, trailer: tr}
		resp.Trailer = http.Header{}
	}
}

// trailerBody restores the trailers at EOF, as the transport does.
type trailerBody struct {
	r       io.Reader
	resp    *http.Response
	trailer http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		for k, v := range b.trailer {
			b.resp.Trailer[k] = v
		}
	}
	return n, err
}
func (b *trailerBody) Close() error { return nil }

func TestHTTPAuthAnswerRefused(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	srv, _ := signedServer(t, newTestHTTPAuth(t, testSecret))
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "\x1b[2J stranger text", http.StatusUnauthorized)
	}))
	t.Cleanup(stranger.Close)
	cases := []struct {
		name string
		url  string
		rt   tamper
		want string
	}{
		{"body changed", srv.URL, rebody(func(b []byte) []byte { return append(b, '!') }), "body or trailers do not match"},
		{"body cut", srv.URL, rebody(func(b []byte) []byte { return b[:2] }), "body or trailers do not match"},
		{"status changed", srv.URL, func(r *http.Response) { r.StatusCode = 410 }, "does not know the shared secret, or the answer was changed"},
		{"signed header changed", srv.URL, func(r *http.Response) { r.Header.Set("X-Info", "lie") }, "changed on the way"},
		{"signed trailer changed", srv.URL, rebody(func(b []byte) []byte { return b }).then(func(r *http.Response) {
			r.Body.(*trailerBody).trailer.Set("X-Sum", "lie")
		}), "body or trailers do not match"},
		{"trailer dropped", srv.URL, rebody(func(b []byte) []byte { return b }).then(func(r *http.Response) {
			r.Body.(*trailerBody).trailer.Del(TrailerBodyProof)
		}), "body or trailers do not match"},
		{"stranger", stranger.URL, func(*http.Response) {}, "names no protocol"},
		{"other proto", stranger.URL, func(r *http.Response) { r.Header.Set(HeaderProto, "test/9") }, "speaks test/9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got, err := call(t, a, c.rt, c.url, []byte("hello"), nil)
			if err == nil || !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %q, %v; want an error with %q", got, err, c.want)
			}
			if strings.Contains(err.Error(), "stranger text") {
				t.Fatalf("unauthenticated text in the error: %v", err)
			}
		})
	}
	// a valid answer to another request (another nonce) is no answer
	other := newTestHTTPAuth(t, "another secret, same length..")
	if _, _, err := call(t, other, nil, srv.URL, nil, nil); err == nil {
		t.Fatal("a node with another secret accepted the answer")
	}
}

func (f tamper) then(g func(*http.Response)) tamper {
	return func(r *http.Response) { f(r); g(r) }
}

// TestVerifiedBodyReadFailsAtEnd: a reader that consumes the body to EOF
// (io.Copy into a file) gets the authentication error instead of io.EOF.
func TestVerifiedBodyReadFailsAtEnd(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	srv, _ := signedServer(t, newTestHTTPAuth(t, testSecret))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader("data"))
	nonce := a.SignRequest(req, []byte("data"))
	resp, err := (&http.Client{Transport: rebody(func(b []byte) []byte { return bytes.ToUpper(b) })}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := a.VerifyResponse(resp, nonce); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, resp.Body); !errors.Is(err, ErrAuth) {
		t.Fatalf("io.Copy of a changed body ended with %v", err)
	}
}

func TestNewHTTPAuthChecks(t *testing.T) {
	for _, c := range []HTTPAuthConfig{{Proto: "x/1"}, {Secret: "s", Proto: "bad proto"}, {Secret: "s"}} {
		t.Run(fmt.Sprintf("proto=%s secret=%t", c.Proto, c.Secret != ""), func(t *testing.T) {
			if _, err := NewHTTPAuth(c); err == nil {
				t.Errorf("accepted %+v", c)
			}
		})
	}
}

// FuzzParseAuthHeader: the request header parser never panics, accepts
// only the canonical form, and names a proto only when it is well formed.
func FuzzParseAuthHeader(f *testing.F) {
	a := newTestHTTPAuth(f, testSecret)
	req, _ := http.NewRequest(http.MethodGet, "http://x/y", nil)
	a.SignRequest(req, nil)
	f.Add(req.Header.Get(HeaderAuth))
	f.Add("v1 1700000000 0123456789abcdef0123456789abcdef " + strings.Repeat("ab", 32))
	f.Add("test/1 017 " + strings.Repeat("0", 32) + " " + strings.Repeat("0", 64) + " " + strings.Repeat("0", 64))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		af, err := parseAuthHeader(s)
		if af.proto != "" && !validProto(af.proto) {
			t.Fatalf("named a malformed proto %q", af.proto)
		}
		if err != nil {
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("error %v does not wrap ErrAuth", err)
			}
			return
		}
		back := fmt.Sprintf("%s %d %x %x %x", af.proto, af.ms, af.nonce, af.body, af.mac)
		if back != s {
			t.Fatalf("accepted a non-canonical header %q (canonical %q)", s, back)
		}
	})
}

// TestHTTPAuthReplayGetsNoSignedAnswer: a request whose nonce was seen
// before is only ever a replay or a reflection (a node never sends a nonce
// twice), so its refusal is not signed. A signed refusal would be an
// authenticated answer to the nonce of a request still waiting for its
// own: whoever answers on the peer's address could send a node's requests
// back to the node itself (which has the nonce in its cache) and hand it
// the signed refusal as the peer's answer, so that the node believes an
// absent peer answered; an on-path host could replace the real answer to
// an applied request with a signed refusal of its replay.
func TestHTTPAuthReplayGetsNoSignedAnswer(t *testing.T) {
	a := newTestHTTPAuth(t, testSecret)
	other, otherRefused := signedServer(t, newTestHTTPAuth(t, testSecret))
	self, selfRefused := signedServer(t, a) // the signer's own server
	cases := []struct {
		name    string
		first   string // where the request goes first ("" nowhere)
		then    string // where it is sent again
		refused *refusals
	}{
		{"replayed to the node that answered it", other.URL, other.URL, otherRefused},
		{"reflected to the node that signed it", "", self.URL, selfRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, c.then+"/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			nonce := a.SignRequest(req, nil)
			if c.first != "" {
				resp, err := http.DefaultClient.Do(req.Clone(req.Context()))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("first send: HTTP %d", resp.StatusCode)
				}
			}
			n := len(c.refused.all())
			resp, err := http.DefaultClient.Do(req.Clone(req.Context()))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if errs := c.refused.all(); resp.StatusCode != http.StatusUnauthorized || len(errs) != n+1 ||
				!strings.Contains(errs[n].Error(), "replayed") {
				t.Fatalf("HTTP %d, refused %v", resp.StatusCode, errs[n:])
			}
			if _, err := a.VerifyResponse(resp, nonce); !errors.Is(err, ErrAuth) {
				t.Fatalf("the refusal of a replay verifies as an answer to its nonce (err %v)", err)
			}
		})
	}
}
