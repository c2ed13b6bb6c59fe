package dnsupdate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/text"
)

// CloudflareURL is the base of Cloudflare's API v4.
const CloudflareURL = "https://api.cloudflare.com/client/v4"

// maxReply bounds how much of an HTTP reply body is read.
const maxReply = 1 << 20

// Cloudflare sets records through Cloudflare's API v4 with an API token
// (Bearer). The zone is found by name once; records are looked up by type
// and name, every page read, then updated (PATCH) or created (POST).
type Cloudflare struct {
	BaseURL string        // default CloudflareURL
	Token   config.Secret // API token with Zone.DNS edit permission
	Zone    string        // zone name, e.g. "example.com"
	Proxied bool          // proxied flag for records this provider creates
	Timeout time.Duration // per request, default DefaultTimeout
	PerPage int           // page size for list calls, default 100
	Client  *http.Client  // default: a client with Timeout

	mu     sync.Mutex
	zoneID string
}

// cfReply is the envelope of every Cloudflare API v4 reply.
type cfReply struct {
	Success    bool            `json:"success"`
	Errors     []cfMessage     `json:"errors"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *struct {
		Page       int `json:"page"`
		TotalPages int `json:"total_pages"`
	} `json:"result_info"`
}

type cfMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type cfRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
	TTL     int    `json:"ttl,omitempty"`
	Proxied *bool  `json:"proxied,omitempty"`
}

// CloudflareError is a reply with success=false or an HTTP error status.
type CloudflareError struct {
	Status int // HTTP status
	Errors []cfMessage
}

func (e *CloudflareError) Error() string {
	parts := make([]string, 0, len(e.Errors))
	for _, m := range e.Errors {
		if m.Code == 0 {
			parts = append(parts, text.Clean(m.Message)) // ours ("reply is not JSON"), or a reply without a code
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s", m.Code, text.Clean(m.Message)))
	}
	if len(parts) == 0 {
		parts = append(parts, http.StatusText(e.Status))
	}
	return fmt.Sprintf("dnsupdate: cloudflare: HTTP %d: %s", e.Status, strings.Join(parts, "; "))
}

// Name is "cloudflare".
func (c *Cloudflare) Name() string { return "cloudflare" }

// Get returns the contents of every name/rtype record in the zone.
func (c *Cloudflare) Get(ctx context.Context, name, rtype string) ([]string, error) {
	recs, err := c.records(ctx, name, rtype)
	if err != nil {
		return nil, err
	}
	vals := make([]string, len(recs))
	for i, r := range recs {
		vals[i] = r.Content
	}
	return sortValues(rtype, vals), nil
}

// Set updates the first name/rtype record (creating one when there is
// none) and deletes any others, so that value is the only answer.
func (c *Cloudflare) Set(ctx context.Context, r Record) (string, error) {
	if _, err := rrType(r.Type); err != nil {
		return "", err
	}
	recs, err := c.records(ctx, r.Name, r.Type)
	if err != nil {
		return "", err
	}
	if r.If != nil {
		// not atomic (the API has no condition), but this listing is one
		// request before the change: a caller that read long ago (a ddns
		// leader deposed while paused) finds what was written since
		have := make([]string, len(recs))
		for i, rec := range recs {
			have[i] = rec.Content
		}
		have = sortValues(r.Type, have)
		if !slices.Equal(have, sortValues(r.Type, r.If.Values)) {
			return "", fmt.Errorf("dnsupdate: cloudflare: %w: required %v, the zone has %v", ErrConditionFailed, r.If.Values, have)
		}
	}
	zone, _ := c.zone(ctx)
	ttl := cfTTL(r.TTL)
	if strings.EqualFold(r.Type, "CNAME") {
		r.Value = strings.TrimSuffix(r.Value, ".") // Cloudflare writes targets without the root dot
	}
	var reply string
	if len(recs) == 0 {
		body := cfRecord{Type: strings.ToUpper(r.Type), Name: cfName(r.Name), Content: r.Value, TTL: ttl, Proxied: &c.Proxied}
		var out cfRecord
		if err := c.call(ctx, http.MethodPost, "/zones/"+zone+"/dns_records", body, &out); err != nil {
			return "", err
		}
		if err := cfSameRecord(http.MethodPost, out, "", r); err != nil {
			return "", err
		}
		reply = "created record " + out.ID
	} else {
		var out cfRecord
		path := "/zones/" + zone + "/dns_records/" + recs[0].ID
		if err := c.call(ctx, http.MethodPatch, path, cfRecord{Content: r.Value, TTL: ttl}, &out); err != nil {
			return "", err
		}
		if err := cfSameRecord(http.MethodPatch, out, recs[0].ID, r); err != nil {
			return "", err
		}
		reply = "updated record " + recs[0].ID
	}
	for _, extra := range recs[min(1, len(recs)):] {
		if err := c.call(ctx, http.MethodDelete, "/zones/"+zone+"/dns_records/"+extra.ID, nil, nil); err != nil {
			return "", err
		}
		reply += ", deleted " + extra.ID
	}
	return reply, nil
}

// cfSameRecord checks the record a POST or PATCH returned: a success
// envelope is not proof enough that the record now holds r.Value, so the
// record in the result must be the one changed (id; any id for a POST),
// of r's name and type, with r's value.
func cfSameRecord(method string, out cfRecord, id string, r Record) error {
	var bad []string
	switch {
	case out.ID == "":
		bad = append(bad, "no record id")
	case id != "" && out.ID != id:
		bad = append(bad, fmt.Sprintf("record id %q, changed %q", out.ID, id))
	}
	if !strings.EqualFold(out.Type, r.Type) {
		bad = append(bad, fmt.Sprintf("type %q, sent %s", out.Type, strings.ToUpper(r.Type)))
	}
	if cfName(out.Name) != cfName(r.Name) {
		bad = append(bad, fmt.Sprintf("name %q, sent %s", out.Name, cfName(r.Name)))
	}
	if NormalizeValue(r.Type, out.Content) != NormalizeValue(r.Type, r.Value) {
		bad = append(bad, fmt.Sprintf("content %q, sent %s", out.Content, r.Value))
	}
	if len(bad) > 0 {
		return fmt.Errorf("dnsupdate: cloudflare: %s: the record returned is not the one sent: %s", method, strings.Join(bad, "; "))
	}
	return nil
}

// cfTTL maps a TTL to Cloudflare's range: 1 means automatic, else 60-86400.
func cfTTL(ttl int) int {
	switch {
	case ttl <= 1:
		return 1
	case ttl < 60:
		return 60
	case ttl > 86400:
		return 86400
	}
	return ttl
}

func cfName(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// zone returns the zone id, looking it up by name the first time.
func (c *Cloudflare) zone(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.zoneID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var zones []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	q := url.Values{"name": {cfName(c.Zone)}}
	err := c.pages(ctx, "/zones", q, func(raw json.RawMessage) error {
		return json.Unmarshal(raw, &zones)
	}, func() bool {
		for _, z := range zones {
			if strings.EqualFold(z.Name, cfName(c.Zone)) {
				id = z.ID
				return true
			}
		}
		return false
	})
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", fmt.Errorf("dnsupdate: cloudflare: zone %q not found (check the name and the token's zone permissions)", c.Zone)
	}
	c.mu.Lock()
	c.zoneID = id
	c.mu.Unlock()
	return id, nil
}

// records lists every record of name and rtype, reading every page and
// filtering again here in case the API ignores a filter.
func (c *Cloudflare) records(ctx context.Context, name, rtype string) ([]cfRecord, error) {
	zone, err := c.zone(ctx)
	if err != nil {
		return nil, err
	}
	want, typ := cfName(name), strings.ToUpper(rtype)
	var all, page []cfRecord
	q := url.Values{"type": {typ}, "name": {want}}
	err = c.pages(ctx, "/zones/"+zone+"/dns_records", q, func(raw json.RawMessage) error {
		page = nil
		return json.Unmarshal(raw, &page)
	}, func() bool {
		for _, r := range page {
			if strings.EqualFold(r.Type, typ) && cfName(r.Name) == want && !slices.ContainsFunc(all, func(a cfRecord) bool { return a.ID == r.ID }) {
				all = append(all, r) // once: a record that moved to the next page while paging is not an extra to delete
			}
		}
		return false
	})
	return all, err
}

// pages GETs path page by page until the last page or until done says so.
func (c *Cloudflare) pages(ctx context.Context, path string, q url.Values, decode func(json.RawMessage) error, done func() bool) error {
	per := c.PerPage
	if per <= 0 {
		per = 100
	}
	q.Set("per_page", fmt.Sprint(per))
	for page := 1; page <= 10000; page++ {
		q.Set("page", fmt.Sprint(page))
		rep, err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		if err := decode(rep.Result); err != nil {
			return fmt.Errorf("dnsupdate: cloudflare: GET %s: bad result: %w", path, err)
		}
		if done() {
			return nil
		}
		// without result_info, or with another page than asked for, there
		// is no telling whether every page was read: a record missed
		// there would be left in place beside the one set
		switch info := rep.ResultInfo; {
		case info == nil:
			return fmt.Errorf("dnsupdate: cloudflare: GET %s: reply has no result_info: cannot tell whether page %d is the last", path, page)
		case info.Page != page:
			return fmt.Errorf("dnsupdate: cloudflare: GET %s: asked for page %d, reply is page %d", path, page, info.Page)
		case page >= info.TotalPages:
			return nil
		}
	}
	return fmt.Errorf("dnsupdate: cloudflare: GET %s: too many pages", path)
}

// call sends body as JSON and decodes the result into out (when not nil).
func (c *Cloudflare) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	rep, err := c.do(ctx, method, path, rd)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(rep.Result, out); err != nil {
		return fmt.Errorf("dnsupdate: cloudflare: %s %s: bad result: %w", method, path, err)
	}
	return nil
}

// do sends one request and returns the envelope, or an error carrying the
// reply's errors (code and message).
func (c *Cloudflare) do(ctx context.Context, method, path string, body io.Reader) (*cfReply, error) {
	base := strings.TrimSuffix(c.BaseURL, "/")
	if base == "" {
		base = CloudflareURL
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(c.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return nil, fmt.Errorf("dnsupdate: cloudflare: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient(c.Client).Do(req)
	if err != nil {
		return nil, fmt.Errorf("dnsupdate: cloudflare: %s %s: %w", method, path, stripURL(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("dnsupdate: cloudflare: %s %s: reading reply: %w", method, path, err)
	}
	if len(raw) > maxReply {
		return nil, fmt.Errorf("dnsupdate: cloudflare: %s %s: HTTP %d: reply larger than %d bytes (not read further)", method, path, resp.StatusCode, maxReply)
	}
	return parseCFReply(resp.StatusCode, raw)
}

// parseCFReply decodes a Cloudflare API v4 envelope; an HTTP error status,
// a body that is not JSON or success=false give a *CloudflareError.
func parseCFReply(status int, raw []byte) (*cfReply, error) {
	var rep cfReply
	jerr := json.Unmarshal(raw, &rep)
	if status/100 != 2 || jerr != nil || !rep.Success {
		ce := &CloudflareError{Status: status, Errors: rep.Errors}
		if jerr != nil && len(ce.Errors) == 0 {
			ce.Errors = []cfMessage{{Message: "reply is not JSON: " + snippet(raw)}}
		}
		return nil, ce
	}
	return &rep, nil
}

func timeoutOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return DefaultTimeout
}

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return noRedirects
}

// noRedirects is the providers' default client: it does not follow
// redirects. An API endpoint that answers 3xx is an error (the reply's
// status and Location are shown): following it would send the request
// again elsewhere - for a 307 or 308, HE's form with the dynamic DNS key
// in its body, to whatever host the Location names.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}}

// stripURL drops the request URL from an error (it may hold a query with
// secrets in other providers, and repeats what the message says anyway).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// snippet returns the start of a reply body on one line.
func snippet(b []byte) string {
	return text.Cut(strings.Join(strings.Fields(text.Clean(string(b))), " "), 120)
}
