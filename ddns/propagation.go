package ddns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/text"
)

// PropagationOptions tune Propagation.
type PropagationOptions struct {
	Resolvers []string      // resolvers to ask (default: the scheme's resolvers)
	Bootstrap string        // resolver for the NS and address lookups (default: first resolver, else /etc/resolv.conf)
	NSPort    string        // port of the authoritative servers (default 53)
	Timeout   time.Duration // per query (default 3s)
	Provider  func(scheme string, cfg *Config) (dnsupdate.Provider, error)
	// Expected, when set, gives the provider's value instead of asking
	// the provider (the daemon's page passes what the scheme last read).
	Expected func(ctx context.Context) ([]string, error)
}

// Answer is what one server said.
type Answer struct {
	Kind   string   `json:"kind"` // authoritative or resolver
	Server string   `json:"server"`
	Addr   string   `json:"addr"`
	Values []string `json:"values"`
	Error  string   `json:"error,omitempty"`
	Agrees bool     `json:"agrees"`
}

// PropagationReport compares the provider's value with what the zone's
// authoritative servers and some resolvers answer.
type PropagationReport struct {
	Scheme        string   `json:"scheme"`
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Zone          string   `json:"zone"`
	Expected      []string `json:"expected"`
	ExpectedError string   `json:"expected_error,omitempty"`
	Answers       []Answer `json:"answers"`
	AllAgree      bool     `json:"all_agree"`
}

// Propagation builds the report for one scheme.
func Propagation(ctx context.Context, scheme string, c *Config, o PropagationOptions) (*PropagationReport, error) {
	c = withDefaults(c)
	o = o.withDefaults(c)
	if o.Bootstrap == "" {
		return nil, errors.New("ddns: propagation: no resolver (set resolvers in the scheme or pass --resolver)")
	}
	qt := dns.StringToType[c.RecordType()]
	r := &PropagationReport{Scheme: scheme, Name: dns.Fqdn(c.Name), Type: c.RecordType(),
		Expected: []string{}, Answers: []Answer{}}
	if vals, err := o.expected(ctx, scheme, c); err != nil {
		r.ExpectedError = err.Error()
	} else if vals != nil {
		r.Expected = vals
	}
	zone, err := findZone(ctx, c, o)
	if err != nil {
		return nil, err
	}
	r.Zone = zone
	nss, err := dnsupdate.QueryValuesAny(ctx, o.Bootstrap, zone, dns.TypeNS, o.Timeout)
	if err != nil {
		return nil, fmt.Errorf("ddns: propagation: NS of %s: %w", zone, err)
	}
	for _, ns := range nss {
		r.Answers = append(r.Answers, askNS(ctx, ns, c.Name, qt, o)...)
	}
	for _, res := range o.Resolvers {
		addr := dnsupdate.WithPort(res)
		vals, err := dnsupdate.QueryValues(ctx, addr, c.Name, qt, o.Timeout, true)
		r.Answers = append(r.Answers, answer("resolver", res, addr, vals, err))
	}
	r.AllAgree = r.ExpectedError == "" && len(r.Answers) > 0
	for i := range r.Answers {
		a := &r.Answers[i]
		a.Agrees = a.Error == "" && slices.Equal(a.Values, r.Expected)
		r.AllAgree = r.AllAgree && a.Agrees
	}
	return r, nil
}

func (o PropagationOptions) withDefaults(c *Config) PropagationOptions {
	if len(o.Resolvers) == 0 {
		o.Resolvers = c.Resolvers
	}
	if o.Bootstrap == "" && len(o.Resolvers) > 0 {
		o.Bootstrap = o.Resolvers[0]
	}
	if o.Bootstrap == "" {
		o.Bootstrap = dnsupdate.SystemResolver()
	}
	if o.Bootstrap != "" {
		o.Bootstrap = dnsupdate.WithPort(o.Bootstrap)
	}
	if o.NSPort == "" {
		o.NSPort = "53"
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.Provider == nil {
		o.Provider = func(_ string, c *Config) (dnsupdate.Provider, error) { return dnsupdate.New(c.Provider) }
	}
	return o
}

// expected is the provider's value: Expected's, else the provider's answer.
func (o PropagationOptions) expected(ctx context.Context, scheme string, c *Config) ([]string, error) {
	if o.Expected != nil {
		return o.Expected(ctx)
	}
	p, err := o.Provider(scheme, c)
	if err != nil {
		return nil, err
	}
	return p.Get(ctx, c.Name, c.RecordType())
}

// askNS resolves an authoritative server's addresses and asks each.
func askNS(ctx context.Context, ns, name string, qt uint16, o PropagationOptions) []Answer {
	var addrs []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, _ := dnsupdate.QueryValuesAny(ctx, o.Bootstrap, ns, t, o.Timeout)
		addrs = append(addrs, a...)
	}
	if len(addrs) == 0 {
		return []Answer{{Kind: "authoritative", Server: ns, Error: "no address found for " + ns}}
	}
	var out []Answer
	for _, a := range addrs {
		hp := net.JoinHostPort(a, o.NSPort)
		vals, err := dnsupdate.QueryValues(ctx, hp, name, qt, o.Timeout, false)
		out = append(out, answer("authoritative", ns, hp, vals, err))
	}
	return out
}

func answer(kind, server, addr string, vals []string, err error) Answer {
	a := Answer{Kind: kind, Server: strings.TrimSuffix(server, "."), Addr: addr, Values: vals}
	if err != nil {
		a.Error = text.Clean(err.Error())
	}
	if a.Values == nil {
		a.Values = []string{}
	}
	return a
}

// findZone is the provider's zone, else the owner of the SOA the resolver
// returns for the name.
func findZone(ctx context.Context, c *Config, o PropagationOptions) (string, error) {
	if c.Provider.Zone != "" {
		return dns.Fqdn(strings.ToLower(c.Provider.Zone)), nil
	}
	zone, err := dnsupdate.FindZone(ctx, o.Bootstrap, c.Name, o.Timeout)
	if err != nil {
		return "", fmt.Errorf("ddns: propagation: finding the zone of %s: %w", c.Name, err)
	}
	return zone, nil
}
