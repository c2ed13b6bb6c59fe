package schedsync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// POST /v1/files asks for many whole files in one round trip.
//
//	request:  uvarint count | count × (uvarint len + path)
//	response: per path, in order: uvarint len + path | byte 0 (ok) + uvarint size + content
//	                                                 | byte 1 (gone or not a regular file)
const maxFilesPerRequest = 4096

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

// serveFiles streams the requested files from root.
func serveFiles(w io.Writer, root *os.Root, paths []string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	for _, p := range paths {
		if err := serveOne(bw, root, p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func serveOne(bw *bufio.Writer, root *os.Root, p string) error {
	hdr := appendString(nil, p)
	f, err := root.Open(p)
	var fi fs.FileInfo
	if err == nil {
		defer f.Close()
		fi, err = f.Stat()
	}
	if err != nil || !fi.Mode().IsRegular() {
		_, err := bw.Write(append(hdr, 1))
		return err
	}
	hdr = binary.AppendUvarint(append(hdr, 0), uint64(fi.Size()))
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	// The size is promised up front: a file that shrinks meanwhile breaks
	// the stream (the secondary retries); one that grows is cut, and the
	// hash check on the secondary rejects it.
	if _, err := io.CopyN(bw, f, fi.Size()); err != nil {
		return fmt.Errorf("schedsync: %s changed while sending: %w", p, err)
	}
	return nil
}

// fileRecord is the header of one file in a response stream.
type fileRecord struct {
	Path string
	OK   bool
	Size int64
}

// readFileRecord reads the next header; the caller then reads Size bytes.
func readFileRecord(br *bufio.Reader, maxSize int64) (fileRecord, error) {
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
