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
	return &peerClient{n: n, base: strings.TrimSuffix(n.cfg.Peer, "/"), hc: &http.Client{Transport: tr}}, nil
}

// refusedError is a 409 from the peer: incompatible, or not in the right role.
type refusedError struct {
	reason string
	peer   nodeInfo
}

func (e *refusedError) Error() string { return "peer refused: " + e.reason }

// do sends an authenticated request; the response is the caller's to close
// on success.
func (c *peerClient) do(ctx context.Context, method, uri string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+uri, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set(nodeHeader, encodeInfo(c.n.info()))
	nonce := c.n.auth.sign(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%w: peer says %s", errAuth, strings.TrimSpace(string(msg)))
	}
	if err := c.n.auth.check(resp, nonce); err != nil {
		resp.Body.Close()
		return nil, err
	}
	c.n.touchPeer()
	if resp.StatusCode == http.StatusConflict {
		defer resp.Body.Close()
		var hr helloReply
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&hr)
		return nil, &refusedError{reason: orDefault(hr.Refused, "refused"), peer: hr.Node}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &statusError{code: resp.StatusCode, msg: strings.TrimSpace(string(msg))}
	}
	return resp, nil
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
	resp, err := c.do(ctx, http.MethodGet, "/v1/hello", nil)
	if err != nil {
		return nodeInfo{}, err
	}
	defer resp.Body.Close()
	var hr helloReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&hr); err != nil {
		return nodeInfo{}, fmt.Errorf("schedsync: hello: %w", err)
	}
	return hr.Node, nil
}

func (c *peerClient) batch(ctx context.Context, uri string) (Batch, error) {
	resp, err := c.do(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return Batch{}, err
	}
	defer resp.Body.Close()
	return decodeBatch(resp.Body)
}

func (c *peerClient) manifest(ctx context.Context) (Batch, error) {
	return c.batch(ctx, "/v1/manifest")
}

func (c *peerClient) changes(ctx context.Context, logID string, since uint64, wait time.Duration) (Batch, error) {
	return c.batch(ctx, "/v1/changes?log="+logID+"&since="+strconv.FormatUint(since, 10)+"&wait="+wait.String())
}

// files streams whole files; fn reads exactly rec.Size bytes from r.
func (c *peerClient) files(ctx context.Context, paths []string, fn func(rec fileRecord, r io.Reader) error) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/files", encodePaths(paths))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	for _, want := range paths {
		rec, err := readFileRecord(br, 1<<50)
		if err != nil {
			return err
		}
		if rec.Path != want {
			return fmt.Errorf("%w: got %q, asked for %q", errBadStream, rec.Path, want)
		}
		lr := &io.LimitedReader{R: br, N: rec.Size}
		if err := fn(rec, lr); err != nil {
			return err
		}
		if lr.N > 0 {
			if _, err := io.Copy(io.Discard, lr); err != nil {
				return err
			}
		}
	}
	return nil
}

// delta asks for a delta; once the body is read, resp.Trailer holds
// hashHeader when the primary vouches that it sent the manifest's version.
func (c *peerClient) delta(ctx context.Context, p string, sig []byte) (*http.Response, error) {
	return c.do(ctx, http.MethodPost, "/v1/delta?path="+urlQueryEscape(p), sig)
}

func (c *peerClient) post(ctx context.Context, uri string) error {
	resp, err := c.do(ctx, http.MethodPost, uri, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// helloLoop shakes hands with the peer every peer_timeout/3: it keeps the
// peer view (and so a primary's status) current and finds two primaries.
func (n *Node) helloLoop(ctx context.Context) {
	every := max(n.peerTimeout/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, n.peerTimeout)
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
		n.refreshState()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
