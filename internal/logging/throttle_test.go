package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	th := NewThrottle(slog.New(slog.NewTextHandler(&buf, nil)), "refused", time.Hour)
	for i := range 1000 {
		th.Event(fmt.Sprintf("10.0.0.%d", i%20), "bad MAC")
	}
	th.Flush()
	th.Flush() // nothing new: no line
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 1000 events:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"dropped=999", "10.0.0.1 (50)", "others (599)", "last_reason=\"bad MAC\""} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("summary %q lacks %q", lines[1], want)
		}
	}
	th.Event("10.0.0.99", "again") // a new interval: logged at once
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("the first event of a new interval was not logged:\n%s", buf.String())
	}
}

func TestThrottleRunFlushesAtEnd(t *testing.T) {
	var buf bytes.Buffer
	th := NewThrottle(slog.New(slog.NewTextHandler(&buf, nil)), "refused", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { th.Run(ctx); close(done) }()
	th.Event("a", "x")
	th.Event("a", "x")
	cancel()
	<-done
	if !strings.Contains(buf.String(), "dropped=1") {
		t.Fatalf("no summary when Run ended:\n%s", buf.String())
	}
}
