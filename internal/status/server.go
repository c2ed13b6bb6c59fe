package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redund/redund/internal/logging"
)

// DefaultAdmin is the admin listen address when none is configured.
const DefaultAdmin = "127.0.0.1:9180"

// Server is a daemon's admin listener: GET /v1/status, /metrics, /healthz,
// plus whatever scheme endpoints are added with Handle.
type Server struct {
	daemon   string
	version  string
	started  time.Time
	ring     *logging.Ring
	log      *slog.Logger
	registry *prometheus.Registry
	mux      *http.ServeMux

	mu      sync.Mutex
	sources []Source
	ln      net.Listener
}

// NewServer returns an admin server for daemon (e.g. "ddns run"). ring may
// be nil. The registry has Go and process collectors already registered.
func NewServer(daemon, version string, ring *logging.Ring, log *slog.Logger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{daemon: daemon, version: version, started: time.Now(), ring: ring, log: log,
		registry: reg, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/status", s.serveStatus)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return s
}

// Registry is where the daemon registers its metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// AddSource adds instances to the status document.
func (s *Server) AddSource(src Source) {
	s.mu.Lock()
	s.sources = append(s.sources, src)
	s.mu.Unlock()
}

// Handle adds a scheme endpoint, e.g. "POST /v1/ddns/maintenance".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Report builds the current status report.
func (s *Server) Report() Report {
	s.mu.Lock()
	srcs := append([]Source(nil), s.sources...)
	s.mu.Unlock()
	r := Report{Schema: SchemaVersion, Daemon: s.daemon, Version: s.version, PID: os.Getpid(),
		Started: s.started, Instances: []Document{}}
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

// Listen binds addr (DefaultAdmin when empty). Addr is valid afterwards.
func (s *Server) Listen(addr string) error {
	if addr == "" {
		addr = DefaultAdmin
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("status: admin listener: %w", err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return nil
}

// Addr is the bound address (after Listen).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves until ctx is done. Listen must have been called.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("status: Serve before Listen")
	}
	hs := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	serveDone := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-serveDone:
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	close(serveDone)
	<-stopped // Shutdown has returned: no goroutine outlives Serve
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("status: admin listener: %w", err)
	}
	return nil
}
