package termview

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleResults() []adminapi.Result {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	return []adminapi.Result{
		{Endpoint: "127.0.0.1:9180", Report: status.Report{Schema: 1, Daemon: "voter serve", Instances: []status.Document{
			{Instance: "east", Scheme: "voter", Role: "primary", State: "Voting", Since: now.Add(-12 * time.Second),
				Peer:   &status.Peer{Address: "10.0.0.2:1667", Connected: true},
				Health: []status.Health{{Name: "rx1", State: "OK"}, {Name: "rx2", State: "OK"}, {Name: "rx3", State: "OK"}}},
			{Instance: "west", Scheme: "voter", Role: "secondary", State: "Standby", Since: now.Add(-3*time.Hour - 2*time.Minute),
				Peer: &status.Peer{Address: "10.0.0.1:1667", Connected: false}},
		}}},
		{Endpoint: "127.0.0.1:9181", Report: status.Report{Schema: 1, Daemon: "ddns run", Instances: []status.Document{
			{Instance: "cat", Scheme: "ddns", Role: "active", State: "Unavailable", Reason: "no healthy server",
				Since: now.Add(-4*time.Minute - 5*time.Second),
				Health: []status.Health{{Name: "a", State: "ERR"}, {Name: "b", State: "MAINT"}, {Name: "c", State: "OK"},
					{Name: "d", State: "UNKNOWN"}, {Name: "e", State: "ERR"}}},
		}}},
		{Endpoint: "127.0.0.1:9182", Report: status.Report{Schema: 1, Daemon: "gateway run", Started: now.Add(-50 * time.Hour)}},
		{Endpoint: "127.0.0.1:9183", Err: fmt.Errorf("Get %q: %w", "http://127.0.0.1:9183/v1/status", refused)},
		{Endpoint: "gw.example:9180", Err: &adminapi.TimeoutError{After: 2 * time.Second, Err: errors.New("deadline")}},
	}
}

func TestRenderPlainGolden(t *testing.T) {
	got := Render(sampleResults(), Options{Plain: true, Now: now})
	if strings.Contains(got, "\x1b") {
		t.Errorf("plain output has escape sequences: %q", got)
	}
	testutil.Golden(t, "plain", []byte(got))
}

func TestRenderNarrowGolden(t *testing.T) {
	got := Render(sampleResults(), Options{Plain: true, Now: now, Width: 90})
	for i, l := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
		if w := lipgloss.Width(l); w > 90 {
			t.Errorf("line %d is %d wide, want <= 90: %q", i, w, l)
		}
	}
	testutil.Golden(t, "narrow", []byte(got))
}

// TestRenderFitsWithoutWrapping: at any width a row is one line (a live
// view at 80x24 kept scrolling its header off when cells wrapped), no line
// is wider than the terminal, and a wide terminal shows a long reason whole
// instead of cutting it at 40 characters.
func TestRenderFitsWithoutWrapping(t *testing.T) {
	res := sampleResults()
	long := "the provider refused the update: NOTAUTH (TSIG BADSIG) from 192.0.2.53:53"
	res[1].Report.Instances[0].Reason = long
	rows := 0
	for _, r := range res {
		rows += max(1, len(r.Report.Instances))
	}
	for _, width := range []int{60, 80, 120, 240} {
		got := strings.Split(strings.TrimRight(Render(res, Options{Plain: true, Now: now, Width: width}), "\n"), "\n")
		if len(got) != rows+2 {
			t.Errorf("width %d: %d lines, want %d (a header, a rule and one line a row):\n%s", width, len(got), rows+2, strings.Join(got, "\n"))
		}
		for i, l := range got {
			if w := lipgloss.Width(l); w > width {
				t.Errorf("width %d: line %d is %d wide", width, i, w)
			}
		}
		if whole := strings.Contains(strings.Join(got, "\n"), long); whole != (width >= 240) {
			t.Errorf("width %d: the whole reason shown = %v", width, whole)
		}
	}
}

// TestRenderKeepsInstancesOfADeadDaemon: an endpoint that answered before
// keeps one row per instance, marked unreachable, so the table does not
// collapse into one endpoint row and jump; its last role stayed as if
// current ("primary") and the row did not say since when it failed.
func TestRenderKeepsInstancesOfADeadDaemon(t *testing.T) {
	res := sampleResults()
	last := res[0].Report
	res[0] = adminapi.Result{Endpoint: "127.0.0.1:9180", Err: res[3].Err, Last: &last}
	got := Render(res, Options{Plain: true, Now: now,
		FailingSince: map[string]time.Time{"127.0.0.1:9180": now.Add(-42 * time.Second)}})
	// nothing it said stays as if current: its role was, and LAST CHANGE
	// is how long it has been failing
	for _, w := range []string{"east             voter   was primary    unreachable: connection refused   -     -                                           42s ago",
		"west             voter   was secondary  unreachable: connection refused   -     -                                           42s ago"} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if strings.Contains(got, " 127.0.0.1:9180 ") {
		t.Errorf("the endpoint row replaced the instances:\n%s", got)
	}
}

