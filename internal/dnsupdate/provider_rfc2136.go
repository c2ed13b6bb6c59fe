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

// ErrNotApplied is wrapped by the error of a Set that the server answered
// with NOERROR but that a read right after does not show: RFC 2136
// (section 3.4.2.2) has the server ignore, silently, a record added beside
// a CNAME and a CNAME added beside other records.
var ErrNotApplied = errors.New("the server answered NOERROR but does not serve the value")

// Get returns the values the primary serves for name/rtype: the records of
// that type owned by name itself. A CNAME at name, when rtype is not
// CNAME, is an error: the server follows it and answers with the target's
// records, which are not name's, and ignores an update adding rtype there.
func (p *NSUpdate) Get(ctx context.Context, name, rtype string) ([]string, error) {
	qt, err := rrType(rtype)
	if err != nil {
		return nil, err
	}
	rrs, err := p.Client.Query(ctx, name, qt)
	if err != nil {
		return nil, err
	}
	vals, cname := ownValues(rrs, name, qt)
	if cname != "" {
		return nil, fmt.Errorf("dnsupdate: rfc2136: %s is a CNAME (to %s) at %s: the server ignores %s records added beside it; remove the CNAME",
			strings.TrimSuffix(dns.Fqdn(name), "."), cname, p.Client.Server, dns.TypeToString[qt])
	}
	return vals, nil
}

// ownValues is the values of the qt records owned by name itself in an
// answer section, and the target of a CNAME at name when qt is not CNAME
// (the server followed it: the records after it are the target's).
func ownValues(rrs []dns.RR, name string, qt uint16) (vals []string, cname string) {
	own := make([]dns.RR, 0, len(rrs))
	for _, rr := range rrs {
		if !strings.EqualFold(dns.Fqdn(rr.Header().Name), dns.Fqdn(name)) {
			continue // the target's records after a CNAME
		}
		if c, ok := rr.(*dns.CNAME); ok && qt != dns.TypeCNAME {
			return nil, c.Target
		}
		own = append(own, rr)
	}
	return RRValues(own, qt), ""
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
	// NOERROR is not proof: the server ignores some additions silently
	// (beside a CNAME, a CNAME beside other data). It applies an update
	// before answering, so a read now shows what it serves.
	got, err := p.Get(ctx, r.Name, r.Type)
	if err != nil {
		return "", fmt.Errorf("dnsupdate: rfc2136: the update was answered NOERROR, but reading it back failed: %w", err)
	}
	if !Matches(r.Type, got, r.Value) {
		return "", fmt.Errorf("dnsupdate: rfc2136: %s %s at %s: %w: it serves %s, not %s (a CNAME added beside other records of the name is ignored)",
			strings.TrimSuffix(dns.Fqdn(r.Name), "."), dns.TypeToString[qt], p.Client.Server, ErrNotApplied, valuesText(got), r.Value)
	}
	return fmt.Sprintf("NOERROR from %s: %s %s %s (read back)", p.Client.Server, strings.TrimSuffix(dns.Fqdn(r.Name), "."), dns.TypeToString[qt], r.Value), nil
}

// valuesText is values for a message ("none" for no record).
func valuesText(vals []string) string {
	if len(vals) == 0 {
		return "none"
	}
	return strings.Join(vals, ", ")
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
