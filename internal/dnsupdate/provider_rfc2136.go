package dnsupdate

import (
	"context"
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
	if err := p.Client.Update(ctx, []dns.RR{rr}, []dns.RR{rr}); err != nil {
		return "", err
	}
	return fmt.Sprintf("NOERROR from %s: %s %s %s", p.Client.Server, strings.TrimSuffix(dns.Fqdn(r.Name), "."), dns.TypeToString[qt], r.Value), nil
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
