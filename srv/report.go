package srv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
)

// Drift compares generated output with the file at path and returns a
// unified diff (file → generated), or "" when they are byte-identical. A
// missing file is all drift.
func Drift(path string, generated []byte) (string, error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("srv: %w", err)
	}
	return UnifiedDiff(path, "generated from config", string(old), string(generated), 3), nil
}

// OrderSet is one SRV RRset explained: where it came from and its
// priority groups with each record's first-pick probability.
type OrderSet struct {
	Name        string  `json:"name"`
	Source      string  `json:"source"`      // "config" or "dns ADDR"
	Unavailable bool    `json:"unavailable"` // a single "." record: service decidedly not available
	Groups      []Group `json:"groups"`
	Samples     int     `json:"samples,omitempty"`
}

// OrderOptions says where `srv order` reads the records.
type OrderOptions struct {
	Resolver string // "" = from the config
	Timeout  time.Duration
	Samples  int    // 0 = no sampled run
	Seed     uint64 // seed of the sampled run
}

// OrderNames expands NAME for `srv order`: a zone name gives the SRV
// names of its transports, anything else is taken as an SRV name.
func OrderNames(c *Config, name string) []string {
	if c != nil {
		for _, z := range c.Zones {
			if strings.EqualFold(z.Name, name) || fqdn(name) == strings.ToLower(z.Name)+"."+c.DomainFQDN() {
				var out []string
				for _, s := range Generate(c) {
					if s.Type == dns.TypeSRV && s.Zone == strings.ToLower(z.Name) {
						out = append(out, s.Name)
					}
				}
				return out
			}
		}
	}
	return []string{fqdn(name)}
}

// Explain computes the RFC 2782 order of each SRV name, from the config
// (c may not be nil then) or from the resolver.
func Explain(ctx context.Context, c *Config, names []string, o OrderOptions) ([]OrderSet, error) {
	var out []OrderSet
	var sets []RRSet
	if o.Resolver == "" {
		sets = Generate(c)
	}
	for _, name := range names {
		set := OrderSet{Name: name, Source: "config", Samples: o.Samples}
		var rrs []*dns.SRV
		if o.Resolver != "" {
			set.Source = "dns " + o.Resolver
			r, err := resolverClient(o.Resolver, o.Timeout).QueryMsg(ctx, name, dns.TypeSRV)
			if err != nil {
				return nil, fmt.Errorf("srv: order %s: %w", name, err)
			}
			if !r.Authoritative {
				set.Source += ", not authoritative: a cache may be up to a TTL old"
			}
			rrs = SRVs(r.Answer)
		} else {
			for _, s := range Find(sets, name) {
				rrs = append(rrs, SRVs(s.RRs)...)
			}
		}
		if len(rrs) == 0 {
			return nil, fmt.Errorf("srv: order: no SRV records for %s (from %s)", name, set.Source)
		}
		set.Unavailable = len(rrs) == 1 && rrs[0].Target == "."
		set.Groups = Groups(rrs)
		if o.Samples > 0 {
			Sample(set.Groups, o.Samples, rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed)))
		}
		out = append(out, set)
	}
	return out, nil
}

// WriteOrder prints the explained sets as aligned text.
func WriteOrder(w io.Writer, sets []OrderSet) {
	for i, s := range sets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (from %s)\n", s.Name, s.Source)
		if s.Unavailable {
			fmt.Fprintln(w, "  target \".\": the service is decidedly not available here (RFC 2782)")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "  priority\ttarget\tweight\tfirst pick"
		if s.Samples > 0 {
			head += fmt.Sprintf("\tsampled (%s)", plural(s.Samples, "run"))
		}
		fmt.Fprintln(tw, head)
		for _, g := range s.Groups {
			for _, c := range g.Choices {
				line := fmt.Sprintf("  %d\t%s:%d\t%d\t%7.3f%% (%d/%d)", g.Priority, c.Target, c.Port, c.Weight, 100*c.P(), c.Num, c.Den)
				if s.Samples > 0 {
					line += fmt.Sprintf("\t%7.3f%%", 100*c.Sampled)
				}
				fmt.Fprintln(tw, line)
			}
		}
		tw.Flush()
	}
}

// WriteCheck prints a check report: a summary line, then every finding.
func WriteCheck(w io.Writer, r *CheckReport) {
	fmt.Fprintf(w, "checked %s, %s and %s at %s in %.3fs\n",
		plural(r.RRSets, "RRset"), plural(r.Hosts, "target host"), plural(r.Probes, "port probe"), r.Resolver, r.Elapsed.Seconds())
	switch {
	case r.Authoritative && r.Zone != "":
		fmt.Fprintf(w, "answers are authoritative (zone %s serial %d)\n", r.Zone, r.Serial)
	case !r.Authoritative:
		fmt.Fprintf(w, "answers for %d of %s are NOT authoritative: %s answered from a cache, which may be up to a TTL behind the zone (a push may not show yet, a change made since may not either); give --resolver an authoritative server of the zone to check what is published\n",
			r.NotAuthoritative, plural(r.RRSets, "RRset"), r.Resolver)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s\n", f)
	}
	switch {
	case r.Matches() && r.Authoritative:
		fmt.Fprintln(w, "ok: DNS matches the config")
	case r.Matches() && r.AllowCache:
		fmt.Fprintf(w, "ok (--allow-cache): the cached answers of %s match the config (not verified at an authoritative server)\n", r.Resolver)
	case r.Matches():
		fmt.Fprintf(w, "not verified: the cached answers of %s match the config, but a cache does not show what the zone publishes (ask an authoritative server, or accept the cache with --allow-cache)\n", r.Resolver)
	default:
		fmt.Fprintf(w, "%s\n", plural(len(r.Findings), "difference"))
	}
}
