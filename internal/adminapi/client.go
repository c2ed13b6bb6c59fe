package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redund/redund/internal/status"
)

// DefaultTimeout bounds one status fetch when FetchAll is given none.
const DefaultTimeout = 2 * time.Second

// maxReport bounds the size of a status document a client reads.
const maxReport = 8 << 20

// maxParallel bounds how many endpoints FetchAll asks at once.
const maxParallel = 16

// Result is what one endpoint answered: a Report, or the error that kept it
// from answering.
type Result struct {
	Endpoint string
	Report   status.Report
	Err      error
	// At is when the answer, or the failure, came (zero: not fetched):
	// a script reading --watch --json can tell a frame's age.
	At time.Time `json:"-"`
	// Last is the endpoint's last good report, when a live view had one
	// before Err: its instances stay in the table, marked unreachable.
	Last *status.Report `json:"-"`
}

// MarshalJSON writes {"endpoint": ..., "at": ..., "report": {...}} or
// {"endpoint": ..., "at": ..., "error": "..."} ("at" omitted when zero).
func (r Result) MarshalJSON() ([]byte, error) {
	var at *time.Time
	if !r.At.IsZero() {
		at = &r.At
	}
	if r.Err != nil {
		return json.Marshal(struct {
			Endpoint string     `json:"endpoint"`
			At       *time.Time `json:"at,omitempty"`
			Error    string     `json:"error"`
		}{r.Endpoint, at, r.Err.Error()})
	}
	return json.Marshal(struct {
		Endpoint string        `json:"endpoint"`
		At       *time.Time    `json:"at,omitempty"`
		Report   status.Report `json:"report"`
	}{r.Endpoint, at, r.Report})
}

// Client fetches status documents from admin endpoints. The zero value is
// ready to use and ignores proxy settings (admin endpoints are local).
type Client struct {
	// HTTP is the client used for TCP endpoints; nil means one without
	// proxy or keep-alive.
	HTTP *http.Client
	// Trust decides which admin sockets ("unix:/path" endpoints) are
	// believed; nil means DefaultTrust (root and the calling user).
	Trust *SocketTrust
}

func (c *Client) httpClient() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
		DialContext: (&net.Dialer{}).DialContext}, CheckRedirect: noRedirect}
}

// clientFor is the HTTP client for endpoint: over its admin socket, dialed
// only once c's Trust accepts it (SocketTrust.Dial), for a socket endpoint.
func (c *Client) clientFor(endpoint string) *http.Client {
	path, ok := SocketOf(endpoint)
	if !ok {
		return c.httpClient()
	}
	trust := DefaultTrust()
	if c != nil && c.Trust != nil {
		trust = c.Trust
	}
	return &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return trust.Dial(ctx, path) }},
		CheckRedirect: noRedirect}
}

// noRedirect: an admin listener never redirects, so a redirect is not
// followed but answered as it is (an HTTP 3xx error). Followed, it would
// carry the operator's request, and its bearer token to the same host
// (which Go's client keeps on a redirect), to whatever answers there.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// socketURL is the base URL of requests over an admin socket (its host
// is only the Host header: Guard accepts localhost).
const socketURL = "http://localhost"

// StatusURL turns an endpoint, "host:port", a URL or an admin socket
// ("unix:/path"), into the URL of its status document. A wildcard host
// (":9180", "0.0.0.0:9180", "[::]:9180") means this machine.
func StatusURL(endpoint string) (string, error) {
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "", errors.New("empty endpoint")
	}
	if path, ok := SocketOf(e); ok {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("endpoint %q: an admin socket needs an absolute path", endpoint)
		}
		return socketURL + "/v1/status", nil
	}
	if !strings.Contains(e, "://") {
		host, port, err := net.SplitHostPort(e)
		if n, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil || n == 0 {
			return "", fmt.Errorf("endpoint %q: want host:port or a URL", endpoint)
		}
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::":
			host = "::1"
		}
		e = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: want host:port or an http(s) URL", endpoint)
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	if !strings.HasSuffix(u.Path, "/v1/status") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/status"
	}
	return u.String(), nil
}

// Fetch reads the status report of one endpoint ("host:port" or a URL).
func (c *Client) Fetch(ctx context.Context, endpoint string) (status.Report, error) {
	u, err := StatusURL(endpoint)
	if err != nil {
		return status.Report{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return status.Report{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.clientFor(endpoint).Do(req)
	if err != nil {
		return status.Report{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if _, ok := SocketOf(endpoint); ok {
			u = endpoint
		}
		return status.Report{}, fmt.Errorf("HTTP %s from %s%s", resp.Status, u, refusal(resp.Body))
	}
	return status.Decode(io.LimitReader(resp.Body, maxReport))
}

// Fetch reads one endpoint with a zero Client.
func Fetch(ctx context.Context, endpoint string) (status.Report, error) {
	return (&Client{}).Fetch(ctx, endpoint)
}

// FetchAll asks every endpoint at once, each bounded by timeout
// (DefaultTimeout when zero or less), and returns one Result per endpoint
// in the order given.
func (c *Client) FetchAll(ctx context.Context, endpoints []string, timeout time.Duration) []Result {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	out := make([]Result, len(endpoints))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep, err := c.Fetch(fctx, ep)
			if err != nil && fctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
				err = &TimeoutError{After: timeout, Err: err}
			}
			out[i] = Result{Endpoint: ep, Report: rep, Err: err, At: time.Now().UTC().Truncate(time.Millisecond)}
		}()
	}
	wg.Wait()
	return out
}

// FetchAll asks every endpoint with a zero Client.
func FetchAll(ctx context.Context, endpoints []string, timeout time.Duration) []Result {
	return (&Client{}).FetchAll(ctx, endpoints, timeout)
}

// refusal is ": " and the first line of a short error answer (e.g. why
// the Host was refused), or "" when there is none.
func refusal(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 512))
	var e struct {
		Error string `json:"error"`
	}
	text := string(raw)
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		text = e.Error
	}
	text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	if text == "" || strings.ContainsFunc(text, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return ""
	}
	return ": " + text
}

// Reason shortens a fetch error to what an operator needs in one cell:
// "connection refused", "no answer within 2s", "HTTP 404 Not Found ...".
func Reason(err error) string {
	var te *TimeoutError
	var ue *url.Error
	var de *net.DNSError
	var oe *net.OpError
	var se *SocketRefusedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return te.Error()
	case errors.As(err, &se): // the endpoint names the socket
		return "socket refused: " + se.Reason
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &de):
		return "cannot resolve " + de.Name
	case errors.As(err, &oe) && oe.Err != nil:
		return oe.Err.Error()
	case errors.As(err, &ue):
		return ue.Err.Error()
	}
	return err.Error()
}

// TimeoutError is a fetch that got no answer in time.
type TimeoutError struct {
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.After) }

// Unwrap gives the underlying error.
func (e *TimeoutError) Unwrap() error { return e.Err }
