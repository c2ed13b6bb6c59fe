package schedsync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/cespare/xxhash/v2"
)

// rsync-style delta transfer. The secondary sends the signature of its old
// copy (per block: a rolling weak checksum and a 64-bit xxhash); the
// primary slides a window over the new content and answers with "copy
// blocks i..j" and literal bytes; the secondary rebuilds the file into a
// temporary file and checks its content hash against the manifest.
//
//	signature: "RSG1" | uvarint block size | uvarint file size | n × (uint32 weak | uint64 strong)
//	delta:     'C' uvarint first uvarint count | 'L' uvarint len bytes | 'E' uint64 xxhash of the result
const (
	sigMagic     = "RSG1"
	minBlock     = 1 << 10
	maxBlock     = 1 << 16
	maxLiteral   = 1 << 16
	maxSigBlocks = 1 << 24
)

var errBadDelta = errors.New("schedsync: malformed delta")

// blockSizeFor picks about sqrt(size) rounded up to a power of two.
func blockSizeFor(size int64) int {
	b := minBlock
	for b < maxBlock && int64(b)*int64(b) < size {
		b <<= 1
	}
	return b
}

// signature describes the blocks of the secondary's copy.
type signature struct {
	block  int
	size   int64
	weak   []uint32
	strong []uint64
}

// weakSum is rsync's rolling checksum: a = Σx, b = Σ(n-i)x, both mod 2^16.
func weakSum(p []byte) (a, b uint32) {
	n := uint32(len(p))
	i := 0
	for ; i+4 <= len(p); i += 4 {
		x0, x1, x2, x3 := uint32(p[i]), uint32(p[i+1]), uint32(p[i+2]), uint32(p[i+3])
		w := n - uint32(i)
		a += x0 + x1 + x2 + x3
		b += w*x0 + (w-1)*x1 + (w-2)*x2 + (w-3)*x3
	}
	for ; i < len(p); i++ {
		a += uint32(p[i])
		b += (n - uint32(i)) * uint32(p[i])
	}
	return a & 0xffff, b & 0xffff
}

// makeSignature reads the old copy.
func makeSignature(r io.Reader, size int64) (*signature, error) {
	s := &signature{block: blockSizeFor(size), size: size}
	buf := make([]byte, s.block)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		n, err := io.ReadFull(br, buf)
		if n > 0 {
			a, b := weakSum(buf[:n])
			s.weak = append(s.weak, a|b<<16)
			s.strong = append(s.strong, xxhash.Sum64(buf[:n]))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return s, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (s *signature) encode(w io.Writer) error {
	buf := append([]byte(sigMagic), 0)[:4]
	buf = binary.AppendUvarint(buf, uint64(s.block))
	buf = binary.AppendUvarint(buf, uint64(s.size))
	for i := range s.weak {
		buf = binary.BigEndian.AppendUint32(buf, s.weak[i])
		buf = binary.BigEndian.AppendUint64(buf, s.strong[i])
	}
	_, err := w.Write(buf)
	return err
}

// maxBasisRatio bounds a delta's basis by the new content: the secondary
// asks for a delta only when its copy is within 4 times the file's size
// either way (fetch.go), and the primary refuses a signature of a larger
// basis (errSigTooBig) before reading its blocks.
const maxBasisRatio = 4

// errSigTooBig is a signature the primary refuses by its header: a basis
// larger than the file allows, or a block size that is not the protocol's
// for the basis (blockSizeFor).
var errSigTooBig = errors.New("schedsync: delta signature refused")

// maxBasisFor is the largest basis the primary takes a signature of for a
// file of size bytes (a file below minBlock still allows one block).
func maxBasisFor(size int64) uint64 {
	return uint64(max(size, minBlock)) * maxBasisRatio
}

// decodeSignature reads a signature whose basis is at most maxBasis bytes.
// Its header is checked before a block is read or anything is allocated
// for them: the block size must be the one blockSizeFor gives the basis
// size, so there are ceil(size/block) blocks, never more than
// maxSigBlocks.
func decodeSignature(r io.Reader, maxBasis uint64) (*signature, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != sigMagic {
		return nil, fmt.Errorf("%w: bad signature magic", errBadDelta)
	}
	block, err1 := binary.ReadUvarint(br)
	size, err2 := binary.ReadUvarint(br)
	if err1 != nil || err2 != nil || block < minBlock || block > maxBlock || size > math.MaxInt64/2 {
		return nil, fmt.Errorf("%w: bad signature header", errBadDelta)
	}
	if size > maxBasis {
		return nil, fmt.Errorf("%w: a basis of %d bytes is over %d times the file's size", errSigTooBig, size, maxBasisRatio)
	}
	if want := blockSizeFor(int64(size)); block != uint64(want) {
		return nil, fmt.Errorf("%w: block size %d for a basis of %d bytes, the protocol's is %d", errSigTooBig, block, size, want)
	}
	n := (size + block - 1) / block
	if n > maxSigBlocks {
		return nil, fmt.Errorf("%w: %d blocks, over %d", errSigTooBig, n, maxSigBlocks)
	}
	s := &signature{block: int(block), size: int64(size)}
	var rec [12]byte
	for i := uint64(0); i < n; i++ {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated signature", errBadDelta)
		}
		s.weak = append(s.weak, binary.BigEndian.Uint32(rec[:4]))
		s.strong = append(s.strong, binary.BigEndian.Uint64(rec[4:]))
	}
	return s, nil
}

// blockLen is the length of block i (the last one may be short).
func (s *signature) blockLen(i int) int {
	if rest := s.size - int64(i)*int64(s.block); rest < int64(s.block) {
		return int(rest)
	}
	return s.block
}
