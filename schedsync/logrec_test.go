package schedsync

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// recLog is a slog handler that keeps every record, for tests that check
// what a node logged (and how often).
type recLog struct {
	mu    sync.Mutex
	lines []string
}

func (r *recLog) Enabled(context.Context, slog.Level) bool { return true }

func (r *recLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *recLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &recLogView{r: r, attrs: as}
}

func (r *recLog) WithGroup(string) slog.Handler { return r }

func (r *recLog) logger() *slog.Logger { return slog.New(r) }

// count returns how many records contain every one of parts.
func (r *recLog) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			n++
		}
	}
	return n
}

func (r *recLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// recLogView is a recLog with attributes added by With.
type recLogView struct {
	r     *recLog
	attrs []slog.Attr
}

func (v *recLogView) Enabled(context.Context, slog.Level) bool { return true }

func (v *recLogView) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(v.attrs...)
	return v.r.Handle(ctx, rec)
}

func (v *recLogView) WithAttrs(as []slog.Attr) slog.Handler {
	return &recLogView{r: v.r, attrs: append(append([]slog.Attr(nil), v.attrs...), as...)}
}

func (v *recLogView) WithGroup(string) slog.Handler { return v }

// metricValue reads a counter or gauge the way Prometheus scrapes it.
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	must(t, reg.Register(c))
	rr := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	for _, l := range strings.Split(rr.Body.String(), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !strings.HasPrefix(l, "#") {
			v, err := strconv.ParseFloat(f[1], 64)
			must(t, err)
			return v
		}
	}
	t.Fatalf("no sample in %q", rr.Body.String())
	return 0
}
