package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// NSUpdate is the RFC 2136 provider: Get queries the primary directly,
// Set replaces the RRset in one TSIG-signed UPDATE (delete + add, applied
// atomically by the server).
type NSUpdate struct {
	Client *RFC2136
}

// Name is "rfc2136".
func (p *NSUpdate) Name() string { return "rfc2136" }

// Conditional is true: Set turns Record.If into RFC 2136 prerequisites
// ("RRset exists (value dependent)", or "RRset does not exist" for no
// values), which the server checks in the same atomic step as the update.
func (p *NSUpdate) Conditional() bool { return true }

// Get returns the values the primary serves for name/rtype.
func (p *NSUpdate) Get(ctx context.Context, name, rtype string) ([]string, error) {
	qt, err := rrType(rtype)
	if err != nil {
		return nil, err
	}
	rrs, err := p.Client.Query(ctx, name, qt)
	if err != nil {
		return nil, err
	}
	return RRValues(rrs, qt), nil
}

// Set replaces every name/rtype record by one with r.Value.
func (p *NSUpdate) Set(ctx context.Context, r Record) (string, error) {
	qt, err := rrType(r.Type)
	if err != nil {
		return "", err
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = 60
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(r.Name), ttl, dns.TypeToString[qt], rrData(qt, r.Value)))
	if err != nil {
		return "", fmt.Errorf("dnsupdate: rfc2136: bad record: %w", err)
	}
	if rr == nil {
		return "", fmt.Errorf("dnsupdate: rfc2136: empty record for %s", r.Name)
	}
	require, absent, err := prerequisites(r, qt, ttl)
	if err != nil {
		return "", err
	}
	if err := p.Client.UpdateIf(ctx, require, absent, []dns.RR{rr}, []dns.RR{rr}); err != nil {
		var re *RcodeError
		if r.If != nil && errors.As(err, &re) && (re.Rcode == dns.RcodeNXRrset || re.Rcode == dns.RcodeYXRrset) {
			return "", fmt.Errorf("%w (required %v): %w", ErrConditionFailed, r.If.Values, err)
		}
		return "", err
	}
	return fmt.Sprintf("NOERROR from %s: %s %s %s", p.Client.Server, strings.TrimSuffix(dns.Fqdn(r.Name), "."), dns.TypeToString[qt], r.Value), nil
}

// prerequisites turns r.If into the RRs of the prerequisite section: the
// whole RRset that must exist, or the RRset that must not.
func prerequisites(r Record, qt uint16, ttl int) (require, absent []dns.RR, err error) {
	if r.If == nil {
		return nil, nil, nil
	}
	for _, v := range r.If.Values {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(r.Name), ttl, dns.TypeToString[qt], rrData(qt, v)))
		if err != nil || rr == nil {
			return nil, nil, fmt.Errorf("dnsupdate: rfc2136: bad required value %q: %v", v, err)
		}
		require = append(require, rr)
	}
	if len(require) == 0 {
		absent = []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(r.Name), Rrtype: qt}}}
	}
	return require, absent, nil
}

func rrData(qt uint16, v string) string {
	switch qt {
	case dns.TypeCNAME:
		return dns.Fqdn(v)
	case dns.TypeTXT:
		return fmt.Sprintf("%q", v)
	}
	return v
}
