package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/netlimit"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/text"
	"github.com/redund/redund/internal/webui"
)

// DefaultAddr is the admin listen address when none is configured.
const DefaultAddr = "127.0.0.1:9180"

// Server is a daemon's admin listener: GET /v1/status, /metrics, /healthz,
// the index page at / (every scheme page added with AddPage, the
// instances, the config's other daemons), plus whatever scheme endpoints
// are added with Handle.
type Server struct {
	daemon   string
	version  string
	started  time.Time
	ring     *logging.Ring
	log      *slog.Logger
	registry *prometheus.Registry
	mux      *http.ServeMux

	mu         sync.Mutex
	sources    []status.Source
	pages      []webui.PageLink
	neighbours []Neighbour
	ln         net.Listener
	access     Config       // token and allowed_hosts (SetAccess)
	listen     string       // the address given to Listen
	sock       net.Listener // the admin socket (ListenSocket), or nil
	sockPath   string
}

// NewServer returns an admin server for daemon (e.g. "ddns run"). ring may
// be nil. The registry has Go and process collectors already registered.
func NewServer(daemon, version string, ring *logging.Ring, log *slog.Logger) *Server {
	if log == nil {
		log = logging.Discard()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{daemon: daemon, version: version, started: time.Now(), ring: ring, log: log,
		registry: reg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/status", s.serveStatus)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.Handle(webui.IndexPattern, webui.Index(s.Report, s.Pages, s.neighbourLinks, log))
	return s
}

// Registry is where the daemon registers its metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// AddSource adds instances to the status document.
func (s *Server) AddSource(src status.Source) {
	s.mu.Lock()
	s.sources = append(s.sources, src)
	s.mu.Unlock()
}

// SetAccess gives the server the [admin] settings that decide who may use
// it (see Guard): the token and allowed_hosts. Call it before Listen.
func (s *Server) SetAccess(a Config) {
	s.mu.Lock()
	s.access = a
	s.mu.Unlock()
}

// AddPage lists a scheme's HTML page (registered with Handle) on the
// index: the instances of scheme link to path, at the section anchor
// names (nil: the page itself). Every scheme that shares the listener
// adds its own, so none is hidden behind another's.
func (s *Server) AddPage(scheme, path string, anchor func(status.Document) string) {
	s.mu.Lock()
	s.pages = append(s.pages, webui.PageLink{Scheme: scheme, Path: path, Anchor: anchor})
	s.mu.Unlock()
}

// Pages are the scheme pages added with AddPage.
func (s *Server) Pages() []webui.PageLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]webui.PageLink(nil), s.pages...)
}

// Neighbour is another daemon that the same config runs on this host, and
// the admin address it is configured on.
type Neighbour struct {
	Daemon string // "ddns run"
	Key    string // its [admin] key ("ddns")
	Addr   string // its admin address as configured
}

// SetNeighbours gives the index the config's other daemons: it links to
// each one's own index, and says so when one is configured on this
// listener's address (where only one of them can listen).
func (s *Server) SetNeighbours(ns []Neighbour) {
	s.mu.Lock()
	s.neighbours = append([]Neighbour(nil), ns...)
	s.mu.Unlock()
}

// neighbourLinks are the neighbours as the index shows them to r.
func (s *Server) neighbourLinks(r *http.Request) []webui.Neighbour {
	s.mu.Lock()
	ns, listen := s.neighbours, s.listen
	s.mu.Unlock()
	var out []webui.Neighbour
	for _, n := range ns {
		l := webui.Neighbour{Daemon: n.Daemon, Addr: n.Addr}
		if n.Addr == Off {
			l.Note = "no TCP admin listener ([admin] " + n.Key + " = \"off\"): its admin socket only"
		} else if sameAddr(n.Addr, listen) {
			l.Note = "configured on this same address: on this host it cannot listen here too; give " + n.Daemon +
				" its own address ([admin] " + n.Key + ")"
		} else {
			l.URL = indexURL(n.Addr, r.Host)
		}
		out = append(out, l)
	}
	return out
}

// sameAddr reports whether two listen addresses are the same socket as
// configured (a wildcard host matches only a wildcard host).
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	wild := func(h string) string {
		if h == "" || h == "0.0.0.0" || h == "::" {
			return ""
		}
		return normHost(h)
	}
	return ap == bp && wild(ah) == wild(bh)
}

// indexURL is the index of the admin listener at addr, as a browser that
// reached this listener by host (the request's Host) finds it: a wildcard
// listen host is reached by the same host name.
func indexURL(addr, host string) string {
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if h == "" || h == "0.0.0.0" || h == "::" {
		h = hostOnly(host)
		if h == "" {
			h = "127.0.0.1"
		}
	}
	return "http://" + net.JoinHostPort(h, port) + "/"
}

// Handle adds a scheme endpoint, e.g. "POST /v1/ddns/maintenance". An
// endpoint that any method but GET (and HEAD) reaches changes something:
// its handler must come from Protect or RequireToken, else Handle panics,
// as ServeMux does on a bad pattern, so that no scheme can add an
// unguarded action by mistake.
func (s *Server) Handle(pattern string, h http.Handler) {
	if method, _, ok := strings.Cut(pattern, " "); !ok || (method != http.MethodGet && method != http.MethodHead) {
		if _, ok := h.(guarded); !ok {
			panic("adminapi: " + pattern + " may change something: its handler must come from Protect or RequireToken")
		}
	}
	s.mux.Handle(pattern, h)
}

