package srv

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// ReadBackReport is what push read from the primary after its UPDATEs: a
// NOERROR says the server took the message, not that it holds the records
// (BIND answers NOERROR and ignores SRV records added at a CNAME, for one).
type ReadBackReport struct {
	Server   string    `json:"server"`
	Zone     string    `json:"zone"`
	Checked  int       `json:"checked"`  // RRsets read back
	Serial   uint32    `json:"serial"`   // the zone's SOA serial at the primary after the read
	Findings []Finding `json:"findings"` // RRsets that do not read back as configured
}

// OK reports whether every RRset read back as configured.
func (r *ReadBackReport) OK() bool { return len(r.Findings) == 0 }

// ReadBack asks the primary (without recursion, signed like the update)
// for every RRset of changes and reports those that differ from the config
// in records or TTL. An error means the primary could not be read at all.
func ReadBack(ctx context.Context, cl *dnsupdate.RFC2136, changes []Change, concurrency int) (*ReadBackReport, error) {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	q := *cl
	q.Recursion = false
	rep := &ReadBackReport{Server: cl.Server, Zone: dns.Fqdn(cl.Zone), Checked: len(changes), Findings: []Finding{}}
	per := make([][]Finding, len(changes))
	parallel(ctx, concurrency, len(changes), func(i int) {
		per[i] = readBackSet(ctx, &q, changes[i].Set)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, f := range per {
		rep.Findings = append(rep.Findings, f...)
	}
	soa, err := q.Query(ctx, rep.Zone, dns.TypeSOA)
	if err != nil {
		return nil, fmt.Errorf("srv: read back: SOA of %s: %w", rep.Zone, err)
	}
	for _, rr := range soa {
		if s, ok := rr.(*dns.SOA); ok && strings.EqualFold(s.Hdr.Name, rep.Zone) {
			rep.Serial = s.Serial
		}
	}
	return rep, nil
}

// readBackSet compares one RRset as the primary now serves it with the
// config, TTL included (the primary does not count TTLs down).
func readBackSet(ctx context.Context, q *dnsupdate.RFC2136, want RRSet) []Finding {
	got, err := q.Query(ctx, want.Name, want.Type)
	if err != nil {
		return []Finding{{want.Name, want.TypeString(), "error", "read back: " + queryError(err)}}
	}
	for _, rr := range got {
		if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, want.Name) {
			return []Finding{{want.Name, want.TypeString(), "cname", fmt.Sprintf(
				"is a CNAME to %s at the primary; it answered NOERROR but holds no %s records here (a CNAME allows no other data)", c.Target, want.TypeString())}}
		}
	}
	out := Compare(want, got)
	for _, rr := range got {
		h := rr.Header()
		if h.Rrtype == want.Type && strings.EqualFold(h.Name, want.Name) && h.Ttl != want.TTL {
			out = append(out, Finding{want.Name, want.TypeString(), "wrong", fmt.Sprintf("TTL %d, want %d", h.Ttl, want.TTL)})
			break
		}
	}
	return out
}

// WriteReadBack prints what push read back: what was verified where, or
// every RRset that did not take.
func WriteReadBack(w io.Writer, r *ReadBackReport) {
	if r.OK() {
		fmt.Fprintf(w, "read back from %s: %s as configured (zone %s serial %d); secondaries serve them once they transfer that serial\n",
			r.Server, plural(r.Checked, "RRset"), r.Zone, r.Serial)
		return
	}
	fmt.Fprintf(w, "read back from %s (zone %s serial %d): %d of %s not as configured:\n",
		r.Server, r.Zone, r.Serial, len(r.Findings), plural(r.Checked, "RRset"))
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s\n", f)
	}
}
