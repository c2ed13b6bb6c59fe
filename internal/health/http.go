package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// httpCheck GETs (or HEADs) a URL, follows redirects, then checks the final
// status and searches the first maxBytes of the body.
type httpCheck struct {
	url, method           string
	status                StatusSet
	mustHave, mustNotHave string
	maxBytes              int
	client                *http.Client
}

func newHTTP(c Config) *httpCheck {
	h := &httpCheck{
		url:         c.URL,
		method:      strings.ToUpper(c.Method),
		mustHave:    c.MustHave,
		mustNotHave: c.MustNotHave,
		maxBytes:    c.MaxBytes,
	}
	if h.method == "" {
		h.method = http.MethodGet
	}
	if h.maxBytes == 0 {
		h.maxBytes = DefaultMaxBytes
	}
	h.status, _ = ParseStatus(c.Status...) // checked by Validate
	dialer := &net.Dialer{}
	tr := &http.Transport{
		Proxy:       nil, // a health check talks to the target itself
		DialContext: dialer.DialContext,
		// every probe opens a fresh connection
		DisableKeepAlives: true,
		// insecure is the user's explicit choice
		TLSClientConfig: &tls.Config{InsecureSkipVerify: c.Insecure}, //nolint:gosec
	}
	if c.Addr != "" {
		target, addr := hostPort(c.URL), c.Addr
		if net.ParseIP(addr) != nil { // okerr's addr=IP: keep the URL's port
			_, port, _ := net.SplitHostPort(target)
			addr = net.JoinHostPort(addr, port)
		}
		tr.DialContext = overrideDial(dialer, target, addr)
	}
	h.client = &http.Client{Transport: tr}
	return h
}

// overrideDial connects to addr instead of target (the URL's own host:port);
// the Host header and TLS SNI still come from the URL. Redirects to other
// hosts or ports are dialled normally.
func overrideDial(d *net.Dialer, target, addr string) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, a string) (net.Conn, error) {
		if strings.EqualFold(a, target) {
			a = addr
		}
		return d.DialContext(ctx, network, a)
	}
}

// hostPort returns the host:port a URL connects to, with the scheme's default port.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func (h *httpCheck) probe(ctx context.Context) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "redund-health/1")
	resp, err := h.client.Do(req)
	if err != nil {
		return false, shortErr(err)
	}
	defer resp.Body.Close()
	code := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if !h.status.Has(resp.StatusCode) {
		return false, code
	}
	if h.mustHave == "" && h.mustNotHave == "" {
		return true, code
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(h.maxBytes)))
	if err != nil {
		return false, code + ": reading body: " + shortErr(err)
	}
	if h.mustHave != "" && !bytes.Contains(body, []byte(h.mustHave)) {
		return false, fmt.Sprintf("musthave %q not found in first %d bytes", h.mustHave, h.maxBytes)
	}
	if h.mustNotHave != "" && bytes.Contains(body, []byte(h.mustNotHave)) {
		return false, fmt.Sprintf("mustnothave %q found in first %d bytes", h.mustNotHave, h.maxBytes)
	}
	return true, code
}

// shortErr words a network error without the URL and addresses Go puts
// around it: "connect: connection refused", "tls: ...".
func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return oe.Err.Error()
		}
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}
