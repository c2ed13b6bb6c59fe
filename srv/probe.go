package srv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// probeResult is one (host, transport, port) that was probed.
type probeResult struct {
	host, transport string
	port            uint16
	findings        []Finding
}

// probeTargets checks that every published port answers: a TCP connect for
// tcp and tls, a SIP OPTIONS request for udp (any SIP reply counts, even an
// error status: the server is there).
func probeTargets(ctx context.Context, sets []RRSet, hosts []*hostResult, opts CheckOptions) []*probeResult {
	addrs := map[string][]string{}
	for _, h := range hosts {
		addrs[h.host] = h.addrs
	}
	seen := map[string]bool{}
	var probes []*probeResult
	for _, s := range sets {
		for _, r := range SRVs(s.RRs) {
			host := strings.ToLower(r.Target)
			key := fmt.Sprintf("%s|%s|%d", host, s.Transport, r.Port)
			if host == "." || seen[key] || len(addrs[host]) == 0 {
				continue
			}
			seen[key] = true
			probes = append(probes, &probeResult{host: host, transport: s.Transport, port: r.Port})
		}
	}
	sort.Slice(probes, func(i, j int) bool {
		a, b := probes[i], probes[j]
		if a.host != b.host {
			return a.host < b.host
		}
		if a.transport != b.transport {
			return a.transport < b.transport
		}
		return a.port < b.port
	})
	parallel(ctx, opts.Concurrency, len(probes), func(i int) {
		p := probes[i]
		addr := net.JoinHostPort(addrs[p.host][0], strconv.Itoa(int(p.port)))
		var err error
		if p.transport == "udp" {
			err = probeSIP(ctx, p.host, addr, opts.Timeout)
		} else {
			err = probeTCP(ctx, addr, opts.Timeout)
		}
		if err != nil {
			p.findings = []Finding{{fmt.Sprintf("%s:%d", p.host, p.port), p.transport, "unreachable", err.Error()}}
		}
	})
	return probes
}

func probeTCP(ctx context.Context, addr string, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("tcp connect to %s failed: %v", addr, unwrapOp(err))
	}
	return conn.Close()
}

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// probeSIP sends a SIP OPTIONS request over UDP and waits for any SIP
// response carrying the same Call-ID.
func probeSIP(ctx context.Context, host, addr string, timeout time.Duration) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return fmt.Errorf("udp to %s: %v", addr, unwrapOp(err))
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = conn.SetDeadline(deadline)
	callID := randHex(8) + "@redund"
	if _, err := conn.Write(sipOptions(host, addr, conn.LocalAddr().String(), callID)); err != nil {
		return fmt.Errorf("SIP OPTIONS to %s: %v", addr, unwrapOp(err))
	}
	buf := make([]byte, 8192)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no reply to SIP OPTIONS from %s within %s", addr, timeout)
			}
			return fmt.Errorf("SIP OPTIONS to %s: %v", addr, unwrapOp(err))
		}
		resp, perr := ParseSIPResponse(buf[:n])
		if perr == nil && resp.CallID == callID {
			return nil
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sipOptions builds an OPTIONS request (RFC 3261 section 11).
func sipOptions(host, addr, local, callID string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "OPTIONS sip:%s SIP/2.0\r\n", addr)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n", local, randHex(6))
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:redund@%s>;tag=%s\r\n", local, randHex(4))
	fmt.Fprintf(&b, "To: <sip:%s>\r\n", strings.TrimSuffix(host, "."))
	fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	b.WriteString("CSeq: 1 OPTIONS\r\n")
	fmt.Fprintf(&b, "Contact: <sip:redund@%s>\r\n", local)
	b.WriteString("Accept: application/sdp\r\nUser-Agent: redund srv check\r\nContent-Length: 0\r\n\r\n")
	return b.Bytes()
}

// SIPResponse is the part of a SIP response the probe needs.
type SIPResponse struct {
	Code   int
	Reason string
	CallID string
}

// ParseSIPResponse parses a SIP response's status line and finds its
// Call-ID header (or its compact form "i").
func ParseSIPResponse(b []byte) (SIPResponse, error) {
	var r SIPResponse
	head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\n")
	status := strings.TrimRight(lines[0], "\r")
	rest, ok := strings.CutPrefix(status, "SIP/2.0 ")
	if !ok {
		return r, errors.New("not a SIP/2.0 response")
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || len(code) != 3 || n < 100 || n > 699 {
		return r, fmt.Errorf("bad SIP status code %q", code)
	}
	r.Code, r.Reason = n, reason
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, "Call-ID") || name == "i" {
			r.CallID = strings.TrimSpace(val)
		}
	}
	if r.CallID == "" {
		return r, errors.New("SIP response without Call-ID")
	}
	return r, nil
}
