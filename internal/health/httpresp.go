package health

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
	"strings"
)

// Limits of what a probe reads of a response's head.
const (
	maxHeadBytes = 256 << 10 // status line and header fields together
	maxInterim   = 8         // 1xx answers skipped before the final one
)

// respHead is what a probe needs of a response's head: the status, where a
// redirect points and how the body is framed.
type respHead struct {
	code     int
	location string
	length   int64 // Content-Length, or -1
	chunked  bool
	close    bool // the connection ends with this response
}

var errHeadTooLong = errors.New("malformed HTTP response: header longer than 256 KiB")

// readHead reads the head of the final response to a request (1xx answers
// but 101 are skipped). It reads HTTP/1.0 and 1.1 as net/http does, keeps
// only the fields a probe uses and allocates only for Location.
func readHead(br *bufio.Reader) (respHead, error) {
	for range maxInterim {
		h, err := readOneHead(br)
		if err != nil || h.code >= 200 || h.code == 101 {
			return h, err
		}
	}
	return respHead{}, errors.New("malformed HTTP response: too many 1xx answers")
}

func readOneHead(br *bufio.Reader) (respHead, error) {
	budget := maxHeadBytes
	line, err := readLine(br, &budget)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the server closed without an answer
		}
		return respHead{}, err
	}
	h := respHead{length: -1}
	var http10 bool
	if h.code, http10, err = parseStatusLine(line); err != nil {
		return h, err
	}
	keepAlive := false
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return h, noEOF(err)
		}
		if len(line) == 0 {
			break
		}
		if err := h.field(line, &keepAlive); err != nil {
			return h, err
		}
	}
	if http10 && !keepAlive {
		h.close = true
	}
	switch {
	case http10:
		h.chunked = false // as net/http: HTTP/1.0 has no chunked encoding
	case h.chunked:
		h.length = -1
	}
	return h, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseStatusLine reads "HTTP/1.1 200 OK" (the reason is optional).
func parseStatusLine(line []byte) (code int, http10 bool, err error) {
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		http10 = true
	default:
		return 0, false, fmt.Errorf("malformed HTTP response %q", trimReason(line))
	}
	status, _, _ := bytes.Cut(rest, []byte(" "))
	if len(status) != 3 || !isDigits(status) {
		return 0, false, fmt.Errorf("malformed HTTP status code %q", trimReason(status))
	}
	code, _ = strconv.Atoi(string(status))
	return code, http10, nil
}

// field applies one header field line to h.
func (h *respHead) field(line []byte, keepAlive *bool) error {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || !isToken(name) {
		return fmt.Errorf("malformed MIME header line: %q", trimReason(line))
	}
	value = bytes.Trim(value, " \t")
	switch {
	case asciiEqualFold(name, "Content-Length"):
		if !isDigits(value) || len(value) > 18 {
			return fmt.Errorf("bad Content-Length %q", trimReason(value))
		}
		n, _ := strconv.ParseInt(string(value), 10, 64)
		if h.length >= 0 && h.length != n {
			return errors.New("http: message cannot contain multiple Content-Length headers")
		}
		h.length = n
	case asciiEqualFold(name, "Transfer-Encoding"):
		if h.chunked || !asciiEqualFold(value, "chunked") {
			return fmt.Errorf("unsupported transfer encoding: %q", trimReason(value))
		}
		h.chunked = true
	case asciiEqualFold(name, "Connection"):
		for tok := range bytes.SplitSeq(value, []byte(",")) {
			tok = bytes.Trim(tok, " \t")
			h.close = h.close || asciiEqualFold(tok, "close")
			*keepAlive = *keepAlive || asciiEqualFold(tok, "keep-alive")
		}
	case asciiEqualFold(name, "Location") && h.location == "":
		h.location = string(value)
	}
	return nil
}

// body frames the body that follows h for a request of method.
func (h respHead) body(br *bufio.Reader, method string) io.Reader {
	return h.bodyInto(br, method, new(io.LimitedReader))
}

// bodyInto is body, framing a body of known length with lr (a probe's
// connection keeps one: no allocation per answer).
func (h respHead) bodyInto(br *bufio.Reader, method string, lr *io.LimitedReader) io.Reader {
	switch {
	case method == "HEAD" || h.code == 204 || h.code == 304 || h.code < 200:
		return eofReader{}
	case h.chunked:
		return httputil.NewChunkedReader(br)
	case h.length >= 0:
		*lr = io.LimitedReader{R: br, N: h.length}
		return lr
	}
	return br // until the server closes
}

// framed reports whether the body ends without the connection ending.
func (h respHead) framed(method string) bool {
	return method == "HEAD" || h.code == 204 || h.code == 304 || h.chunked || h.length >= 0
}

// readTrailer reads what follows a chunked body up to its final empty line,
// so that the next response on the connection starts at its status line.
func readTrailer(br *bufio.Reader) error {
	budget := maxHeadBytes
	for {
		line, err := readLine(br, &budget)
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readLine returns one line without its CRLF (or LF), charging budget.
// The slice is valid until the next read from br, except for a line longer
// than br's buffer, which is copied.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	var long []byte
	for err == bufio.ErrBufferFull {
		if *budget -= len(line); *budget < 0 {
			return nil, errHeadTooLong
		}
		long = append(long, line...)
		line, err = br.ReadSlice('\n')
	}
	if *budget -= len(line); *budget < 0 {
		return nil, errHeadTooLong
	}
	if long != nil {
		line = append(long, line...)
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// isToken reports an RFC 9110 token (a field name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
