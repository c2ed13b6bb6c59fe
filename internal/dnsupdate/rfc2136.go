// Package dnsupdate holds the DNS providers shared by the srv and ddns
// schemes: RFC 2136 dynamic updates signed with TSIG (this file), and the
// HTTP providers (Cloudflare, Hurricane Electric) in their own files.
package dnsupdate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
)

// DefaultTimeout bounds one exchange when RFC2136.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// tsigFudge is the clock skew (seconds) the server may accept; beyond it
// the server answers BADTIME.
const tsigFudge = 300

// maxUDP is the largest message sent over UDP without EDNS0 (RFC 1035).
const maxUDP = 512

// ednsSize is the UDP payload size queries advertise (DNS flag day 2020).
const ednsSize = 1232

// TSIG is a transaction signature key (RFC 8945) as BIND's tsig-keygen
// prints it: a key name, an algorithm and a base64 secret.
type TSIG struct {
	Name      string        `toml:"name"`
	Algorithm string        `toml:"algorithm"` // hmac-sha256 (default), hmac-sha1, hmac-sha224, hmac-sha384, hmac-sha512
	Secret    config.Secret `toml:"secret"`    // base64; also secret_file / secret_env
}

var algorithms = map[string]string{
	"":            dns.HmacSHA256,
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// KeyName is the key name in the canonical form miekg/dns and BIND agree
// on: lower case, fully qualified. A mixed-case name makes BIND apply the
// update while the client fails to verify the reply ("no secrets defined",
// miekg/dns #572/#574).
func (t *TSIG) KeyName() string { return strings.ToLower(dns.Fqdn(t.Name)) }

// Alg returns the algorithm name as used on the wire ("hmac-sha256.").
func (t *TSIG) Alg() (string, error) {
	a, ok := algorithms[strings.ToLower(strings.TrimSuffix(t.Algorithm, "."))]
	if !ok {
		return "", fmt.Errorf("unknown TSIG algorithm %q (use hmac-sha256, hmac-sha1, hmac-sha224, hmac-sha384 or hmac-sha512)", t.Algorithm)
	}
	return a, nil
}

// Validate checks the key; paths are relative to the key's table
// ("name", "algorithm", "secret").
func (t *TSIG) Validate() error {
	var errs config.Errors
	if err := t.adoptBINDKey(); err != nil {
		errs.Add("secret", "%v", err)
		return errs.Err()
	}
	if t.Name == "" {
		errs.Add("name", "TSIG key name is required (e.g. \"ddns-key.\")")
	} else if _, ok := dns.IsDomainName(t.Name); !ok {
		errs.Add("name", "%q is not a valid key name", t.Name)
	}
	if _, err := t.Alg(); err != nil {
		errs.Add("algorithm", "%v", err)
	}
	switch s := t.Secret.Reveal(); {
	case s == "":
		errs.Add("secret", "TSIG secret is required (give secret, secret_file or secret_env)")
	default:
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			errs.Add("secret", "TSIG secret must be base64, or secret_file a key file as tsig-keygen writes it")
		}
	}
	return errs.Err()
}

// RFC2136 sends dynamic updates (RFC 2136) to one authoritative server for
// one zone, signed with TSIG when Key is set.
type RFC2136 struct {
	Server  string // host:port of the primary
	Zone    string // zone apex, e.g. "example.com."
	Key     *TSIG  // nil sends unsigned messages
	Timeout time.Duration
	Net     string // "udp" (default; TCP when the message is too big or the reply truncated) or "tcp"

	// Recursion sets RD in Query, for asking a recursive resolver instead
	// of the authoritative server.
	Recursion bool

	// Now is the clock that dates TSIG signatures (nil: time.Now); tests
	// set it to provoke BADTIME.
	Now func() time.Time
}

// RcodeError is a reply whose rcode is not NOERROR (or, for Query, not
// NXDOMAIN). TSIGError is the TSIG record's error code when the server
// rejected the signature (BADSIG, BADKEY, BADTIME), else 0.
type RcodeError struct {
	Op        string // "update" or "query"
	Server    string
	Rcode     int
	TSIGError uint16
}

func (e *RcodeError) Error() string {
	msg := fmt.Sprintf("dnsupdate: %s at %s: %s", e.Op, e.Server, rcodeText(e.Rcode))
	if e.TSIGError != 0 {
		msg += " (TSIG " + rcodeText(int(e.TSIGError)) + ")"
	}
	return msg
}

func rcodeText(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// Update sends one UPDATE for c.Zone: it first deletes every RRset named by
// remove (each RR's owner name and type; its data is ignored), then adds
// insert. The server applies all of it or nothing. An error names the rcode
// (NOTAUTH, REFUSED, ...) and the TSIG error (BADSIG, BADTIME, ...).
func (c *RFC2136) Update(ctx context.Context, remove []dns.RR, insert []dns.RR) error {
	return c.UpdateIf(ctx, nil, nil, remove, insert)
}

// UpdateIf is Update with prerequisites (RFC 2136 section 2.4): the
// server applies it only if the RRsets of require exist with exactly
// their data (2.4.2) and the RRsets named by absent do not exist (2.4.3);
// otherwise it answers NXRRSET or YXRRSET and changes nothing.
func (c *RFC2136) UpdateIf(ctx context.Context, require, absent, remove, insert []dns.RR) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(c.Zone))
	if len(require) > 0 {
		req := make([]dns.RR, len(require))
		for i, rr := range require {
			req[i] = dns.Copy(rr) // Used rewrites class and TTL
		}
		m.Used(req)
	}
	if len(absent) > 0 {
		m.RRsetNotUsed(absent)
	}
	m.RemoveRRset(uniqueRRsets(remove))
	if len(insert) > 0 {
		ins := make([]dns.RR, len(insert))
		for i, rr := range insert {
			ins[i] = dns.Copy(rr) // Insert rewrites the class; keep the caller's RRs intact
		}
		m.Insert(ins)
	}
	_, err := c.exchange(ctx, "update", m)
	return err
}

