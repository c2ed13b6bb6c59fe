package main

import (
	"bytes"
	"strconv"
	"sync/atomic"
)

// served counts the status requests answered by this process.
var served atomic.Int64

// maxRequest bounds a request's head; a longer one is answered 431 and
// the connection closed.
const maxRequest = 16 << 10

var (
	statusOK  = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nstatus=OK\n")
	statusOKC = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nstatus=OK\n")
	notFound  = []byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nnot found\n")
	notFoundC = []byte("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n")
	badReq    = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	tooLong   = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

// answer parses the requests at the start of in and appends their
// responses to out. It returns the bytes of in consumed (whole requests
// only: a partial one waits for more) and whether the connection is to be
// closed after out is written. Each request is parsed: its request line
// (method, target, version) and header fields up to the empty line
// (Connection and Content-Length, whose body is skipped). GET or HEAD of
// /status (any query) answers "status=OK" and is counted; /__count
// answers the count; any other path 404.
func answer(in, out []byte) (int, []byte, bool) {
	used := 0
	for {
		rest := in[used:]
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		if end < 0 {
			if len(rest) > maxRequest {
				return used, append(out, tooLong...), true
			}
			return used, out, false
		}
		head := rest[:end]
		n := end + 4
		line, fields, _ := bytes.Cut(head, []byte("\r\n"))
		method, rl, ok1 := bytes.Cut(line, []byte(" "))
		target, version, ok2 := bytes.Cut(rl, []byte(" "))
		if !ok1 || !ok2 || len(target) == 0 || target[0] != '/' || !bytes.HasPrefix(version, []byte("HTTP/1.")) {
			return used, append(out, badReq...), true
		}
		closeConn := bytes.Equal(version, []byte("HTTP/1.0")) // HTTP/1.0 closes unless asked to keep
		bodyLen := 0
		for len(fields) > 0 {
			var f []byte
			f, fields, _ = bytes.Cut(fields, []byte("\r\n"))
			name, value, ok := bytes.Cut(f, []byte(":"))
			if !ok {
				return used, append(out, badReq...), true
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Connection")):
				if bytes.EqualFold(value, []byte("close")) {
					closeConn = true
				} else if bytes.EqualFold(value, []byte("keep-alive")) {
					closeConn = false
				}
			case bytes.EqualFold(name, []byte("Content-Length")):
				v, err := strconv.Atoi(string(value))
				if err != nil || v < 0 || v > maxRequest {
					return used, append(out, badReq...), true
				}
				bodyLen = v
			}
		}
		if len(rest) < n+bodyLen {
			return used, out, false // the body is still coming
		}
		used += n + bodyLen
		path, _, _ := bytes.Cut(target, []byte("?"))
		head1 := bytes.Equal(method, []byte("HEAD"))
		switch {
		case bytes.Equal(path, []byte("/status")):
			served.Add(1)
			out = appendResp(out, statusOK, statusOKC, closeConn, head1)
		case bytes.Equal(path, []byte("/__count")):
			c := strconv.FormatInt(served.Load(), 10)
			out = append(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "...)
			out = strconv.AppendInt(out, int64(len(c)), 10)
			if closeConn {
				out = append(out, "\r\nConnection: close"...)
			}
			out = append(out, "\r\n\r\n"...)
			if !head1 {
				out = append(out, c...)
			}
		default:
			out = appendResp(out, notFound, notFoundC, closeConn, head1)
		}
		if closeConn {
			return used, out, true
		}
	}
}

// appendResp appends a canned response (keep or close), without its body
// for HEAD.
func appendResp(out, keep, closing []byte, closeConn, head bool) []byte {
	r := keep
	if closeConn {
		r = closing
	}
	if head {
		i := bytes.Index(r, []byte("\r\n\r\n"))
		r = r[:i+4]
	}
	return append(out, r...)
}
