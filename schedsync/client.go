package schedsync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redund/redund/internal/peer"
)

// peerClient talks to the other node.
type peerClient struct {
	n    *Node
	base string
	hc   *http.Client
}

func newPeerClient(n *Node) (*peerClient, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if n.cfg.usesTLS() {
		tc, err := n.cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a 3xx is an error (do), never followed
	}}
	return &peerClient{n: n, base: strings.TrimSuffix(n.cfg.Peer, "/"), hc: hc}, nil
}

// refusedError is a 409 from the peer: incompatible, or not in the right role.
type refusedError struct {
	reason string
	peer   nodeInfo
}

func (e *refusedError) Error() string { return "peer refused: " + e.reason }

// answer is a 2xx answer whose head is authenticated. Nothing read from
// its body may be applied or committed before verify returns nil.
type answer struct {
	*http.Response
	vb *peer.VerifiedBody // nil when pinned TLS alone authenticates the link
}

// verify reads what is left of the body and checks it, and the signed
// trailers, against the body proof.
func (a answer) verify() error {
	if a.vb == nil {
		return nil
	}
	if err := a.vb.Verify(); err != nil {
		return fmt.Errorf("schedsync: %w", err)
	}
	return nil
}

// explain returns the verification error when the body did not match its
// proof (a changed body explains a decoding error), else err.
func (a answer) explain(err error) error {
	if verr := a.verify(); errors.Is(verr, errAuth) {
		return verr
	}
	return err
}

// do sends an authenticated request; the answer is the caller's to close
// on success. A redirect, an answer without a valid proof and a refusal
// are errors; the text of a refusal is shown only once its body verified.
func (c *peerClient) do(ctx context.Context, method, uri string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+uri, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set(nodeHeader, encodeInfo(c.n.info()))
	var nonce string
	if c.n.auth != nil {
		nonce = c.n.auth.SignRequest(req, body)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	ans := answer{Response: resp}
	if resp.StatusCode/100 == 3 {
		resp.Body.Close()
		c.n.metrics.badAnswers.Inc()
		return answer{}, fmt.Errorf("schedsync: the peer answered with a redirect (HTTP %d); redirects are not followed", resp.StatusCode)
	}
	if c.n.auth != nil {
		if ans.vb, err = c.n.auth.VerifyResponse(resp, nonce); err != nil {
			resp.Body.Close()
			c.n.metrics.badAnswers.Inc()
			if resp.Header.Get(peer.HeaderProto) == c.n.auth.Proto() {
				return answer{}, &secretsDifferError{err} // a node of this protocol answered: alive
			}
			return answer{}, fmt.Errorf("schedsync: %w", err)
		}
	}
	c.n.touchPeer()
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return answer{}, c.refusal(ans)
	}
	if servesData(uri) { // the primary publishes: it held the lock when it answered
		c.n.noteServed()
		resp.Body = &servedBody{ReadCloser: resp.Body, n: c.n}
	}
	return ans, nil
}

// servesData reports whether uri is one of the endpoints a primary
// answers only while it may publish (server.go: auth0 with dataOnly).
func servesData(uri string) bool {
	p, _, _ := strings.Cut(uri, "?")
	switch p {
	case "/v1/manifest", "/v1/changes", "/v1/files", "/v1/delta", rehashPath:
		return true
	}
	return false
}

// servedBody is the body of a data answer: as long as its bytes keep
// coming, the primary is serving this node (the witness rule's failover
// clock does not run during a long transfer).
type servedBody struct {
	io.ReadCloser
	n *Node
}

func (b *servedBody) Read(p []byte) (int, error) {
	k, err := b.ReadCloser.Read(p)
	if k > 0 {
		b.n.noteServing()
	}
	return k, err
}

// refusal turns a non-2xx answer into an error, once its body verified.
func (c *peerClient) refusal(ans answer) error {
	msg, _ := io.ReadAll(io.LimitReader(ans.Body, 64<<10))
	if err := ans.verify(); err != nil {
		c.n.metrics.badAnswers.Inc()
		return err
	}
	switch ans.StatusCode {
	case http.StatusConflict:
		var hr helloReply
		_ = json.Unmarshal(msg, &hr)
		return &refusedError{reason: orDefault(clean(hr.Refused), "refused"), peer: hr.Node}
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: the peer refused the request: %s", errAuth, clean(string(msg)))
	}
	return &statusError{code: ans.StatusCode, msg: clean(string(msg))}
}

// shortErr drops the method and URL that net/http puts around transport
// errors: the status reason shows "dial tcp ...: connection refused".
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("peer: HTTP %d: %s", e.code, e.msg) }

func (c *peerClient) hello(ctx context.Context) (nodeInfo, error) {
	ans, err := c.do(ctx, http.MethodGet, "/v1/hello", nil)
	if err != nil {
		return nodeInfo{}, err
	}
	defer ans.Body.Close()
	var hr helloReply
	if err := json.NewDecoder(io.LimitReader(ans.Body, 64<<10)).Decode(&hr); err != nil {
		return nodeInfo{}, ans.explain(fmt.Errorf("schedsync: hello: %w", err))
	}
	return hr.Node, ans.verify()
}

func (c *peerClient) batch(ctx context.Context, uri string) (Batch, error) {
	ans, err := c.do(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return Batch{}, err
	}
	defer ans.Body.Close()
	var body io.Reader = ans.Body
	if ans.vb != nil {
		// Read to its end and proven before a byte is decoded: decoding
		// allocates up to 100 times what the body cost to send (an entry
		// of 7 bytes is an Entry of 104, in a slice grown by doubling), so
		// a body changed on the way (the head proof covers only the head)
		// made this node allocate 1.4 GB for 14 MB before its proof failed.
		sp, err := c.n.w.spool(ans.Body)
		if err != nil {
			return Batch{}, ans.explain(err)
		}
		defer sp.Close()
		body = sp
	}
	b, err := decodeBatch(body)
	if err != nil {
		return Batch{}, ans.explain(err)
	}
	return b, ans.verify()
}

