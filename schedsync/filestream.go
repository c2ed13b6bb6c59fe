package schedsync

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
)

// POST /v1/files asks for many whole files in one round trip.
//
//	request:  uvarint count | count × (uvarint len + path)
//	response: per path, in order: uvarint len + path | byte 0 (ok) + uvarint size + content
//	                                                 | byte 1 (gone or not a regular file)
//
// With a secret, the answer's body proof covers a digest of the stream
// (peer's UseDigest) instead of the SHA-256 of its bytes: SHA-256 over
// each record's header bytes as sent (path, status, size). A file's
// content is not in it: the secondary installs a file only when the
// content hash of what it received is the manifest's (whose own proof
// covers that hash), so the content is proven by the manifest, and a
// content changed on the way is refused as a hash mismatch. Neither end
// hashes a file's content for the proof: the secondary hashes it once,
// as it writes it, for the manifest check; the primary sends it without
// hashing it again (protocol 3 covered each file's content hash too, and
// the primary spent a quarter of its CPU in an initial copy hashing what
// its scan had hashed already).
const maxFilesPerRequest = 4096

// streamDigest is that digest.
type streamDigest struct{ hash.Hash }

func newStreamDigest() streamDigest { return streamDigest{sha256.New()} }

func (d streamDigest) header(b []byte) { d.Write(b) }

var errBadStream = errors.New("schedsync: malformed file stream")

func encodePaths(paths []string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(paths)))
	for _, p := range paths {
		b = appendString(b, p)
	}
	return b
}

func decodePaths(r io.Reader) ([]string, error) {
	br := bufio.NewReader(io.LimitReader(r, 16<<20))
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxFilesPerRequest {
		return nil, fmt.Errorf("%w: bad count", errBadStream)
	}
	out := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		p, err := readString(br, maxPathLen)
		if err != nil {
			return nil, err
		}
		if err := checkRelPath(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// serveFiles streams the requested files, opened with open (beneath: no
// symlink followed on the way); d, when not nil, gets the stream's digest.
func serveFiles(w io.Writer, open func(p string) (*os.File, error), paths []string, d hash.Hash) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	st := &streamer{bw: bw, buf: copyBufs.Get().(*[]byte)}
	defer copyBufs.Put(st.buf)
	if d != nil {
		st.d = streamDigest{d}
	}
	for _, p := range paths {
		if err := st.serveOne(open, p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type streamer struct {
	bw  *bufio.Writer
	buf *[]byte
	d   streamDigest // Hash nil: no digest
}

func (st *streamer) serveOne(open func(p string) (*os.File, error), p string) error {
	hdr := appendString(nil, p)
	f, err := open(p)
	var fi fs.FileInfo
	if err == nil {
		defer f.Close()
		fi, err = f.Stat()
	}
	if err != nil || !fi.Mode().IsRegular() {
		return st.header(append(hdr, 1))
	}
	size := fi.Size()
	if err := st.header(binary.AppendUvarint(append(hdr, 0), uint64(size))); err != nil {
		return err
	}
	// The size is promised up front: a file that shrinks meanwhile breaks
	// the stream (the secondary retries); one that grows is cut, and the
	// hash check on the secondary rejects it.
	buf := *st.buf
	for left := size; left > 0; {
		n, err := f.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if _, werr := st.bw.Write(buf[:n]); werr != nil {
				return werr
			}
			left -= int64(n)
		}
		if err != nil && left > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("schedsync: %s changed while sending: %w", p, err)
		}
	}
	return nil
}

func (st *streamer) header(b []byte) error {
	if st.d.Hash != nil {
		st.d.header(b)
	}
	_, err := st.bw.Write(b)
	return err
}

// fileRecord is the header of one file in a response stream.
type fileRecord struct {
	Path string
	OK   bool
	Size int64
}

// readFileRecord reads the next header; the caller then reads Size bytes.
func readFileRecord(br byteReader, maxSize int64) (fileRecord, error) {
	var r fileRecord
	p, err := readString(br, maxPathLen)
	if err != nil {
		return r, err
	}
	if err := checkRelPath(p); err != nil {
		return r, err
	}
	r.Path = p
	st, err := br.ReadByte()
	if err != nil || st > 1 {
		return r, fmt.Errorf("%w: bad status", errBadStream)
	}
	if st == 1 {
		return r, nil
	}
	size, err := binary.ReadUvarint(br)
	if err != nil || size > uint64(maxSize) {
		return r, fmt.Errorf("%w: bad size", errBadStream)
	}
	r.OK, r.Size = true, int64(size)
	return r, nil
}

// headerReader reads record headers from br, feeding what it reads to the
// stream digest (when there is one) and counting it.
type headerReader struct {
	br *bufio.Reader
	d  streamDigest
	n  int64
}

func (h *headerReader) ReadByte() (byte, error) {
	b, err := h.br.ReadByte()
	if err == nil {
		h.n++
		if h.d.Hash != nil {
			h.d.Write([]byte{b})
		}
	}
	return b, err
}

func (h *headerReader) Read(p []byte) (int, error) {
	n, err := h.br.Read(p)
	h.n += int64(n)
	if h.d.Hash != nil {
		h.d.Write(p[:n])
	}
	return n, err
}

// contentReader reads one file's content from a stream and hashes it.
type contentReader struct {
	lr io.LimitedReader
	h  hash.Hash
	n  int64
}

func (c *contentReader) reset(r io.Reader, size int64) {
	c.lr, c.n = io.LimitedReader{R: r, N: size}, 0
	c.h.Reset()
}

func (c *contentReader) Read(p []byte) (int, error) {
	n, err := c.lr.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// is reports whether what was read is the whole of e's content.
func (c *contentReader) is(e Entry) bool {
	var sum [sha256.Size]byte
	return c.n == e.Size && c.lr.N == 0 && [sha256.Size]byte(c.h.Sum(sum[:0])) == e.Hash
}