// Report builds the current status report.
func (s *Server) Report() status.Report {
	s.mu.Lock()
	srcs := append([]status.Source(nil), s.sources...)
	s.mu.Unlock()
	r := status.Report{Schema: status.SchemaVersion, Daemon: s.daemon, Version: s.version, PID: os.Getpid(),
		Started: s.started, Instances: []status.Document{}}
	for _, src := range srcs {
		r.Instances = append(r.Instances, src.Status()...)
	}
	if s.ring != nil {
		r.Events = s.ring.Events()
	}
	return r
}

func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, s.Report())
}

// WriteJSON writes v as indented JSON with the given HTTP status.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes {"error": msg} with the given HTTP status.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}

// Limits caps the connections of an admin listener (see netlimit).
func Limits() netlimit.Limits { return netlimit.Limits{Total: netlimit.Budget(256), PerSrc: 64} }

// Off, as an admin address ([admin] listen, a daemon's key or --admin),
// opens no TCP listener: the daemon serves its admin API on its admin
// socket only ([admin] socket_dir, which Config.Validate then requires),
// so that nobody who binds the port while the daemon is down can answer
// browsers or Prometheus in its name.
const Off = "off"

// Listen binds addr (DefaultAddr when empty), with Limits. Addr is
// valid afterwards. An address off loopback without a token is logged as
// a warning. Off binds nothing: ListenSocket must follow.
func (s *Server) Listen(addr string) error {
	if addr == "" {
		addr = DefaultAddr
	}
	if addr == Off {
		s.mu.Lock()
		s.listen = Off
		s.mu.Unlock()
		return nil
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status: admin listener: %w%s", err, s.heldBy(addr, err))
	}
	ln := netlimit.Wrap(raw, Limits())
	s.mu.Lock()
	s.ln, s.listen = ln, addr
	token := s.access.Token
	s.mu.Unlock()
	s.registerConnMetrics(ln)
	if token == "" && !IsLoopback(addr) {
		s.log.Warn("admin listener is not on loopback and [admin] token is not set: whoever reaches it "+
			"reads the status and metrics (changes stay refused to them); set a token or listen on 127.0.0.1",
			"addr", ln.Addr().String())
	}
	return nil
}

// heldBy explains an admin address in use when another redund daemon
// answers there ("" otherwise): two daemons given one [admin] address
// cannot both listen, and the second should say which daemon it lost to
// and what to change, not only "address already in use".
func (s *Server) heldBy(addr string, err error) string {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep, ferr := Fetch(ctx, addr)
	if ferr != nil || rep.Daemon == "" {
		return ""
	}
	key, _, _ := strings.Cut(s.daemon, " ")
	holder := text.Clean(rep.Daemon)
	if r := []rune(holder); len(r) > 40 {
		holder = string(r[:40]) + "…"
	}
	return fmt.Sprintf(" (`%s`, pid %d, serves its admin listener there; only one daemon can listen on an address: "+
		"give %s its own, [admin] %s or --admin)", holder, rep.PID, s.daemon, key)
}

// registerConnMetrics exports the listener's open and refused connections.
func (s *Server) registerConnMetrics(ln *netlimit.Listener) {
	_ = s.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "redund_admin_connections_open",
		Help: "Connections open on the admin listener."}, func() float64 { return float64(ln.Open()) }))
	_ = s.registry.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "redund_admin_connections_refused_total",
		Help: "Connections to the admin listener closed at once: over the total or per-source cap."},
		func() float64 { return float64(ln.Refused()) }))
}

// Addr is the bound address (after Listen), Off when there is no TCP
// listener.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		if s.listen == Off {
			return Off
		}
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves until ctx is done, on the TCP listener and the admin socket
// when there is one. Listen must have been called.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln, sock, access, listen := s.ln, s.sock, s.access, s.listen
	s.mu.Unlock()
	if ln == nil && sock == nil {
		return errors.New("status: Serve before Listen")
	}
	names := []string{listen}
	if ln != nil {
		names = append(names, ln.Addr().String())
	}
	guard := NewGuard(access.Token, access.AllowedHosts, names...)
	errs := netlimit.NewErrorLog(s.log, "admin listener")
	h := guard.Handler(s.mux)
	type served struct {
		hs *http.Server
		ln net.Listener
	}
	var all []served
	if ln != nil {
		all = append(all, served{netlimit.HTTPServer(h, errs), ln}) // with netlimit's write stall bound
	}
	if sock != nil {
		hs := netlimit.HTTPServer(h, errs)
		hs.ConnContext = socketConnContext
		all = append(all, served{hs, limitPeers(sock, Limits())}) // per user, not per address
	}
	logCtx, stopLog := context.WithCancel(context.Background())
	logged := make(chan struct{})
	go func() { defer close(logged); errs.Run(logCtx) }()
	errc := make(chan error, len(all))
	for _, sv := range all {
		go func() { errc <- sv.hs.Serve(sv.ln) }()
	}
	left := len(all)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc: // one stopped by itself: stop the other too
		left--
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	for _, sv := range all {
		_ = sv.hs.Shutdown(sctx)
	}
	cancel()
	for ; left > 0; left-- { // every Serve has returned: no goroutine outlives Serve
		if e := <-errc; err == nil || errors.Is(err, http.ErrServerClosed) {
			err = e
		}
	}
	stopLog()
	<-logged // the last summary is written
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status: admin listener: %w", err)
	}
	return nil
}
