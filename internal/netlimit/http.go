package netlimit

import (
	"log/slog"
	"net/http"
	"time"
)

// Bounds of every redund HTTP server. A client gets ReadHeaderTimeout to
// send its request line and headers (MaxHeaderBytes at most), and a
// keep-alive connection with no request is closed after IdleTimeout.
// There is no overall read or write deadline: answers (file transfers,
// WebSocket upgrades through gateway's proxy) may last long.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// HTTPServer returns an http.Server for h with those bounds; log (may be
// nil) receives the server's own errors (TLS handshakes, panics) as
// warnings.
func HTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	s := &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, IdleTimeout: IdleTimeout,
		MaxHeaderBytes: MaxHeaderBytes}
	if log != nil {
		s.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	return s
}
