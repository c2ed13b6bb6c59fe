package demo

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/redund/redund/internal/netlimit"
)

// WebServer is one of the okerr "cat" servers: its page says status=OK or
// status=ERR, and the demo flips it.
type WebServer struct {
	Name string
	ok   atomic.Bool
	ln   net.Listener
	srv  *http.Server
}

// StartWeb starts a web server on a free loopback port, healthy.
func StartWeb(name string) (*WebServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &WebServer{Name: name, ln: ln}
	w.ok.Store(true)
	w.srv = netlimit.HTTPServer(http.HandlerFunc(w.serve), nil) // timeouts and header bound, as every server
	go func() { _ = w.srv.Serve(ln) }()
	return w, nil
}

func (w *WebServer) serve(rw http.ResponseWriter, _ *http.Request) {
	state := "ERR"
	if w.ok.Load() {
		state = "OK"
	}
	fmt.Fprintf(rw, "<html><body>%s status=%s</body></html>\n", w.Name, state)
}

// SetOK flips the page.
func (w *WebServer) SetOK(ok bool) { w.ok.Store(ok) }

// OK reports the page's state.
func (w *WebServer) OK() bool { return w.ok.Load() }

// URL is the page's address.
func (w *WebServer) URL() string { return "http://" + w.ln.Addr().String() + "/" }

// Addr is host:port.
func (w *WebServer) Addr() string { return w.ln.Addr().String() }

// Close stops the server.
func (w *WebServer) Close() { _ = w.srv.Close() }
