package lifecycle

import (
	"context"
	"slices"
	"testing"
	"time"
)

// serve answers l's pings until the test ends, and calls answered after
// each answer.
func serve(t *testing.T, l *Loop, answered func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case r := <-l.Pings():
				close(r)
				answered()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func TestAsk(t *testing.T) {
	up, down := NewLoop("up"), NewLoop("down")
	// ctx ends once up has answered: down, which never does, is late
	upAnswered := make(chan struct{}, 1)
	serve(t, up, func() { upAnswered <- struct{}{} })
	for _, tc := range []struct {
		name  string
		loops []*Loop
		want  []string
	}{
		{"a loop that runs", []*Loop{up}, nil},
		{"a loop that does not", []*Loop{down}, []string{"down"}},
		{"its request still waits", []*Loop{down}, []string{"down"}},
		{"one of two", []*Loop{down, up}, []string{"down"}},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			waited := make(chan struct{})
			switch {
			case tc.want != nil && slices.Contains(tc.loops, up):
				go func() { defer close(waited); <-upAnswered; cancel() }()
			case tc.want != nil:
				cancel()
				close(waited)
			default:
				close(waited)
			}
			err := Ask(ctx, tc.loops...)
			<-waited
			if tc.want == nil && slices.Contains(tc.loops, up) {
				<-upAnswered // its answer, before the next case
			}
			if got := Unanswered(err); !slices.Equal(got, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("Ask = %v, want unanswered %v", err, tc.want)
			}
		})
	}
	// a loop that starts late answers the request that waited for it
	serve(t, down, func() {})
	if err := Ask(t.Context(), down, up); err != nil {
		t.Errorf("Ask after the loop started = %v", err)
	}
}

// A loop inside a call it marked Busy answers for as long as the call's
// bound has not passed (none: for as long as it lasts), and no longer
// once the call returned.
func TestAskBusy(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		until  time.Time
		done   bool // the call has returned
		answer bool
	}{
		{"within its bound", now.Add(time.Hour), false, true},
		{"past its bound", now.Add(-time.Second), false, false},
		{"without a bound", time.Time{}, false, true},
		{"returned", now.Add(time.Hour), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoop("syncer") // never selects: it is in the call
			done := l.Busy(tc.until)
			if tc.done {
				done()
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if err := Ask(ctx, l); (err == nil) != tc.answer {
				t.Errorf("Ask = %v, want answered %v", err, tc.answer)
			}
		})
	}
}
