package netlimit

import (
	"io"
	stdlog "log"
	"net/http"
	"time"
)

// Bounds of every redund HTTP server. A client gets ReadHeaderTimeout to
// send its request line and headers (MaxHeaderBytes at most), and a
// keep-alive connection with no request is closed after IdleTimeout.
// A request body must arrive at BodyMinRate bytes per second after a
// grace of BodyTimeout (Apache's mod_reqtimeout body=20,MinRate=500):
// without it, a client that announces a body and never sends it holds
// its connection forever, even when the answer is a refusal, since
// net/http reads up to 256 KiB of an unread body before answering.
// There is no overall write deadline: answers (file transfers, WebSocket
// upgrades through gateway's proxy) may last long; but each write of an
// answer must make progress within WriteStall.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 64 << 10
	BodyTimeout       = 20 * time.Second
	BodyMinRate       = 500
)

// bodyTimeout is BodyTimeout (tests shorten it).
var bodyTimeout = BodyTimeout

// HTTPServer returns an http.Server for h with those bounds; errs (may be
// nil: net/http's default, the standard logger) receives the server's own
// error lines (see ErrorLog).
func HTTPServer(h http.Handler, errs *ErrorLog) *http.Server {
	s := &http.Server{Handler: cutStalled(bodyDeadline(h)), ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes}
	if errs != nil {
		s.ErrorLog = stdlog.New(errs, "", 0)
	}
	return s
}

// bodyDeadline bounds the reading of a request's body (see BodyTimeout);
// once the body is read the connection has no read deadline again, so a
// long answer is not cut.
func bodyDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			b := &timedBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: time.Now()}
			if b.rc.SetReadDeadline(b.start.Add(bodyTimeout)) == nil {
				r.Body = b
			}
		}
		h.ServeHTTP(w, r)
	})
}

// timedBody moves the read deadline on by one second per BodyMinRate
// bytes read, and lifts it at the end of the body.
type timedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	n     int64
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		_ = b.rc.SetReadDeadline(time.Time{})
	case n > 0:
		_ = b.rc.SetReadDeadline(b.start.Add(bodyTimeout + time.Duration(b.n)*(time.Second/BodyMinRate)))
	}
	return n, err
}
