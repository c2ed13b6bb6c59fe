package srv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
)

// Defaults of `srv check`.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultConcurrency = 32
)

// CheckOptions says where and how `srv check` looks.
type CheckOptions struct {
	Resolver    string        // host:port; default Config.Resolver, the push server, then /etc/resolv.conf
	Timeout     time.Duration // per query and per probe; default Config.Timeout or 2s
	Probe       bool          // also connect to tcp/tls ports and send SIP OPTIONS to udp ports
	Concurrency int           // queries in flight; default 32
	// AllowCache accepts answers from a cache (without the AA flag) as a
	// check that passes; without it such a check is not verified and fails.
	AllowCache bool
}

// CheckReport is the result of `srv check`: every finding, in a fixed
// order (RRsets in generation order, then targets by host).
type CheckReport struct {
	Resolver string        `json:"resolver"`
	RRSets   int           `json:"rrsets"`
	Hosts    int           `json:"hosts"`
	Probes   int           `json:"probes"` // port × address probes
	Findings []Finding     `json:"findings"`
	Elapsed  time.Duration `json:"elapsed_ns"`

	// NotAuthoritative counts the RRsets whose answer came without the AA
	// flag: from a resolver's cache, which may be up to a TTL behind the
	// zone in either direction. Authoritative is true when it is 0.
	Authoritative    bool   `json:"authoritative"`
	NotAuthoritative int    `json:"not_authoritative"`
	AllowCache       bool   `json:"allow_cache"`      // cached answers were accepted (--allow-cache)
	Zone             string `json:"zone,omitempty"`   // the zone the SOA of the domain names
	Serial           uint32 `json:"serial,omitempty"` // that zone's SOA serial as the resolver answered it
}

// Matches reports whether nothing differs from the config in the answers.
func (r *CheckReport) Matches() bool { return len(r.Findings) == 0 }

// Verified reports whether the answers came from an authoritative server,
// or cached answers were accepted (AllowCache).
func (r *CheckReport) Verified() bool { return r.Authoritative || r.AllowCache }

// OK reports whether the check passes: nothing differs, in answers that
// show what the zone publishes (or a cache that was accepted).
func (r *CheckReport) OK() bool { return r.Matches() && r.Verified() }

// DefaultResolver returns the address `srv check` queries when no
// --resolver is given: the [srv] resolver, else the push server, else the
// first nameserver of /etc/resolv.conf.
func (c *Config) DefaultResolver() (string, error) {
	switch {
	case c.Resolver != "":
		return c.Resolver, nil
	case c.Push != nil && c.Push.Server != "":
		return c.Push.Server, nil
	}
	if r := dnsupdate.SystemResolver(); r != "" {
		return r, nil
	}
	return "", errors.New("srv: no resolver: give --resolver, [srv] resolver or [srv.push] server")
}

