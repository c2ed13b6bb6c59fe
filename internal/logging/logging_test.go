package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want slog.Level
		err  bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"WARN", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"verbose", 0, true},
		{"", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLevel(tc.in)
			if (err != nil) != tc.err {
				t.Errorf("ParseLevel(%q) error = %v, want error %v", tc.in, err, tc.err)
				return
			}
			if err == nil && got != tc.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestNewRejectsBadFlags(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "loud", "text", nil); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("bad level: err = %v, want one naming the level", err)
	}
	if _, err := New(&bytes.Buffer{}, "info", "xml", nil); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("bad format: err = %v, want one naming the format", err)
	}
}

func TestLevelFilters(t *testing.T) {
	for _, tc := range []struct {
		level   string
		present []string
		absent  []string
	}{
		{"debug", []string{"d-msg", "i-msg", "w-msg", "e-msg"}, nil},
		{"info", []string{"i-msg", "w-msg", "e-msg"}, []string{"d-msg"}},
		{"warn", []string{"w-msg", "e-msg"}, []string{"d-msg", "i-msg"}},
		{"error", []string{"e-msg"}, []string{"d-msg", "i-msg", "w-msg"}},
	} {
		t.Run(tc.level, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(&buf, tc.level, "text", nil)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d-msg")
			log.Info("i-msg")
			log.Warn("w-msg")
			log.Error("e-msg")
			for _, s := range tc.present {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("level %s: %q missing from\n%s", tc.level, s, buf.String())
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(buf.String(), s) {
					t.Errorf("level %s: %q logged but should not be:\n%s", tc.level, s, buf.String())
				}
			}
		})
	}
}

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "text", nil)
	if err != nil {
		t.Fatal(err)
	}
	Component(log, "ddns", "cat").Info("switched", "to", "10.0.0.2", "after_s", 1.5)
	line := buf.String()
	for _, want := range []string{"level=INFO", "msg=switched", "component=ddns", "instance=cat",
		"to=10.0.0.2", "after_s=1.5"} {
		if !strings.Contains(line, want) {
			t.Errorf("text line %q lacks %q", line, want)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "info", "JSON", nil)
	if err != nil {
		t.Fatal(err)
	}
	Component(log, "voter", "").Warn("late packet", "client", "east")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("json line %q: %v", buf.String(), err)
	}
	want := map[string]any{"level": "WARN", "msg": "late packet", "component": "voter", "client": "east"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("json %s = %v, want %v (line %s)", k, rec[k], v, buf.String())
		}
	}
	if _, ok := rec["instance"]; ok {
		t.Errorf("empty instance should not be logged: %s", buf.String())
	}
}

func TestRingKeepsLastNInOrder(t *testing.T) {
	r := NewRing(3)
	if got := r.Events(); len(got) != 0 {
		t.Fatalf("new ring has %d events", len(got))
	}
	for i := 1; i <= 5; i++ {
		r.Add(Event{Message: fmt.Sprint(i)})
		got := r.Events()
		want := min(i, 3)
		if len(got) != want {
			t.Fatalf("after %d adds: %d events, want %d", i, len(got), want)
		}
		for j, e := range got {
			if exp := fmt.Sprint(i - want + 1 + j); e.Message != exp {
				t.Fatalf("after %d adds: event %d = %q, want %q", i, j, e.Message, exp)
			}
		}
	}
}

func TestRingDefaultSize(t *testing.T) {
	r := NewRing(0)
	for i := 0; i < 250; i++ {
		r.Add(Event{Message: fmt.Sprint(i)})
	}
	got := r.Events()
	if len(got) != 200 || got[0].Message != "50" || got[199].Message != "249" {
		t.Fatalf("default ring: %d events, first %q last %q", len(got), got[0].Message, got[len(got)-1].Message)
	}
}

func TestRingConcurrentAdds(t *testing.T) {
	r := NewRing(50)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r.Add(Event{Message: "x"})
				_ = r.Events()
			}
		}()
	}
	wg.Wait()
	if n := len(r.Events()); n != 50 {
		t.Fatalf("ring holds %d events, want 50", n)
	}
}

func TestRingCapturesComponentAndLevel(t *testing.T) {
	ring := NewRing(10)
	log, err := New(&bytes.Buffer{}, "debug", "text", ring)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	l := Component(log, "gateway", "west")
	l.Debug("not kept")
	l.Info("peer up", "addr", "10.1.1.1:7000")
	l.With("extra", 1).Error("disk full")
	Component(log, "srv", "").Warn("drift")
	got := ring.Events()
	if len(got) != 3 {
		t.Fatalf("ring has %d events, want 3 (debug is not kept): %+v", len(got), got)
	}
	want := []Event{
		{Level: "INFO", Component: "gateway", Instance: "west", Message: "peer up addr=10.1.1.1:7000"},
		{Level: "ERROR", Component: "gateway", Instance: "west", Message: "disk full extra=1"},
		{Level: "WARN", Component: "srv", Message: "drift"},
	}
	for i, w := range want {
		g := got[i]
		if g.Time.Before(before) {
			t.Errorf("event %d time %v is before the test started", i, g.Time)
		}
		g.Time = time.Time{}
		if g != w {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestRingAttrs(t *testing.T) {
	ring := NewRing(10)
	log, err := New(&bytes.Buffer{}, "info", "json", ring)
	if err != nil {
		t.Fatal(err)
	}
	l := Component(log, "ddns", "cat").With("server", "web2")
	l.WithGroup("probe").Info("failed", "reason", "HTTP 503", slog.Group("t", "ms", 12), "empty", "")
	l.Info("ok", slog.Group("", "inline", 1))
	got := ring.Events()
	want := []string{`failed server=web2 probe.reason="HTTP 503" probe.t.ms=12 probe.empty=""`, "ok server=web2 inline=1"}
	if len(got) != len(want) {
		t.Fatalf("ring = %+v", got)
	}
	for i, w := range want {
		if got[i].Message != w || got[i].Component != "ddns" || got[i].Instance != "cat" {
			t.Errorf("event %d = %+v, want message %q", i, got[i], w)
		}
	}
}

func TestDiscard(t *testing.T) {
	log := Discard()
	if log.Enabled(t.Context(), slog.LevelError) {
		t.Error("Discard logger is enabled")
	}
	log.Error("nothing") // must not panic
}
