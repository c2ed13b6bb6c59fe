package status

import (
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                             "0s ago",
		-5 * time.Second:              "0s ago",
		59 * time.Second:              "59s ago",
		61 * time.Second:              "1m01s ago",
		time.Hour - time.Second:       "59m59s ago",
		3*time.Hour + 4*time.Minute:   "3h04m ago",
		49*time.Hour + 30*time.Minute: "2d01h ago",
	} {
		t.Run(d.String(), func(t *testing.T) {
			if got := Ago(now, now.Add(-d)); got != want {
				t.Errorf("Ago(%v) = %q, want %q", d, got, want)
			}
		})
	}
	if got := Ago(now, time.Time{}); got != "-" {
		t.Errorf("Ago(zero) = %q", got)
	}
}
