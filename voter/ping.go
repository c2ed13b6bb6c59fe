package voter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// chan_voter's `voter ping`: the server sends a client pingCount ping
// packets (type 5), one every pingEvery, and the client echoes them.
const (
	pingEvery   = 250 * time.Millisecond // PING_TIME_MS
	pingTimeout = 3 * time.Second        // PING_TIMEOUT_MS
	pingCount   = 8                      // pings when no count is given
)

// PingResult is what chan_voter prints when a ping sequence ends.
type PingResult struct {
	Client        string  `json:"client"`
	Sent          int     `json:"sent"`
	Received      int     `json:"received"`
	OutOfSequence int     `json:"out_of_sequence"`
	AvgMS         float64 `json:"avg_ms"`
	WorstMS       int     `json:"worst_ms"`
	BestMS        int     `json:"best_ms"`
	ReceivedPct   float64 `json:"received_percent"` // (received - out of sequence) / sent
	TimedOut      bool    `json:"timed_out"`
	Aborted       bool    `json:"aborted"`
}

// pingRun is one ping sequence to a client (chan_voter's pings_* fields).
type pingRun struct {
	requested, sent  int
	seqno, lastSeqno uint32
	start, lastRx    time.Time
	res              PingResult
	totalMS          int
	abort            bool
	done             chan PingResult // gets the result once
}

// ErrPingBusy is returned when the client is already being pinged.
var ErrPingBusy = errors.New("client already pinging")

// Ping sends n pings to a connected client of an instance (n <= 0 aborts
// a running sequence) and waits for the result.
func (s *Server) Ping(ctx context.Context, instance, name string, n int) (PingResult, error) {
	in := s.insts[instance]
	if in == nil {
		return PingResult{}, fmt.Errorf("no instance %q", instance)
	}
	g := in.g
	g.mu.Lock()
	run, err := g.startPing(in, name, n)
	g.mu.Unlock()
	if err != nil || run == nil {
		return PingResult{}, err
	}
	select {
	case r := <-run.done:
		return r, nil
	case <-ctx.Done():
		return PingResult{}, ctx.Err()
	}
}

func (g *group) startPing(in *instance, name string, n int) (*pingRun, error) {
	var c *client
	for _, x := range in.clients {
		if x.name == name {
			c = x
		}
	}
	switch {
	case c == nil:
		return nil, fmt.Errorf("no client %q in instance %s", name, in.name)
	case n <= 0:
		if c.ping != nil {
			c.ping.abort = true
		}
		return nil, nil
	case !c.heard || c.respDigest == 0:
		return nil, fmt.Errorf("client %s is not connected", name)
	case c.proxied:
		return nil, fmt.Errorf("client %s is reached through a secondary: ping it there", name)
	case c.ping != nil:
		return nil, ErrPingBusy
	}
	c.ping = &pingRun{requested: n, done: make(chan PingResult, 1), res: PingResult{Client: name}}
	return c.ping, nil
}

// sendPings is chan_voter's ping step of the transmit loop (every 20 ms).
func (g *group) sendPings(now time.Time) {
	for _, c := range g.clients {
		r := c.ping
		if r == nil || g.pingDone(c, now) || r.sent >= r.requested {
			continue
		}
		if r.sent > 0 && now.Sub(r.start) < pingEvery*time.Duration(r.sent) {
			continue
		}
		if r.sent == 0 {
			r.start, r.lastRx = now, time.Time{}
		}
		r.sent++
		r.seqno++
		g.queue(g.pingPacket(c, r.seqno, now, r.start), c.addr)
	}
}

// pingPacket is chan_voter's ping packet: header, then seqno, txtime and
// starttime as the server's struct timeval (64-bit Linux, little endian),
// then 128 filler bytes (seqno + i).
func (g *group) pingPacket(c *client, seq uint32, now, start time.Time) []byte {
	h := Header{Sec: g.masterSec, Nsec: g.masterNsec, Challenge: g.chal, Digest: c.respDigest, Type: TypePing}
	if c.mix {
		h.Nsec = c.txseq
	}
	c.puck(&h, g.masterSec, g.masterNsec)
	b := AppendHeader(g.next(), &h)
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = appendTimeval(appendTimeval(b, now), start)
	for i := 0; i < 128; i++ {
		b = append(b, byte(seq)+byte(i))
	}
	return b
}

func appendTimeval(b []byte, t time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Unix()))
	return binary.LittleEndian.AppendUint64(b, uint64(t.Nanosecond()/1000))
}

func timeval(b []byte) time.Time {
	return time.Unix(int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))*1000)
}

// pingReply takes a client's echo of one of our pings.
func (g *group) pingReply(c *client, body []byte, now time.Time) {
	r := c.ping
	if r == nil || len(body) != PingBodyLen {
		return
	}
	r.lastRx = now
	if timeval(body[20:]).Sub(r.start).Abs() >= time.Millisecond {
		return // a ping of another sequence
	}
	seq := binary.LittleEndian.Uint32(body)
	if r.lastSeqno != 0 && seq < r.lastSeqno+1 {
		if r.res.OutOfSequence == 0 { // once per ping: the result counts them all
			g.log.Warn("ping: packets out of sequence", "client", c.name)
		}
		r.res.OutOfSequence++
	}
	ms := int(now.Sub(timeval(body[4:])).Milliseconds())
	if ms < 0 {
		return
	}
	r.lastSeqno = seq
	r.res.Received++
	r.totalMS += ms
	if r.res.Received == 1 || ms < r.res.BestMS {
		r.res.BestMS = ms
	}
	r.res.WorstMS = max(r.res.WorstMS, ms)
	g.log.Info("ping response", "client", c.name, "seqno", seq, "ms", ms)
	g.pingDone(c, now)
}

// pingDone ends the sequence when every ping came back, after 3 s without
// a reply once all are sent, when the client disconnects, or when
// aborted; it reports whether it ended.
func (g *group) pingDone(c *client, now time.Time) bool {
	r := c.ping
	switch {
	case r.abort:
	case !c.heard || c.respDigest == 0: // the client went away: it will not answer
		r.res.TimedOut = true
	default:
		if r.sent < r.requested {
			return false
		}
		last := r.lastRx
		if last.IsZero() {
			last = r.start
		}
		r.res.TimedOut = now.Sub(last) > pingTimeout
		if !r.res.TimedOut && r.res.Received < r.requested {
			return false
		}
	}
	res := r.res
	res.Sent, res.Aborted = r.sent, r.abort
	if res.Sent > 0 {
		res.ReceivedPct = 100 * float64(res.Received-res.OutOfSequence) / float64(res.Sent)
	}
	if res.Received > 0 {
		res.AvgMS = float64(r.totalMS) / float64(res.Received)
	}
	g.log.Info("ping done", "client", c.name, "sent", res.Sent, "received", res.Received, "avg_ms", res.AvgMS,
		"timed_out", res.TimedOut, "aborted", res.Aborted)
	r.done <- res
	c.ping = nil
	return true
}
