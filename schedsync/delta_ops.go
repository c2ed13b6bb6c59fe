package schedsync

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// runFlush: with a flush function, a run of copied blocks is sent every
// this many blocks and the stream flushed, so that the secondary reads
// the unchanged part of its copy while the primary reads on (a long
// unchanged stretch would otherwise reach it only at its end).
const runFlush = 256

// deltaOut encodes delta operations, merging runs of consecutive blocks.
type deltaOut struct {
	bw         *bufio.Writer
	first, cnt int
	flush      func() error // nil: no flushing before the end
}

func (d *deltaOut) copyBlock(i int) error {
	if d.cnt > 0 && d.first+d.cnt == i {
		if d.cnt++; d.cnt >= runFlush && d.flush != nil {
			return d.push()
		}
		return nil
	}
	if err := d.flushRun(); err != nil {
		return err
	}
	d.first, d.cnt = i, 1
	return nil
}

// literals sends p as literal bytes.
func (d *deltaOut) literals(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if err := d.flushRun(); err != nil {
		return err
	}
	for len(p) > 0 {
		n := min(len(p), maxLiteral)
		if _, err := d.bw.Write(binary.AppendUvarint([]byte{'L'}, uint64(n))); err != nil {
			return err
		}
		if _, err := d.bw.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (d *deltaOut) flushRun() error {
	if d.cnt == 0 {
		return nil
	}
	buf := binary.AppendUvarint([]byte{'C'}, uint64(d.first))
	buf = binary.AppendUvarint(buf, uint64(d.cnt))
	d.cnt = 0
	_, err := d.bw.Write(buf)
	return err
}

// push sends the pending run and flushes the stream.
func (d *deltaOut) push() error {
	if err := d.flushRun(); err != nil {
		return err
	}
	if err := d.bw.Flush(); err != nil {
		return err
	}
	return d.flush()
}

// writeDelta reads the new content from r and writes the delta against sig.
func writeDelta(w io.Writer, r io.Reader, sig *signature) error {
	return writeDeltaFlushing(w, r, sig, nil)
}

// writeDeltaFlushing is writeDelta calling flush after every runFlush
// copied blocks in a row.
func writeDeltaFlushing(w io.Writer, r io.Reader, sig *signature, flush func() error) error {
	d := &deltaOut{bw: bufio.NewWriterSize(w, 64<<10), flush: flush}
	h := xxhash.New()
	m := newMatcherTable(sig)
	if err := m.run(io.TeeReader(r, h), d); err != nil {
		return err
	}
	if err := d.flushRun(); err != nil {
		return err
	}
	if _, err := d.bw.Write(binary.BigEndian.AppendUint64([]byte{'E'}, h.Sum64())); err != nil {
		return err
	}
	return d.bw.Flush()
}

// matchTable finds blocks of the old copy in the new content.
type matchTable struct {
	sig   *signature
	index map[uint32][]int32
	bits  []uint64 // 2^20-bit filter over the weak sums: most misses cost one load
	tail  int      // index of a short last block, or -1
}

func bitOf(w uint32) uint32 { return (w * 0x9E3779B1) >> 12 }

func newMatcherTable(sig *signature) *matchTable {
	m := &matchTable{sig: sig, index: make(map[uint32][]int32, len(sig.weak)), bits: make([]uint64, 1<<14), tail: -1}
	for i, w := range sig.weak {
		if sig.blockLen(i) == sig.block {
			m.index[w] = append(m.index[w], int32(i))
			m.bits[bitOf(w)>>6] |= 1 << (bitOf(w) & 63)
		} else {
			m.tail = i
		}
	}
	return m
}

// find returns the block matching window (full block size), or -1.
func (m *matchTable) find(weak uint32, window []byte, next int) int {
	cands, ok := m.index[weak]
	if !ok {
		return -1
	}
	st := xxhash.Sum64(window)
	if next < len(m.sig.strong) && m.sig.weak[next] == weak && m.sig.strong[next] == st &&
		m.sig.blockLen(next) == len(window) {
		return next
	}
	for _, c := range cands {
		if m.sig.strong[c] == st {
			return int(c)
		}
	}
	return -1
}

// isNext checks the block expected after the last match by its strong
// hash alone (xxhash is ten times faster than the rolling sum): unchanged
// stretches of a file cost one hash per block.
func (m *matchTable) isNext(window []byte, next int) bool {
	return next < len(m.sig.strong) && m.sig.blockLen(next) == len(window) &&
		m.sig.strong[next] == xxhash.Sum64(window)
}

func (m *matchTable) run(r io.Reader, d *deltaOut) error {
	L := m.sig.block
	buf := make([]byte, 0, 4<<20)
	pos, lit, next := 0, 0, 0 // buf[lit:pos] are literal bytes not sent yet
	eof, rolling := false, false
	var a, b uint32
	for {
		if !eof && len(buf)-pos < L+1 {
			if err := d.literals(buf[lit:pos]); err != nil {
				return err
			}
			var err error
			if buf, pos, eof, err = refill(r, buf, pos); err != nil {
				return err
			}
			lit = pos
		}
		if len(buf)-pos < L {
			if err := d.literals(buf[lit:pos]); err != nil {
				return err
			}
			return m.finish(buf[pos:], d)
		}
		i := -1
		if !rolling && m.isNext(buf[pos:pos+L], next) {
			i = next
		} else {
			if !rolling {
				a, b = weakSum(buf[pos : pos+L])
				rolling = true
			}
			if w := a | b<<16; m.bits[bitOf(w)>>6]&(1<<(bitOf(w)&63)) != 0 {
				i = m.find(w, buf[pos:pos+L], next)
			}
		}
		if i >= 0 {
			if err := d.literals(buf[lit:pos]); err != nil {
				return err
			}
			if err := d.copyBlock(i); err != nil {
				return err
			}
			pos, next, rolling = pos+L, i+1, false
			lit = pos
			continue
		}
		if pos+L < len(buf) {
			out, in := uint32(buf[pos]), uint32(buf[pos+L])
			a = (a - out + in) & 0xffff
			b = (b - uint32(L)*out + a) & 0xffff
		} else {
			rolling = false
		}
		pos++
	}
}

// finish handles the last bytes (shorter than a block).
func (m *matchTable) finish(rest []byte, d *deltaOut) error {
	if m.tail >= 0 && len(rest) == m.sig.blockLen(m.tail) {
		a, b := weakSum(rest)
		if a|b<<16 == m.sig.weak[m.tail] && xxhash.Sum64(rest) == m.sig.strong[m.tail] {
			return d.copyBlock(m.tail)
		}
	}
	return d.literals(rest)
}

// refill compacts buf and reads more of r.
func refill(r io.Reader, buf []byte, pos int) ([]byte, int, bool, error) {
	if pos > 0 {
		n := copy(buf, buf[pos:])
		buf, pos = buf[:n], 0
	}
	for len(buf) < cap(buf) {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, pos, true, nil
		}
		if err != nil {
			return buf, pos, false, err
		}
		if n == 0 {
			break
		}
	}
	return buf, pos, false, nil
}

// applyDelta rebuilds the new content from basis and the delta ops in r,
// writing at most max bytes to w. The trailer's xxhash catches a damaged
// stream; the caller checks the result's content hash against the manifest.
func applyDelta(r io.Reader, basis io.ReaderAt, sig *signature, w io.Writer, max int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	h := xxhash.New()
	out := io.MultiWriter(w, h)
	var written int64
	blk := make([]byte, sig.block)
	for {
		op, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: truncated", errBadDelta)
		}
		var n int64
		switch op {
		case 'C':
			n, err = copyOps(br, basis, sig, out, blk, max-written)
		case 'L':
			n, err = literalOp(br, out, max-written)
		case 'E':
			return endOp(br, h.Sum64())
		default:
			err = fmt.Errorf("%w: unknown op %q", errBadDelta, op)
		}
		if err != nil {
			return err
		}
		written += n
	}
}

