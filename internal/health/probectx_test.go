package health

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestProbeCtx: err answers as the context would, without making it; get
// makes it once, with the deadline (none when the deadline is zero).
func TestProbeCtx(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	future, past := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
	for _, c := range []struct {
		name     string
		parent   context.Context
		deadline time.Time
		wantErr  error
	}{
		{"running", context.Background(), future, nil},
		{"no deadline", context.Background(), time.Time{}, nil},
		{"deadline passed", context.Background(), past, context.DeadlineExceeded},
		{"parent cancelled", cancelled, future, context.Canceled},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc := probeCtx{parent: c.parent, deadline: c.deadline}
			defer pc.done()
			if err := pc.err(); !errors.Is(err, c.wantErr) {
				t.Errorf("err() = %v, want %v", err, c.wantErr)
			}
			if pc.ctx != nil {
				t.Fatal("err() made the context")
			}
			ctx := pc.get()
			if pc.get() != ctx {
				t.Error("a second get() made another context")
			}
			dl, ok := ctx.Deadline()
			if ok != !c.deadline.IsZero() || (ok && !dl.Equal(c.deadline)) {
				t.Errorf("the context's deadline is %v, %v; want %v", dl, ok, c.deadline)
			}
			if err := ctx.Err(); !errors.Is(err, c.wantErr) {
				t.Errorf("the context's Err() = %v, want %v", err, c.wantErr)
			}
		})
	}
}