func (c *peerClient) manifest(ctx context.Context) (Batch, error) {
	return c.batch(ctx, "/v1/manifest")
}

func (c *peerClient) changes(ctx context.Context, logID string, since uint64, wait time.Duration) (Batch, error) {
	return c.batch(ctx, "/v1/changes?log="+logID+"&since="+strconv.FormatUint(since, 10)+"&wait="+wait.String())
}

// files streams whole files; fn reads exactly rec.Size bytes from r. fn
// only writes temporary files: the caller commits none of them unless
// files returns nil, which it does only when the whole stream verified.
func (c *peerClient) files(ctx context.Context, paths []string, fn func(rec fileRecord, r *contentReader) error) error {
	ans, err := c.do(ctx, http.MethodPost, "/v1/files", encodePaths(paths))
	if err != nil {
		return err
	}
	defer ans.Body.Close()
	var d streamDigest
	if ans.vb != nil { // the proof covers the stream's digest (filestream.go)
		d = newStreamDigest()
		ans.vb.UseDigest(d.Hash)
	}
	if err := readFiles(ans.Body, paths, d, ans.vb, fn); err != nil {
		var se streamError
		if !errors.As(err, &se) {
			return ans.explain(err)
		}
		if ans.vb == nil {
			return se.err
		}
		// A stream that could not be decoded leaves the digest, and so the
		// proof, unchecked unless it ended there: its text (a path) is
		// shown only when the proof verified.
		switch verr := ans.verify(); {
		case verr == nil:
			return se.err
		case errors.Is(verr, peer.ErrUnconsumed):
			c.n.metrics.badAnswers.Inc()
			return fmt.Errorf("schedsync: %w: answer (HTTP %d) not authenticated: its file stream could not be decoded, "+
				"so its proof could not be checked (changed on the way?)", errAuth, ans.StatusCode)
		default:
			return verr // a network error, or the proof did not match
		}
	}
	return ans.verify()
}

// streamError is a file stream that could not be decoded; its text may
// quote the stream.
type streamError struct{ err error }

func (e streamError) Error() string { return e.err.Error() }
func (e streamError) Unwrap() error { return e.err }

// readFiles reads the records of paths from body, giving each file's
// content to fn (what fn does not read is read after it), and computes
// the stream digest into d (when d.Hash is not nil), telling vb (when
// not nil) how much of the body it covered.
func readFiles(body io.Reader, paths []string, d streamDigest, vb *peer.VerifiedBody,
	fn func(rec fileRecord, r *contentReader) error) error {
	br := bufio.NewReaderSize(body, 256<<10)
	hr := &headerReader{br: br, d: d}
	cr := &contentReader{h: newContentHash()}
	for _, want := range paths {
		hr.n = 0
		rec, err := readFileRecord(hr, 1<<50)
		if err != nil {
			return streamError{err}
		}
		if rec.Path != want {
			return streamError{fmt.Errorf("%w: got %q, asked for %q", errBadStream, rec.Path, want)}
		}
		if vb != nil {
			vb.Consumed(hr.n)
		}
		if !rec.OK {
			if err := fn(rec, nil); err != nil {
				return err
			}
			continue
		}
		cr.reset(br, rec.Size)
		if err := fn(rec, cr); err != nil {
			return err
		}
		if cr.lr.N > 0 {
			buf := copyBufs.Get().(*[]byte)
			_, err := io.CopyBuffer(io.Discard, onlyReader{cr}, *buf)
			copyBufs.Put(buf)
			if err != nil {
				return err
			}
		}
		if cr.lr.N > 0 {
			return streamError{fmt.Errorf("%w: %s cut short", errBadStream, rec.Path)}
		}
		if vb != nil {
			vb.Consumed(rec.Size)
		}
	}
	return nil
}

// onlyReader hides everything but Read (io.Discard's ReadFrom would not
// use the buffer given to io.CopyBuffer).
type onlyReader struct{ io.Reader }

// delta asks for a delta; once the body is read and verified, Trailer
// holds hashHeader, the content hash (contenthash.go) of the content the primary read.
func (c *peerClient) delta(ctx context.Context, p string, sig []byte) (answer, error) {
	return c.do(ctx, http.MethodPost, "/v1/delta?path="+urlQueryEscape(p), sig)
}

func (c *peerClient) post(ctx context.Context, uri string) error {
	ans, err := c.do(ctx, http.MethodPost, uri, nil)
	if err != nil {
		return err
	}
	defer ans.Body.Close()
	return ans.verify()
}

// helloLoop shakes hands with the peer every peer_timeout/3: it keeps the
// peer view (and so a primary's status) current and finds two primaries.
func (n *Node) helloLoop(ctx context.Context) {
	every := max(n.peerTimeout()/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, n.peerTimeout())
		info, err := n.client.hello(hctx)
		cancel()
		var re *refusedError
		switch {
		case err == nil:
			n.notePeer(info, "")
		case asRefused(err, &re):
			n.notePeer(re.peer, n.refusedReason(re))
		case ctx.Err() == nil:
			n.notePeerError(err)
		}
		if ff, judge := n.refreshState(); judge && ctx.Err() == nil {
			// not only the sync loop's failures: a transfer stalled on a
			// cut link fails no request for minutes
			n.failoverIfDue(ff)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
