package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/redund/redund/internal/text"
)

// Message kinds (first byte of a request or response body).
const (
	kindPull     byte = 'P'
	kindPullResp byte = 'p'
	kindSnap     byte = 'S'
	kindSnapResp byte = 's'
)

// Operations in a log entry.
const (
	OpPut    byte = 1
	OpDelete byte = 2
)

// Entry is one change in a provider's log.
type Entry struct {
	Seq   uint64
	Op    byte
	Key   string
	Value []byte
	Time  int64 // unix nanoseconds when the leader committed it
}

type pullReq struct {
	Provider string
	LogID    string // the follower's source log, "" when it has none
	Applied  uint64
	Max      uint64
	WaitMS   uint64
}

type pullResp struct {
	LogID       string
	First, Last uint64
	Full        bool
	Reason      string
	Entries     []Entry
}

type snapReq struct {
	Provider string
	After    string
	MaxBytes uint64
}

type snapResp struct {
	LogID string
	Seq   uint64
	Done  bool
	Keys  []string
	Vals  [][]byte // stored form: version + value
}

// enc appends primitive values.
type enc struct{ b []byte }

func (e *enc) u(v uint64)     { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)      { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) bytes(p []byte) { e.u(uint64(len(p))); e.b = append(e.b, p...) }
func (e *enc) str(s string)   { e.u(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) byte1(c byte)   { e.b = append(e.b, c) }
func (e *enc) bool(v bool) {
	if v {
		e.byte1(1)
	} else {
		e.byte1(0)
	}
}

// dec reads primitive values; the first problem sticks in err.
type dec struct {
	b   []byte
	err error
}

var errShort = errors.New("replica: truncated message")

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) bytes() []byte {
	n := d.u()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string { return string(d.bytes()) }

func (d *dec) byte1() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) bool() bool { return d.byte1() == 1 }

// count reads an element count, refusing counts the remaining bytes cannot
// hold (each element takes at least min bytes).
func (d *dec) count(min int) int {
	n := d.u()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = fmt.Errorf("replica: count %d exceeds message", n)
		return 0
	}
	return int(n)
}

// decoderFor checks that message b is of the given kind and returns a decoder of
// the rest.
func decoderFor(b []byte, kind byte, what string) (dec, error) {
	if len(b) == 0 || b[0] != kind {
		return dec{}, errors.New("replica: not a " + what)
	}
	return dec{b: b[1:]}, nil
}

func (d *dec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("replica: %d trailing bytes", len(d.b))
	}
	return d.err
}

func (r pullReq) encode() []byte {
	e := enc{b: []byte{kindPull}}
	e.str(r.Provider)
	e.str(r.LogID)
	e.u(r.Applied)
	e.u(r.Max)
	e.u(r.WaitMS)
	return e.b
}

func decodePullReq(b []byte) (r pullReq, err error) {
	d, err := decoderFor(b, kindPull, "pull request")
	if err != nil {
		return r, err
	}
	r.Provider, r.LogID, r.Applied, r.Max, r.WaitMS = d.str(), d.str(), d.u(), d.u(), d.u()
	return r, d.done()
}

func (r pullResp) encode() []byte {
	e := enc{b: []byte{kindPullResp}}
	e.str(r.LogID)
	e.u(r.First)
	e.u(r.Last)
	e.bool(r.Full)
	e.str(r.Reason)
	e.u(uint64(len(r.Entries)))
	for _, x := range r.Entries {
		e.b = appendEntry(e.b, x)
	}
	return e.b
}

func appendEntry(b []byte, x Entry) []byte {
	e := enc{b: b}
	e.u(x.Seq)
	e.byte1(x.Op)
	e.str(x.Key)
	e.bytes(x.Value)
	e.i(x.Time)
	return e.b
}

func (d *dec) entry() Entry {
	x := Entry{Seq: d.u(), Op: d.byte1(), Key: d.str(), Value: d.bytes(), Time: d.i()}
	if d.err == nil && x.Op != OpPut && x.Op != OpDelete {
		d.err = fmt.Errorf("replica: bad op %d", x.Op)
	}
	return x
}

// DecodePullResponse parses a leader's answer to a pull (exported for the
// fuzz target and tools).
func DecodePullResponse(b []byte) (logID string, last uint64, entries []Entry, err error) {
	r, err := decodePullResp(b)
	return r.LogID, r.Last, r.Entries, err
}

func decodePullResp(b []byte) (r pullResp, err error) {
	d, err := decoderFor(b, kindPullResp, "pull response")
	if err != nil {
		return r, err
	}
	r.LogID, r.First, r.Last, r.Full, r.Reason = d.logID(), d.u(), d.u(), d.bool(), d.str()
	r.Reason = peerText(r.Reason)
	n := d.count(5)
	for i := 0; i < n && d.err == nil; i++ {
		r.Entries = append(r.Entries, d.entry())
	}
	return r, d.done()
}

// maxLogID bounds a log id read from the peer (this package makes them of
// 16 hex digits).
const maxLogID = 64

// logID reads a log id: the follower stores it and shows it (events,
// errors, the status), so one that is long or not printable text is
// refused.
func (d *dec) logID() string {
	id := d.str()
	if d.err == nil && (len(id) > maxLogID || text.Clean(id) != id || strings.ContainsRune(id, ' ')) {
		d.err = fmt.Errorf("replica: bad log id (%d bytes)", len(id))
	}
	return id
}

// maxReason bounds a full-sync reason read from the peer.
const maxReason = 512

// peerText makes a text the peer sent (a full-sync reason) printable and
// bounded: it is shown in the status, the events and the log.
func peerText(s string) string { return text.CleanCut(s, maxReason) }

func (r snapReq) encode() []byte {
	e := enc{b: []byte{kindSnap}}
	e.str(r.Provider)
	e.str(r.After)
	e.u(r.MaxBytes)
	return e.b
}

func decodeSnapReq(b []byte) (r snapReq, err error) {
	d, err := decoderFor(b, kindSnap, "snapshot request")
	if err != nil {
		return r, err
	}
	r.Provider, r.After, r.MaxBytes = d.str(), d.str(), d.u()
	return r, d.done()
}

func (r snapResp) encode() []byte {
	e := enc{b: []byte{kindSnapResp}}
	e.str(r.LogID)
	e.u(r.Seq)
	e.bool(r.Done)
	e.u(uint64(len(r.Keys)))
	for i, k := range r.Keys {
		e.str(k)
		e.bytes(r.Vals[i])
	}
	return e.b
}

func decodeSnapResp(b []byte) (r snapResp, err error) {
	d, err := decoderFor(b, kindSnapResp, "snapshot response")
	if err != nil {
		return r, err
	}
	r.LogID, r.Seq, r.Done = d.logID(), d.u(), d.bool()
	n := d.count(2)
	for i := 0; i < n && d.err == nil; i++ {
		r.Keys = append(r.Keys, d.str())
		r.Vals = append(r.Vals, d.bytes())
	}
	return r, d.done()
}

func decodeEntry(b []byte) (Entry, error) {
	d := dec{b: b}
	x := d.entry()
	return x, d.done()
}