// checkOptions fills in the options left unset. CheckOptions is built by
// code, not decoded, so its defaults live here; the timeout comes from the
// table (SetDefaults).
func (c *Config) checkOptions(o CheckOptions) (CheckOptions, error) {
	if o.Resolver == "" {
		r, err := c.DefaultResolver()
		if err != nil {
			return o, err
		}
		o.Resolver = r
	}
	o.Resolver = dnsupdate.WithPort(o.Resolver)
	if o.Timeout <= 0 {
		o.Timeout = c.Timeout.D()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	return o, nil
}

// resolverClient queries a resolver (recursion desired; an authoritative
// server with recursion off still answers for its own zones).
func resolverClient(addr string, timeout time.Duration) *dnsupdate.RFC2136 {
	return &dnsupdate.RFC2136{Server: addr, Timeout: timeout, Recursion: true}
}

// Check queries every generated RRset and every target host, compares them
// with the config and returns every difference. It returns an error (and
// no report) only when the resolver itself cannot be used.
func Check(ctx context.Context, c *Config, opts CheckOptions) (*CheckReport, error) {
	opts, err := c.checkOptions(opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cl := resolverClient(opts.Resolver, opts.Timeout)
	soa, err := reachable(ctx, cl, c.DomainFQDN())
	if err != nil {
		return nil, err
	}
	sets := Generate(c)
	rep := &CheckReport{Resolver: opts.Resolver, RRSets: len(sets), Findings: []Finding{}, AllowCache: opts.AllowCache}
	rep.Zone, rep.Serial = soaSerial(soa)
	per := make([][]Finding, len(sets))
	cached := make([]bool, len(sets))
	parallel(ctx, opts.Concurrency, len(sets), func(i int) {
		r, err := cl.QueryMsg(ctx, sets[i].Name, sets[i].Type)
		if err != nil {
			per[i] = []Finding{{sets[i].Name, sets[i].TypeString(), "error", queryError(err)}}
			return
		}
		cached[i] = !r.Authoritative
		per[i] = Compare(sets[i], r.Answer)
	})
	for i, f := range per {
		rep.Findings = append(rep.Findings, f...)
		if cached[i] {
			rep.NotAuthoritative++
		}
	}
	rep.Authoritative = rep.NotAuthoritative == 0
	hosts := resolveTargets(ctx, cl, sets, opts.Concurrency)
	rep.Hosts = len(hosts)
	for _, h := range hosts {
		rep.Findings = append(rep.Findings, h.findings...)
	}
	if opts.Probe {
		probes := probeTargets(ctx, sets, hosts, opts)
		rep.Probes = len(probes)
		for _, p := range probes {
			rep.Findings = append(rep.Findings, p.findings...)
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// reachable asks the resolver for the domain's SOA once, so that a dead or
// refusing resolver is one clear error instead of a finding per name. It
// returns the reply (nil when the server answered with an error rcode).
func reachable(ctx context.Context, cl *dnsupdate.RFC2136, domain string) (*dns.Msg, error) {
	r, err := cl.QueryMsg(ctx, domain, dns.TypeSOA)
	if err == nil {
		return r, nil
	}
	var re *dnsupdate.RcodeError
	if errors.As(err, &re) && re.Rcode != dns.RcodeRefused && re.Rcode != dns.RcodeServerFailure {
		return nil, nil // it answers; per-name errors will say more
	}
	if isTimeout(err) { // os.ErrDeadlineExceeded is a net.Error with Timeout()
		return nil, fmt.Errorf("srv: resolver %s did not answer within %s (is it running and reachable?)", cl.Server, cl.Timeout)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return nil, fmt.Errorf("srv: resolver %s does not answer: %v", cl.Server, op.Err)
	}
	return nil, fmt.Errorf("srv: resolver %s cannot be used: %w", cl.Server, err)
}

// soaSerial finds the SOA in a reply to an SOA query: in the answer when
// the name is the zone apex, in the authority section when it is below.
func soaSerial(r *dns.Msg) (string, uint32) {
	if r == nil {
		return "", 0
	}
	for _, rr := range append(append([]dns.RR(nil), r.Answer...), r.Ns...) {
		if soa, ok := rr.(*dns.SOA); ok {
			return strings.ToLower(soa.Hdr.Name), soa.Serial
		}
	}
	return "", 0
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func queryError(err error) string {
	var re *dnsupdate.RcodeError
	switch {
	case isTimeout(err):
		return "query timed out"
	case errors.As(err, &re) && re.Rcode == dns.RcodeRefused:
		return "REFUSED by the resolver (an authoritative-only server? give --resolver a recursive one)"
	}
	return "query failed: " + strings.TrimPrefix(err.Error(), "dnsupdate: ")
}

// parallel runs fn(0..n-1) with at most limit calls in flight and returns
// when all have finished (or ctx is done and the rest were skipped).
func parallel(ctx context.Context, limit, n int, fn func(i int)) {
	if limit > n {
		limit = n
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < limit; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// hostResult is what one target host resolved to.
type hostResult struct {
	host     string
	addrs    []string
	findings []Finding
}

// resolveTargets resolves every SRV target of sets (A and AAAA) and
// reports hosts that do not resolve or that are CNAMEs (RFC 2782 forbids
// an alias as target).
func resolveTargets(ctx context.Context, cl *dnsupdate.RFC2136, sets []RRSet, limit int) []*hostResult {
	seen := map[string]bool{}
	var hosts []*hostResult
	for _, s := range sets {
		for _, r := range SRVs(s.RRs) {
			t := strings.ToLower(r.Target)
			if t != "." && !seen[t] {
				seen[t] = true
				hosts = append(hosts, &hostResult{host: t})
			}
		}
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].host < hosts[j].host })
	parallel(ctx, limit, len(hosts), func(i int) { resolveHost(ctx, cl, hosts[i]) })
	return hosts
}

func resolveHost(ctx context.Context, cl *dnsupdate.RFC2136, h *hostResult) {
	var errs []string
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := cl.Query(ctx, h.host, qt)
		if err != nil {
			errs = append(errs, dns.TypeToString[qt]+" "+queryError(err))
			continue
		}
		for _, rr := range rrs {
			switch r := rr.(type) {
			case *dns.CNAME:
				if strings.EqualFold(r.Hdr.Name, h.host) && len(h.findings) == 0 {
					h.findings = append(h.findings, Finding{h.host, "A/AAAA", "cname",
						fmt.Sprintf("is a CNAME to %s; an SRV target must be the host's own name (RFC 2782)", r.Target)})
				}
			case *dns.A:
				h.addrs = append(h.addrs, r.A.String())
			case *dns.AAAA:
				h.addrs = append(h.addrs, r.AAAA.String())
			}
		}
	}
	if len(h.addrs) == 0 {
		msg := "does not resolve (no A or AAAA record)"
		if len(errs) > 0 {
			msg = "does not resolve: " + strings.Join(errs, "; ")
		}
		h.findings = append(h.findings, Finding{h.host, "A/AAAA", "unresolved", msg})
	}
}
