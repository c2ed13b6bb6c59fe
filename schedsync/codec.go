package schedsync

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The manifest wire format (GET /v1/manifest and /v1/changes):
//
//	"RSM1" | uvarint len + log ID | uvarint seq | uvarint count | count × entry
//	entry: byte flags (kind | 0x80 deleted) | uvarint len + path | varint size |
//	       uvarint mode | varint mtime | uvarint seq | [32]byte hash (files) |
//	       uvarint len + target (links)
//
// Every entry is checked on decode: a path that could leave the directory
// or a symlink that points out of it fails the whole message.
const (
	manifestMagic = "RSM1"
	maxEntries    = 10_000_000
	flagDeleted   = 0x80
)

// Batch is a decoded manifest or change list.
type Batch struct {
	LogID   string
	Seq     uint64
	Entries []Entry
}

// encodeBatch writes b to w.
func encodeBatch(w io.Writer, b Batch) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf []byte
	buf = append(buf, manifestMagic...)
	buf = appendString(buf, b.LogID)
	buf = binary.AppendUvarint(buf, b.Seq)
	buf = binary.AppendUvarint(buf, uint64(len(b.Entries)))
	for _, e := range b.Entries {
		buf = appendEntry(buf, e)
		if len(buf) > 32<<10 {
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEntry(b []byte, e Entry) []byte {
	flags := byte(e.Kind)
	if e.Deleted {
		flags |= flagDeleted
	}
	b = append(b, flags)
	b = appendString(b, e.Path)
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendVarint(b, e.MTime)
	b = binary.AppendUvarint(b, e.Seq)
	if e.Kind == KindFile && !e.Deleted {
		b = append(b, e.Hash[:]...)
	}
	if e.Kind == KindLink && !e.Deleted {
		b = appendString(b, e.Target)
	}
	return b
}

var errBadBatch = errors.New("schedsync: malformed manifest")

// decodeBatch reads one batch and checks every entry.
func decodeBatch(r io.Reader) (Batch, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var b Batch
	magic := make([]byte, 4)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != manifestMagic {
		return b, fmt.Errorf("%w: bad magic", errBadBatch)
	}
	id, err := readString(br, 64)
	if err != nil {
		return b, err
	}
	b.LogID = id
	if b.Seq, err = readUvarint(br); err != nil {
		return b, err
	}
	n, err := readUvarint(br)
	if err != nil || n > maxEntries {
		return b, fmt.Errorf("%w: bad entry count", errBadBatch)
	}
	b.Entries = make([]Entry, 0, min(n, 4096))
	for i := uint64(0); i < n; i++ {
		e, err := readEntry(br)
		if err != nil {
			return b, err
		}
		b.Entries = append(b.Entries, e)
	}
	return b, nil
}

func readEntry(br *bufio.Reader) (Entry, error) {
	var e Entry
	flags, err := br.ReadByte()
	if err != nil {
		return e, fmt.Errorf("%w: truncated", errBadBatch)
	}
	e.Kind, e.Deleted = Kind(flags&^flagDeleted), flags&flagDeleted != 0
	if e.Kind < KindFile || e.Kind > KindLink {
		return e, fmt.Errorf("%w: bad kind %d", errBadBatch, e.Kind)
	}
	if e.Path, err = readString(br, maxPathLen); err != nil {
		return e, err
	}
	if err := checkRelPath(e.Path); err != nil {
		return e, err
	}
	var mode uint64
	if e.Size, err = binary.ReadVarint(br); err != nil || e.Size < 0 {
		return e, fmt.Errorf("%w: bad size", errBadBatch)
	}
	if mode, err = readUvarint(br); err != nil || mode > 0o7777 {
		return e, fmt.Errorf("%w: bad mode", errBadBatch)
	}
	e.Mode = uint32(mode)
	if e.MTime, err = binary.ReadVarint(br); err != nil {
		return e, fmt.Errorf("%w: bad mtime", errBadBatch)
	}
	if e.Seq, err = readUvarint(br); err != nil {
		return e, err
	}
	return readEntryTail(br, e)
}

func readEntryTail(br *bufio.Reader, e Entry) (Entry, error) {
	if e.Deleted {
		return e, nil
	}
	switch e.Kind {
	case KindFile:
		if _, err := io.ReadFull(br, e.Hash[:]); err != nil {
			return e, fmt.Errorf("%w: truncated hash", errBadBatch)
		}
	case KindLink:
		t, err := readString(br, maxPathLen)
		if err != nil {
			return e, err
		}
		if err := checkLinkTarget(e.Path, t); err != nil {
			return e, err
		}
		e.Target = t
	}
	return e, nil
}

// byteReader is what the decoders read from (a *bufio.Reader, or the
// file stream's header reader, which feeds the stream digest).
type byteReader interface {
	io.Reader
	io.ByteReader
}

func readUvarint(br byteReader) (uint64, error) {
	v, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, fmt.Errorf("%w: truncated", errBadBatch)
	}
	return v, nil
}

func readString(br byteReader, max int) (string, error) {
	n, err := readUvarint(br)
	if err != nil || n > uint64(max) {
		return "", fmt.Errorf("%w: bad string length", errBadBatch)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return "", fmt.Errorf("%w: truncated string", errBadBatch)
	}
	return string(buf), nil
}
