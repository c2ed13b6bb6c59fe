package dnsupdate

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
)

// HEURL is Hurricane Electric's dynamic DNS update endpoint.
const HEURL = "https://dyn.dns.he.net/nic/update"

// HEServer is the Hurricane Electric name server Get asks by default.
const HEServer = "ns1.he.net:53"

// HE sets A and AAAA records through Hurricane Electric's dynamic DNS
// (dyndns2-style POST of hostname, password, myip). HE answers HTTP 200
// even for errors, so the reply body decides: "good" and "nochg" are
// success, anything else (badauth, nohost, abuse, ...) is an error.
// HE has no read API; Get asks an authoritative server (HEServer) directly.
type HE struct {
	BaseURL  string        // default HEURL
	Password config.Secret // the record's dynamic DNS key
	Server   string        // DNS server for Get, default HEServer
	Timeout  time.Duration // per request, default DefaultTimeout
	Client   *http.Client
}

// HEError is an error reply of the HE endpoint.
type HEError struct {
	Code string // badauth, badsys, nohost, abuse, notfqdn, 911, ...
	Body string // the whole reply, trimmed
}

func (e *HEError) Error() string {
	return fmt.Sprintf("dnsupdate: he: %s (%s)", e.Body, heMeaning(e.Code))
}

func heMeaning(code string) string {
	switch code {
	case "badauth":
		return "wrong hostname or dynamic DNS key"
	case "badsys":
		return "bad system parameter"
	case "nohost":
		return "the host name does not exist or is not enabled for dynamic DNS"
	case "abuse":
		return "updates blocked for abuse, too many updates"
	case "notfqdn":
		return "the host name is not a fully qualified domain name"
	case "911":
		return "HE server problem, retry later"
	case "badagent":
		return "user agent refused"
	}
	return "unknown reply"
}

// Name is "he".
func (h *HE) Name() string { return "he" }

// Get asks h.Server (recursion off) for name/rtype: the records owned by
// name. A CNAME at name is an error: the address that follows it is the
// target's, and HE's dynamic DNS updates only A and AAAA records.
func (h *HE) Get(ctx context.Context, name, rtype string) ([]string, error) {
	qt, err := rrType(rtype)
	if err != nil {
		return nil, err
	}
	server := h.Server
	if server == "" {
		server = HEServer
	}
	r, err := exchange(ctx, server, name, qt, timeoutOr(h.Timeout), false)
	if err != nil {
		return nil, fmt.Errorf("dnsupdate: he: reading current value: %w", err)
	}
	vals, cname := ownValues(r.Answer, name, qt)
	if cname != "" {
		return nil, fmt.Errorf("dnsupdate: he: %s is a CNAME (to %s) at %s: its address is the target's, not a dynamic record's",
			strings.TrimSuffix(dns.Fqdn(name), "."), cname, server)
	}
	return vals, nil
}

// Set posts the new address. The reply text is returned on success.
func (h *HE) Set(ctx context.Context, r Record) (string, error) {
	if t := strings.ToUpper(r.Type); t != "A" && t != "AAAA" {
		return "", fmt.Errorf("dnsupdate: he: %s: %w", r.Type, ErrUnsupported)
	}
	base := h.BaseURL
	if base == "" {
		base = HEURL
	}
	form := url.Values{"hostname": {strings.TrimSuffix(r.Name, ".")}, "password": {h.Password.Reveal()}, "myip": {r.Value}}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(h.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("dnsupdate: he: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "redund-ddns")
	resp, err := httpClient(h.Client).Do(req)
	if err != nil {
		return "", fmt.Errorf("dnsupdate: he: POST: %w", stripURL(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("dnsupdate: he: reading reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return "", fmt.Errorf("dnsupdate: he: HTTP %d to %s (redirects are not followed): %s", resp.StatusCode, snippet([]byte(loc)), snippet(raw))
		}
		return "", fmt.Errorf("dnsupdate: he: HTTP %d: %s", resp.StatusCode, snippet(raw))
	}
	reply, err := ParseHEReply(string(raw))
	if err != nil {
		return "", err
	}
	if err := heSameAddress(reply, r.Value); err != nil {
		return "", err
	}
	return reply, nil
}

// heSameAddress checks that a good/nochg reply names the address that was
// sent: "good 192.0.2.9" after posting 192.0.2.1 (HE took another
// address, or the reply is not to this request) is no proof of the push.
func heSameAddress(reply, sent string) error {
	f := strings.Fields(reply)
	if len(f) < 2 {
		return fmt.Errorf("dnsupdate: he: reply %q names no address; sent %s", reply, sent)
	}
	got, err := netip.ParseAddr(f[1])
	want, werr := netip.ParseAddr(strings.TrimSpace(sent))
	if err != nil || werr != nil || got.Unmap() != want.Unmap() {
		return fmt.Errorf("dnsupdate: he: reply %q names another address than the one sent (%s)", snippet([]byte(reply)), sent)
	}
	return nil
}

// ParseHEReply interprets the body of an HE dynamic DNS reply: "good IP"
// and "nochg IP" are success (the trimmed body is returned), every other
// reply is an *HEError.
func ParseHEReply(body string) (string, error) {
	text := strings.TrimSpace(body)
	code := ""
	if f := strings.Fields(text); len(f) > 0 {
		code = strings.ToLower(f[0])
	}
	switch code {
	case "good", "nochg":
		return text, nil
	case "":
		return "", &HEError{Code: "", Body: "empty reply"}
	}
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	return "", &HEError{Code: code, Body: text}
}
