package health

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReadHead(t *testing.T) {
	tests := []struct {
		name, in string
		want     respHead
		body     string
		err      string
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef",
			want: respHead{code: 200, length: 3}, body: "abc"},
		{name: "LF only, no reason", in: "HTTP/1.1 503\ncontent-length:  0 \n\n",
			want: respHead{code: 503, length: 0}},
		{name: "chunked wins over length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			want: respHead{code: 200, length: -1, chunked: true}, body: "abc"},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nall of it",
			want: respHead{code: 200, length: -1}, body: "all of it"},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: Upgrade, close\r\nContent-Length: 0\r\n\r\n",
			want: respHead{code: 200, length: 0, close: true}},
		{name: "1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
			want: respHead{code: 200, length: 0, close: true}},
		{name: "1.0 has no chunked", in: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
			want: respHead{code: 200, length: -1, close: true}, body: "0\r\n"},
		{name: "1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
			want: respHead{code: 200, length: 0}},
		{name: "redirect", in: "HTTP/1.1 302 Found\r\nLocation: /ok\r\nLocation: /second\r\nContent-Length: 0\r\n\r\n",
			want: respHead{code: 302, location: "/ok", length: 0}},
		{name: "1xx skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			want: respHead{code: 204, length: -1}},
		{name: "same length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			want: respHead{code: 200, length: 2}, body: "ok"},
		{name: "two lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", err: "multiple Content-Length"},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "gzip encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: "unsupported transfer encoding"},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH_9.2\r\n", err: "malformed HTTP response"},
		{name: "HTTP/2 preface", in: "HTTP/2 200\r\n\r\n", err: "malformed HTTP response"},
		{name: "bad code", in: "HTTP/1.1 2000 OK\r\n\r\n", err: "malformed HTTP status code"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nbroken line\r\n\r\n", err: "malformed MIME header"},
		{name: "folded line", in: "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n", err: "malformed MIME header"},
		{name: "closed before answer", in: "", err: "unexpected EOF"},
		{name: "closed in head", in: "HTTP/1.1 200 OK\r\nContent-", err: "unexpected EOF"},
		{name: "endless head", in: "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", maxHeadBytes) + "\r\n\r\n", err: "longer than 256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 4096)
			h, err := readHead(br)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %+v, %v; want error containing %q", h, err, tt.err)
				}
				return
			}
			if err != nil || h != tt.want {
				t.Fatalf("got %+v, %v; want %+v", h, err, tt.want)
			}
			body, err := io.ReadAll(h.body(br, "GET"))
			if err != nil || string(body) != tt.body {
				t.Errorf("body %q, %v; want %q", body, err, tt.body)
			}
		})
	}
}

// TestReadHeadLongLocation: a field longer than the read buffer is kept whole.
func TestReadHeadLongLocation(t *testing.T) {
	loc := "/" + strings.Repeat("x", 10000)
	br := bufio.NewReaderSize(strings.NewReader("HTTP/1.1 301 Moved\r\nLocation: "+loc+"\r\n\r\n"), 4096)
	h, err := readHead(br)
	if err != nil || h.location != loc {
		t.Fatalf("got location of %d bytes, %v; want %d bytes", len(h.location), err, len(loc))
	}
}

// FuzzReadHead compares readHead with net/http's http.ReadResponse: when
// both accept an answer they must agree on its status, redirect target,
// connection handling and body. readHead may refuse answers that net/http
// accepts (it is stricter), never read them differently.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nstatus=OK\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nstat\r\n6\r\nus=OK\n\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.0 302 Found\r\nLocation: https://example.test/\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\ndown",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\nContent-Length: 2\n\nok",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(in), 4096)
		h, err := readHead(br)
		if err != nil {
			return
		}
		body, berr := io.ReadAll(io.LimitReader(h.body(br, "GET"), 1<<20))
		ref, rbody, rerr := referenceRead(in)
		if rerr != nil {
			return
		}
		if ref.StatusCode != h.code {
			t.Fatalf("status %d, net/http %d", h.code, ref.StatusCode)
		}
		if isRedirect(h.code) && ref.Header.Get("Location") != h.location {
			t.Fatalf("location %q, net/http %q", h.location, ref.Header.Get("Location"))
		}
		if ref.Close != h.close && h.framed("GET") {
			t.Fatalf("close %v, net/http %v", h.close, ref.Close)
		}
		if berr == nil && rbody.err == nil && !bytes.Equal(body, rbody.b) {
			t.Fatalf("body %q, net/http %q", body, rbody.b)
		}
	})
}

type readBody struct {
	b   []byte
	err error
}

// referenceRead is what net/http reads of in, skipping 1xx answers but 101
// as its client does.
func referenceRead(in []byte) (*http.Response, readBody, error) {
	br := bufio.NewReader(bytes.NewReader(in))
	for range maxInterim {
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			return nil, readBody{}, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			return resp, readBody{b, err}, nil
		}
	}
	return nil, readBody{}, io.EOF
}

// TestHTTPBodyCutShort: an answer whose body ends before its framing says
// (the server closed before Content-Length bytes, or inside the chunks)
// is no proof that mustnothave is absent, nor a whole answer: the probe
// fails. A body that runs until the server closes, as it says, is whole.
func TestHTTPBodyCutShort(t *testing.T) {
	tests := []struct {
		name, answer string
		ok           bool
		reason       string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nstatus=OK", false, "HTTP 200: reading body: unexpected EOF"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nstatus=OK\r\n", false, "HTTP 200: reading body: unexpected EOF"},
		{"until close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstatus=OK", true, "HTTP 200"},
		{"length whole", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus=OK", true, "HTTP 200"},
		{"chunked whole", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nstatus=OK\r\n0\r\n\r\n", true, "HTTP 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveTCP(t, func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(waitLimit))
				br := bufio.NewReader(c)
				for { // the request head
					if line, err := br.ReadString('\n'); err != nil || line == "\r\n" {
						break
					}
				}
				_, _ = io.WriteString(c, tt.answer)
			})
			r := check(t, Config{Kind: "http", URL: "http://" + addr + "/", MustHave: "status=OK", MustNotHave: "status=ERR"})
			wantResult(t, r, tt.ok, tt.reason)
		})
	}
}
