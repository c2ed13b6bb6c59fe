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

// probeResult is one (host, transport, port, address) that was probed.
type probeResult struct {
	host, transport, addr string
	port                  uint16
	findings              []Finding
}

// probeTargets checks that every published port answers at every address
// of its host (phones try them all, RFC 3263): a TCP connect for
// tcp and tls, a SIP OPTIONS request for udp (any SIP response to that
// request counts, even an error status: the server is there; except 503,
// on which phones try the next target, RFC 3263 4.3).
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
			if host == "." || seen[key] {
				continue
			}
			seen[key] = true
			for _, a := range addrs[host] {
				probes = append(probes, &probeResult{host: host, transport: s.Transport, port: r.Port, addr: a})
			}
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
		if a.port != b.port {
			return a.port < b.port
		}
		return a.addr < b.addr
	})
	parallel(ctx, opts.Concurrency, len(probes), func(i int) {
		p := probes[i]
		addr := net.JoinHostPort(p.addr, strconv.Itoa(int(p.port)))
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

// probeSIP sends a SIP OPTIONS request over UDP on a connected socket (the
// kernel drops datagrams from any other address) and waits for a response
// to that request: RFC 3261 section 17.1.3 matches a response to a client
// transaction by the top Via's branch and the CSeq method; the Call-ID and
// CSeq number are checked too. Anything else (a reply to another request,
// a stray or forged datagram) is ignored and counted. Like any SIP client
// over UDP it retransmits the request (timer A: T1 = 500 ms, doubling), so
// one lost datagram does not make the port look dead.
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
	callID, branch := randHex(8)+"@redund", sipBranchPrefix+randHex(8)
	req := sipOptions(host, addr, conn.LocalAddr().String(), callID, branch)
	buf := make([]byte, 8192)
	ignored, why, sent := 0, "", 0
	for interval := sipT1; ; interval *= 2 {
		if _, err := conn.Write(req); err != nil {
			return fmt.Errorf("SIP OPTIONS to %s: %v", addr, unwrapOp(err))
		}
		sent++
		_ = conn.SetReadDeadline(minTime(time.Now().Add(interval), deadline))
		for {
			n, err := conn.Read(buf)
			if isTimeout(err) && time.Now().Before(deadline) {
				break // retransmit
			}
			if isTimeout(err) {
				msg := fmt.Sprintf("no reply to SIP OPTIONS from %s within %s (%s)", addr, timeout, plural(sent, "request"))
				if ignored > 0 {
					msg += fmt.Sprintf("; ignored %s that did not answer it: %s", plural(ignored, "datagram"), why)
				}
				return errors.New(msg)
			}
			if err != nil {
				return fmt.Errorf("SIP OPTIONS to %s: %v", addr, unwrapOp(err))
			}
			resp, perr := ParseSIPResponse(buf[:n])
			if perr == nil {
				perr = resp.answers(callID, branch)
			}
			if perr == nil && resp.Code == 503 {
				// RFC 3263 4.3: on 503 a client tries the next target, so
				// for the phones this port is not serving
				return fmt.Errorf("SIP OPTIONS to %s: 503 Service Unavailable: phones move on to the next target (RFC 3263 4.3)", addr)
			}
			if perr == nil {
				return nil
			}
			if ignored++; ignored == 1 {
				why = perr.Error()
			}
		}
	}
}

// sipT1 is RFC 3261's round-trip estimate: the first retransmission
// interval of a request over UDP.
const sipT1 = 500 * time.Millisecond

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// sipBranchPrefix is RFC 3261's magic cookie: a branch that starts with it
// is unique per transaction.
const sipBranchPrefix = "z9hG4bK"

// answers says why r is not the response to our OPTIONS (nil if it is).
// The reasons are our own words: nothing of the datagram is quoted.
func (r SIPResponse) answers(callID, branch string) error {
	switch {
	case r.CallID != callID:
		return errors.New("other Call-ID")
	case r.Branch != branch:
		return errors.New("top Via branch differs")
	case r.CSeqMethod != "OPTIONS" || r.CSeqNum != 1:
		return errors.New("CSeq is not 1 OPTIONS")
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sipOptions builds an OPTIONS request (RFC 3261 section 11).
func sipOptions(host, addr, local, callID, branch string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "OPTIONS sip:%s SIP/2.0\r\n", addr)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=%s;rport\r\n", local, branch)
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
	Code       int
	Reason     string
	CallID     string
	Branch     string // branch parameter of the top (first) Via
	CSeqNum    uint32
	CSeqMethod string
}

// ParseSIPResponse parses a SIP response's status line and finds its
// Call-ID, top Via branch and CSeq headers (long or compact forms).
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
	sawVia := false
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(strings.TrimRight(l, "\r"), ":")
		if !ok {
			continue
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		switch {
		case strings.EqualFold(name, "Call-ID") || name == "i":
			r.CallID = val
		case (strings.EqualFold(name, "Via") || name == "v") && !sawVia:
			sawVia = true
			r.Branch = viaBranch(val)
		case strings.EqualFold(name, "CSeq"):
			num, method, _ := strings.Cut(val, " ")
			if c, err := strconv.ParseUint(num, 10, 32); err == nil {
				r.CSeqNum, r.CSeqMethod = uint32(c), strings.TrimSpace(method)
			}
		}
	}
	if r.CallID == "" {
		return r, errors.New("SIP response without Call-ID")
	}
	return r, nil
}

// viaBranch returns the branch parameter of the first value of a Via
// header ("SIP/2.0/UDP host;branch=z9hG4bK...;rport, ...").
func viaBranch(via string) string {
	first, _, _ := strings.Cut(via, ",")
	params := strings.Split(first, ";")
	for _, p := range params[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "branch") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
