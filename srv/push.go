package srv

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// pushBatch is how many RRsets one UPDATE message replaces; each message
// is applied atomically by the server.
const pushBatch = 100

// Change is one RRset that push replaces: what the server has now (Old,
// empty for a new RRset) and what the config wants.
type Change struct {
	Set RRSet
	Old []dns.RR
}

// Plan asks the primary for every generated RRset and returns those whose
// records or TTL differ, in generation order.
func Plan(ctx context.Context, c *Config, cl *dnsupdate.RFC2136, concurrency int) ([]Change, int, error) {
	if concurrency <= 0 {
		concurrency = DefaultConcurrency
	}
	sets := Generate(c)
	olds := make([][]dns.RR, len(sets))
	errs := make([]error, len(sets))
	q := *cl
	q.Recursion = false
	if _, err := reachable(ctx, &q, c.DomainFQDN()); err != nil {
		return nil, 0, err
	}
	parallel(ctx, concurrency, len(sets), func(i int) {
		rrs, err := q.Query(ctx, sets[i].Name, sets[i].Type)
		for _, rr := range rrs { // only the RRset's own records, not those a CNAME leads to
			if h := rr.Header(); h.Rrtype == sets[i].Type && strings.EqualFold(dns.Fqdn(h.Name), sets[i].Name) {
				olds[i] = append(olds[i], rr)
			}
		}
		errs[i] = err
	})
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var changes []Change
	for i, s := range sets {
		if errs[i] != nil {
			return nil, 0, fmt.Errorf("srv: plan: %s %s: %w", s.Name, s.TypeString(), errs[i])
		}
		if !equalSet(s, olds[i]) {
			changes = append(changes, Change{Set: s, Old: olds[i]})
		}
	}
	return changes, len(sets), nil
}

// WritePlan prints the plan: each changing RRset with the records that go
// (-), stay ( ) and come (+), then a summary line.
func WritePlan(w io.Writer, cl *dnsupdate.RFC2136, changes []Change, total int) {
	fmt.Fprintf(w, "plan for zone %s at %s:\n", cl.Zone, cl.Server)
	creates := 0
	for _, ch := range changes {
		verb := "update"
		if len(ch.Old) == 0 {
			verb, creates = "create", creates+1
		}
		fmt.Fprintf(w, "* %s %s (%s)\n", ch.Set.Name, ch.Set.TypeString(), verb)
		want := map[string]bool{}
		for _, rr := range ch.Set.RRs {
			want[fmt.Sprintf("%d %s", ch.Set.TTL, rdata(rr))] = true
		}
		have := map[string]bool{}
		for _, rr := range ch.Old {
			line := fmt.Sprintf("%d %s", rr.Header().Ttl, rdata(rr))
			have[line] = true
			mark := "-"
			if want[line] {
				mark = " "
			}
			fmt.Fprintf(w, "    %s %s\n", mark, line)
		}
		for _, rr := range ch.Set.RRs {
			if line := fmt.Sprintf("%d %s", ch.Set.TTL, rdata(rr)); !have[line] {
				fmt.Fprintf(w, "    + %s\n", line)
			}
		}
	}
	if len(changes) == 0 {
		fmt.Fprintf(w, "no changes: all %s match the config\n", plural(total, "RRset"))
		return
	}
	fmt.Fprintf(w, "%d of %s change: %d create, %d update\n", len(changes), plural(total, "RRset"), creates, len(changes)-creates)
}

// Apply sends the changes as RFC 2136 UPDATEs (each RRset deleted and
// re-added in the same message), pushBatch RRsets per message.
func Apply(ctx context.Context, cl *dnsupdate.RFC2136, changes []Change) error {
	for start := 0; start < len(changes); start += pushBatch {
		batch := changes[start:min(start+pushBatch, len(changes))]
		var remove, insert []dns.RR
		for _, ch := range batch {
			remove = append(remove, ch.Set.RRs[0])
			insert = append(insert, ch.Set.RRs...)
		}
		if err := cl.Update(ctx, remove, insert); err != nil {
			names := make([]string, len(batch))
			for i, ch := range batch {
				names[i] = ch.Set.Name
			}
			return fmt.Errorf("srv: push %d RRsets (%s): %w", len(batch), abbreviate(names, 3), err)
		}
	}
	return nil
}

func abbreviate(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}