func copyOps(br *bufio.Reader, basis io.ReaderAt, sig *signature, out io.Writer, blk []byte, room int64) (int64, error) {
	first, err1 := binary.ReadUvarint(br)
	cnt, err2 := binary.ReadUvarint(br)
	n := uint64(len(sig.weak))
	if err1 != nil || err2 != nil || first >= n || cnt == 0 || cnt > n-first {
		return 0, fmt.Errorf("%w: bad copy", errBadDelta)
	}
	var written int64
	for i := int(first); i < int(first+cnt); i++ {
		l := sig.blockLen(i)
		if written+int64(l) > room {
			return 0, fmt.Errorf("%w: result too large", errBadDelta)
		}
		if _, err := basis.ReadAt(blk[:l], int64(i)*int64(sig.block)); err != nil {
			return 0, fmt.Errorf("schedsync: delta basis: %w", err)
		}
		if _, err := out.Write(blk[:l]); err != nil {
			return 0, err
		}
		written += int64(l)
	}
	return written, nil
}

func literalOp(br *bufio.Reader, out io.Writer, room int64) (int64, error) {
	l, err := binary.ReadUvarint(br)
	if err != nil || l == 0 || l > maxLiteral || int64(l) > room {
		return 0, fmt.Errorf("%w: bad literal", errBadDelta)
	}
	n, err := io.CopyN(out, br, int64(l))
	if err != nil {
		return n, fmt.Errorf("%w: truncated literal", errBadDelta)
	}
	return n, nil
}

func endOp(br *bufio.Reader, got uint64) error {
	var want [8]byte
	if _, err := io.ReadFull(br, want[:]); err != nil {
		return fmt.Errorf("%w: truncated end", errBadDelta)
	}
	if binary.BigEndian.Uint64(want[:]) != got {
		return fmt.Errorf("%w: result does not match the sender's checksum", errBadDelta)
	}
	return nil
}
