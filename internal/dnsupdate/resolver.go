package dnsupdate

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// WithPort adds ":53" to a DNS server given without a port ("192.0.2.53",
// "ns1.example.com", "::1" or "[::1]"); a host:port is returned as it is.
func WithPort(hostport string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), "53")
}

// SystemResolver is the first nameserver of /etc/resolv.conf as host:port,
// or "" when there is none.
func SystemResolver() string {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cc.Servers) == 0 {
		return ""
	}
	return net.JoinHostPort(cc.Servers[0], cc.Port)
}