func TestRenderColourGolden(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	r.SetHasDarkBackground(true)
	got := Render(sampleResults(), Options{Now: now, Renderer: r})
	if !strings.Contains(got, "\x1b[") {
		t.Fatal("colour output has no escape sequences")
	}
	plain := Render(sampleResults(), Options{Plain: true, Now: now})
	if trimLines(stripANSI(got))+"\n" != plain {
		t.Errorf("colour output without its escapes differs from plain:\n%s\n%s", stripANSI(got), plain)
	}
	testutil.Golden(t, "colour", []byte(got))
}

// stripANSI removes CSI sequences.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestRenderNothing(t *testing.T) {
	got := Render(nil, Options{Plain: true, Now: now})
	if !strings.Contains(got, "no endpoints") {
		t.Errorf("Render(nil) = %q", got)
	}
}

func TestRenderIsPure(t *testing.T) {
	res := sampleResults()
	a := Render(res, Options{Plain: true, Now: now, Width: 60})
	b := Render(res, Options{Plain: true, Now: now, Width: 60})
	if a != b {
		t.Error("two renderings of the same input differ")
	}
	if res[0].Report.Instances[0].Instance != "east" || res[1].Report.Instances[0].Reason != "no healthy server" {
		t.Error("Render changed its input")
	}
}

func TestHealthCell(t *testing.T) {
	for _, tc := range []struct {
		states []string
		want   string
		tone   tone
	}{
		{nil, "-", toneMuted},
		{[]string{"OK", "OK"}, "2/2 OK", toneGood},
		{[]string{"OK", "MAINT"}, "1/2 OK: h1 MAINT", toneWarn},
		{[]string{"ERR", "MAINT"}, "0/2 OK: h0 ERR, h1 MAINT", toneBad},
		{[]string{"MAINT", "ERR"}, "0/2 OK: h0 MAINT, h1 ERR", toneBad},
		{[]string{""}, "0/1 OK: h0 -", toneMuted},
	} {
		t.Run(strings.Join(tc.states, ","), func(t *testing.T) {
			var hs []status.Health
			for i, s := range tc.states {
				hs = append(hs, status.Health{Name: fmt.Sprintf("h%d", i), State: s})
			}
			got, tn := healthCell(hs)
			if got != tc.want || tn != tc.tone {
				t.Errorf("healthCell(%v) = %q, %v; want %q, %v", tc.states, got, tn, tc.want, tc.tone)
			}
		})
	}
}

func TestToneOf(t *testing.T) {
	for s, want := range map[string]tone{
		"OK": toneGood, "Synced": toneGood, "voting": toneGood,
		"ERR": toneBad, "Unavailable": toneBad, "unreachable: x": toneBad,
		"UNKNOWN": toneWarn, "MAINT": toneWarn, "": toneMuted, "Frobbing": toneNormal,
	} {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			if got := toneOf(s); got != want {
				t.Errorf("toneOf(%q) = %v, want %v", s, got, want)
			}
		})
	}
}

func TestRenderNeutralisesControlCharacters(t *testing.T) {
	res := []adminapi.Result{{Endpoint: "x:1", Report: status.Report{Schema: 1, Instances: []status.Document{{
		Instance: "evil\x1b]0;pwned\x07", Scheme: "voter", State: "OK\x1b[2J", Reason: "a\nb",
		Health: []status.Health{{Name: "h\x9b1m", State: "ERR"}}, Peer: &status.Peer{Address: "\xff\xfe:1"}}}}},
		{Endpoint: "y:1", Err: errors.New("HTTP 500 \x1b[31mred")}}
	// text direction overrides and line separators are not controls to
	// unicode.IsControl but reorder or break a terminal's line
	res = append(res, adminapi.Result{Endpoint: "z:1", Report: status.Report{Schema: 1, Instances: []status.Document{{
		Instance: "bidi", State: "\u202edecnyS", Reason: "x\u2028y\u2066z\u200f"}}}})
	for _, plain := range []bool{true, false} {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(termenv.ANSI)
		got := stripANSI(Render(res, Options{Plain: plain, Now: now, Renderer: r}))
		if strings.ContainsAny(got, "\x1b\x07\u009b\ufffd\u202e\u2028\u2066\u200f") || strings.Contains(got, "\xff") {
			t.Errorf("control characters reached the output (plain=%v): %q", plain, got)
		}
		if !strings.Contains(got, "evil?]0;pwned?") || !strings.Contains(got, "OK?[2J (a b)") {
			t.Errorf("cells lost their text (plain=%v):\n%s", plain, got)
		}
	}
}
