package dnsupdate

import (
	"strings"
	"testing"
	"time"
)

func TestBackoffCapped(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := b.Next(); got != w*time.Second {
			t.Errorf("attempt %d: %v, want %v", i, got, w*time.Second)
		}
	}
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Errorf("after Reset: %v", got)
	}
	// jitter spreads a delay below the cap both ways, and never past Max
	// (retry_max = "3s" gave 3.17 s)
	j := Backoff{Min: time.Second, Max: 4 * time.Second, Jitter: 0.2}
	var above bool
	for range 200 {
		if d := j.Next(); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("jittered delay %v outside ±20%%", d)
		} else if d > time.Second {
			above = true
		}
		j.Reset()
	}
	if !above {
		t.Error("jitter never lengthened a delay below the cap")
	}
	c := Backoff{Min: time.Second, Max: 3 * time.Second, Jitter: 0.1}
	for i := range 200 {
		if d := c.Next(); d > 3*time.Second {
			t.Fatalf("attempt %d: %v is above Max 3s", i, d)
		}
	}
}

func TestMatches(t *testing.T) {
	cases := []struct {
		rtype string
		have  []string
		want  string
		ok    bool
	}{
		{"A", []string{"192.0.2.1"}, "192.0.2.1", true},
		{"AAAA", []string{"2001:DB8::1"}, "2001:db8:0::1", true},
		{"A", []string{"192.0.2.1", "192.0.2.2"}, "192.0.2.1", false},
		{"A", nil, "192.0.2.1", false},
		{"CNAME", []string{"Main.Example.com."}, "main.example.com", true},
	}
	for _, c := range cases {
		t.Run(c.rtype+" "+strings.Join(c.have, ",")+" want="+c.want, func(t *testing.T) {
			if got := Matches(c.rtype, c.have, c.want); got != c.ok {
				t.Errorf("Matches(%s, %v, %s) = %v", c.rtype, c.have, c.want, got)
			}
		})
	}
}
