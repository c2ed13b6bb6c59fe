package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Record is one DNS record a Provider sets: an owner name, a type (A, AAAA,
// CNAME), one value and a TTL in seconds (0 lets the provider choose).
type Record struct {
	Name  string
	Type  string
	Value string
	TTL   int
	// If, when set, makes the update conditional on what the provider has.
	// Providers that check it in the same atomic step as the update say so
	// (CanCondition: rfc2136); Cloudflare checks it on the listing it reads
	// right before its change (not atomic); HE ignores it.
	If *Condition
}

// Condition is what a conditional Set requires the provider to have:
// exactly Values for the record's name and type (none: no such record).
// A provider that finds anything else refuses the update with an error
// that wraps ErrConditionFailed. ddns uses it so that a decider that
// lost the witness lock while paused cannot overwrite what the new
// leader wrote after it.
type Condition struct {
	Values []string
}

// ErrConditionFailed is wrapped by the error of a Set whose Condition did
// not hold: someone else changed the record since the caller read it.
var ErrConditionFailed = errors.New("the record is not what the update required")

// Conditioner is implemented by providers that honour Record.If.
type Conditioner interface {
	Conditional() bool
}

// CanCondition reports whether p honours Record.If.
func CanCondition(p Provider) bool {
	c, ok := p.(Conditioner)
	return ok && c.Conditional()
}

// Provider reads and sets the value of one DNS name at a DNS host.
// Get returns the values the provider has now (none when the name has no
// record of that type). Set makes value the only value of name/type and
// returns the provider's reply in a short human form ("good 192.0.2.1",
// "updated record 372e…"). Errors carry the provider's own words.
type Provider interface {
	Name() string
	Get(ctx context.Context, name, rtype string) ([]string, error)
	Set(ctx context.Context, r Record) (reply string, err error)
}

// ErrUnsupported is returned when a provider cannot handle a record type.
var ErrUnsupported = errors.New("record type not supported by this provider")

// NormalizeValue returns value in the form providers compare: IP addresses
// in canonical text, host names lower case and fully qualified.
func NormalizeValue(rtype, value string) string {
	value = strings.TrimSpace(value)
	switch strings.ToUpper(rtype) {
	case "A", "AAAA":
		if a, err := netip.ParseAddr(value); err == nil {
			return a.Unmap().String()
		}
	case "CNAME":
		return strings.ToLower(dns.Fqdn(value))
	}
	return value
}

// Matches reports whether the provider's values are exactly the one value
// wanted (so that no update is needed).
func Matches(rtype string, have []string, want string) bool {
	if len(have) != 1 {
		return false
	}
	return NormalizeValue(rtype, have[0]) == NormalizeValue(rtype, want)
}

// sortValues normalises and sorts values so that Get results are stable.
func sortValues(rtype string, vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, NormalizeValue(rtype, v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// rrType maps a record type name to its dns type code.
func rrType(rtype string) (uint16, error) {
	switch t := strings.ToUpper(rtype); t {
	case "A", "AAAA", "CNAME", "TXT":
		return dns.StringToType[t], nil
	}
	return 0, fmt.Errorf("dnsupdate: %s: %w", rtype, ErrUnsupported)
}
