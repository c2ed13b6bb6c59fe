package demo

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// lockedBuffer records writes, and whether any came after stopped was set.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	stopped bool
	late    int
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		w.late++
	}
	return w.b.Write(p)
}

func (w *lockedBuffer) len() int { w.mu.Lock(); defer w.mu.Unlock(); return w.b.Len() }

// Once the view is stopped (before the summary is printed), it draws no
// more: a redraw clears the screen and would wipe the summary.
func TestViewStopsBeforeSummary(t *testing.T) {
	w := &lockedBuffer{}
	d := &Demo{opt: Options{Out: w, Width: 80}, log: NewLog()}
	stop := d.startView(context.Background())
	for deadline := time.Now().Add(5 * time.Second); w.len() == 0; time.Sleep(10 * time.Millisecond) { // sleep: poll interval (the view is stopped before the failure)
		if time.Now().After(deadline) {
			stop()
			t.Fatal("the view never drew")
		}
	}
	stop()
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	time.Sleep(1500 * time.Millisecond) // sleep: longer than the redraw interval
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.late > 0 {
		t.Fatalf("%d redraws after the view was stopped", w.late)
	}
}