// uniqueRRsets returns one RR per (name, type), in first-seen order.
func uniqueRRsets(rrs []dns.RR) []dns.RR {
	seen := map[string]bool{}
	var out []dns.RR
	for _, rr := range rrs {
		h := rr.Header()
		k := strings.ToLower(dns.Fqdn(h.Name)) + "/" + dns.TypeToString[h.Rrtype]
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(h.Name), Rrtype: h.Rrtype}})
	}
	return out
}

// Query asks the server for name/qtype (recursion desired only when
// c.Recursion is set) and returns the answer section. NXDOMAIN and an
// empty answer both return no records and no error.
func (c *RFC2136) Query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	r, err := c.QueryMsg(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	return r.Answer, nil
}

// QueryMsg is Query returning the whole reply, for callers that need its
// flags (Authoritative: the answer is the zone's, not a cache's) or its
// authority section.
func (c *RFC2136) QueryMsg(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = c.Recursion
	m.SetEdns0(ednsSize, false) // answers up to 1232 bytes need no TCP retry
	return c.exchange(ctx, "query", m)
}

// exchange signs m (when a key is set), sends it over UDP or TCP and maps
// the reply's rcode to an error. With a key, a reply that is not signed with
// it is an error: a NOERROR from an on-path host must not count as applied.
func (c *RFC2136) exchange(ctx context.Context, op string, m *dns.Msg) (*dns.Msg, error) {
	cl := &dns.Client{Net: c.Net, Timeout: c.timeout()}
	if cl.Net == "" {
		cl.Net = "udp"
	}
	sign, err := c.signer(cl)
	if err != nil {
		return nil, err
	}
	if cl.Net == "udp" && sign(m).Len() > maxUDP-tsigRoom(c.Key) {
		cl.Net = "tcp"
	}
	r, err := c.send(ctx, cl, sign(m))
	if err == nil && r.Truncated && cl.Net == "udp" {
		cl.Net = "tcp"
		r, err = c.send(ctx, cl, sign(m))
	}
	if err == nil {
		if err = answers(m, r); err != nil {
			r = nil // its rcode is not the server's word either
		}
	}
	return c.check(op, r, err)
}

// signer gives cl the key's secret (so that replies are verified) and
// returns a function that signs a copy of a message; without a key it
// returns the message itself. Each send needs a fresh copy: miekg/dns
// removes the TSIG record from a message when it signs it, so a message
// sent twice (the TCP retry after a truncated UDP reply) went out unsigned.
func (c *RFC2136) signer(cl *dns.Client) (func(*dns.Msg) *dns.Msg, error) {
	if c.Key == nil {
		return func(m *dns.Msg) *dns.Msg { return m }, nil
	}
	alg, err := c.Key.Alg()
	if err != nil {
		return nil, fmt.Errorf("dnsupdate: %w", err)
	}
	name := c.Key.KeyName()
	cl.TsigSecret = map[string]string{name: c.Key.Secret.Reveal()}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return func(m *dns.Msg) *dns.Msg {
		s := m.Copy()
		s.SetTsig(name, alg, tsigFudge, now().Unix()) // last: the signature covers the whole message
		return s
	}, nil
}

// tsigRoom is what the TSIG record adds when the message is packed.
func tsigRoom(k *TSIG) int {
	if k == nil {
		return 0
	}
	return 100 + len(k.KeyName())
}

func (c *RFC2136) send(ctx context.Context, cl *dns.Client, m *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	r, _, err := cl.ExchangeContext(ctx, m, c.Server)
	return r, err
}

func (c *RFC2136) check(op string, r *dns.Msg, err error) (*dns.Msg, error) {
	if r != nil && r.Rcode != dns.RcodeSuccess && !(op == "query" && r.Rcode == dns.RcodeNameError) {
		re := &RcodeError{Op: op, Server: c.Server, Rcode: r.Rcode}
		if t := r.IsTsig(); t != nil {
			re.TSIGError = t.Error
		}
		return nil, re
	}
	if err != nil {
		if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrSecret) || errors.Is(err, dns.ErrTime) {
			return nil, fmt.Errorf("dnsupdate: %s at %s: reply failed TSIG verification: %w", op, c.Server, err)
		}
		return nil, fmt.Errorf("dnsupdate: %s at %s: %w", op, c.Server, err)
	}
	if c.Key != nil && r.IsTsig() == nil {
		// miekg/dns verifies only the replies that carry a TSIG record; an
		// unsigned answer could come from anyone on the path.
		return nil, fmt.Errorf("dnsupdate: %s at %s: %w (key %s)", op, c.Server, ErrUnsigned, c.Key.KeyName())
	}
	return r, nil
}

// ErrUnsigned is the error (wrapped) when a key is configured and a reply
// carries no TSIG record: it is not from a holder of the key, so its
// NOERROR (or NXDOMAIN) says nothing.
var ErrUnsigned = errors.New("reply is not signed with TSIG")

func (c *RFC2136) timeout() time.Duration { return timeoutOr(c.Timeout) }
