// Package termview draws status reports as a table for a terminal, with
// lipgloss: the text renderer of `redund status` (the HTML pages are the
// other renderer, internal/webui). Only cmd/redund and the demo import it,
// so that the daemons do not pull lipgloss in.
package termview

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// Options says how to draw the status table.
type Options struct {
	Plain bool      // no colour, no ANSI sequences at all
	Width int       // fit to this many columns, cutting cells with … (0: no limit)
	Now   time.Time // "12s ago" is relative to Now (zero: time.Now())

	// Renderer draws colours when not Plain; nil means lipgloss's default
	// (which looks at stdout). Tests pin a profile with it.
	Renderer *lipgloss.Renderer

	// FailingSince is, by endpoint, when a live view first saw it fail
	// in a row: its rows' LAST CHANGE says how long ago (nil: not known).
	FailingSince map[string]time.Time
}

// Columns of the status table, in order.
var columns = []string{"INSTANCE", "SCHEME", "ROLE", "STATE", "PEER", "HEALTH", "LAST CHANGE"}

const (
	colInstance = iota
	colScheme
	colRole
	colState
	colPeer
	colHealth
	colChange
)

// maxReason is how much of a state's reason the table shows when it has
// no width to fit (with one, the reason takes what the width leaves).
const maxReason = 40

// Render draws one table of every instance the results describe; an
// endpoint that did not answer is a row saying "unreachable: <reason>",
// one whose answer is not a status document "no status: <reason>".
// It is a pure function of its arguments.
func Render(results []adminapi.Result, opts Options) string {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	st := newStyles(opts.renderer())
	var rows [][]string
	var tones [][]tone
	cut := maxReason
	if opts.Width > 0 {
		cut = 0
	}
	for _, r := range results {
		rr, tt := resultRows(r, opts.Now, cut, opts.FailingSince[r.Endpoint])
		rows = append(rows, rr...)
		tones = append(tones, tt...)
	}
	if len(rows) == 0 {
		return "no endpoints to ask (configure [admin] or pass --endpoint)\n"
	}
	for _, r := range rows {
		for c := range r {
			r[c] = printable(r[c])
		}
	}
	headers := append([]string(nil), columns...)
	if opts.Width > 0 {
		fitColumns(headers, rows, opts.Width)
	}
	t := table.New().Headers(headers...).Rows(rows...).
		Border(tableBorder).BorderTop(false).BorderBottom(false).BorderLeft(false).
		BorderRight(false).BorderColumn(false).BorderStyle(st.border).
		StyleFunc(func(row, col int) lipgloss.Style {
			if row == table.HeaderRow {
				return st.header
			}
			return st.tones[tones[row][col]]
		})
	return trimLines(t.Render()) + "\n"
}

func (o Options) renderer() *lipgloss.Renderer {
	if o.Plain {
		r := lipgloss.NewRenderer(io.Discard)
		r.SetColorProfile(termenv.Ascii)
		return r
	}
	if o.Renderer != nil {
		return o.Renderer
	}
	return lipgloss.DefaultRenderer()
}

// cellPadding is the blank either side of every cell (see styles.go).
const cellPadding = 2

// fitColumns makes the table fit width, one line per row: first the
// free-text columns (STATE, HEALTH) narrow down to 16 columns, then the
// widest other column at a time, never below its header or 8, and the
// INSTANCE column last; a cell wider than
// its column is cut with an ellipsis. Nothing wraps, so the table's height
// is its row count and a live view keeps its header on screen.
func fitColumns(headers []string, rows [][]string, width int) {
	widths := make([]int, len(columns))
	for c, h := range columns {
		widths[c] = len(h)
	}
	for _, r := range rows {
		for c, cell := range r {
			widths[c] = max(widths[c], lipgloss.Width(cell))
		}
	}
	total := 0
	for _, w := range widths {
		total += w + cellPadding
	}
	total = shrink(widths, total, width, func(c int) int {
		if c == colState || c == colHealth {
			return 16
		}
		return widths[c]
	})
	// the instance name says which row is which: it gives way last
	total = shrink(widths, total, width, func(c int) int {
		switch c {
		case colInstance:
			return widths[c]
		case colState, colPeer:
			return 12 // "unreachable…", "down 10.0.0…"
		}
		return max(len(columns[c]), 8)
	})
	total = shrink(widths, total, width, func(c int) int { return max(len(columns[c]), 8) })
	// a very narrow terminal: cut headers too rather than overflow
	shrink(widths, total, width, func(int) int { return 3 })
	for _, r := range rows {
		for c := range r {
			if lipgloss.Width(r[c]) > widths[c] {
				r[c] = ansi.Truncate(r[c], widths[c], "…")
			}
		}
	}
	for c := range headers {
		if len(headers[c]) > widths[c] {
			headers[c] = ansi.Truncate(headers[c], widths[c], "…")
		}
	}
}

// shrink narrows the widest column above its floor by one until total
// fits width or nothing can shrink; it returns the new total.
func shrink(widths []int, total, width int, floor func(int) int) int {
	for total > width {
		widest := -1
		for c, w := range widths {
			if w > floor(c) && (widest < 0 || w > widths[widest]) {
				widest = c
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
		total--
	}
	return total
}

// trimLines drops the trailing blanks lipgloss pads lines with.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// resultRows turns one endpoint's answer into table rows and their tones.
// An endpoint without instances (unreachable, or running none) is one row
// that names the endpoint in the INSTANCE column; an unreachable endpoint
// that answered before (r.Last) keeps one row per instance it had, so a
// live view does not jump when a daemon dies, but nothing of what it said
// but the names: its role is "was <role>", and LAST CHANGE is how long it
// has been failing (failing, when known). cut shortens reasons (0: no).
func resultRows(r adminapi.Result, now time.Time, cut int, failing time.Time) ([][]string, [][]tone) {
	endpointRow := func(state string, stateTone tone, change string) [][]string {
		return [][]string{{r.Endpoint, "", "", state, "", "", change}}
	}
	tn := func(stateTone tone) [][]tone {
		return [][]tone{{toneNormal, toneNormal, toneNormal, stateTone, toneNormal, toneNormal, toneMuted}}
	}
	if r.Err != nil {
		state := failure(r.Endpoint, r.Err, cut)
		change := ""
		if !failing.IsZero() {
			change = status.Ago(now, failing)
		}
		if r.Last == nil || len(r.Last.Instances) == 0 {
			return endpointRow(state, toneBad, change), tn(toneBad)
		}
		var rows [][]string
		var tones [][]tone
		for _, d := range r.Last.Instances {
			role := "-"
			if d.Role != "" {
				role = "was " + d.Role
			}
			rows = append(rows, []string{orDash(d.Instance), orDash(d.Scheme), role, state, "-", "-", orDash(change)})
			tones = append(tones, []tone{toneNormal, toneNormal, toneMuted, toneBad, toneMuted, toneMuted, toneMuted})
		}
		return rows, tones
	}
	if len(r.Report.Instances) == 0 {
		return endpointRow("no instances", toneMuted, status.Ago(now, r.Report.Started)), tn(toneMuted)
	}
	var rows [][]string
	var tones [][]tone
	for _, d := range r.Report.Instances {
		row, t := documentRow(d, now, cut)
		rows, tones = append(rows, row), append(tones, t)
	}
	return rows, tones
}

// failure is the STATE cell of an endpoint whose answer is not a status
// report: "unreachable: <reason>" when no answer came (refused, timed
// out), "no status: <reason>" when one came that is not a status document
// (an HTTP error such as a 401 from a token-guarded proxy, HTML, cut
// JSON). The status URL is left out of the reason (the row names the
// endpoint), and cut shortens it (0: no), as a state's reason: an error
// answer's text must not take over the table.
func failure(endpoint string, err error, cut int) string {
	reason := adminapi.Reason(err)
	if u, uerr := adminapi.StatusURL(endpoint); uerr == nil {
		reason = strings.Replace(reason, " from "+u, "", 1)
	}
	if cut > 0 {
		reason = truncate(reason, cut)
	}
	var ue *url.Error // what net/http says when no answer came
	var ne net.Error
	var te *adminapi.TimeoutError
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &te) {
		return "unreachable: " + reason
	}
	return "no status: " + reason
}

// documentRow is the row of one instance; cut shortens the reason (0: no).
func documentRow(d status.Document, now time.Time, cut int) ([]string, []tone) {
	state := d.State
	if d.Reason != "" {
		reason := d.Reason
		if cut > 0 {
			reason = truncate(reason, cut)
		}
		state += " (" + reason + ")"
	}
	peer, peerTone := peerCell(d.Peer)
	health, healthTone := healthCell(d.Health)
	row := []string{orDash(d.Instance), orDash(d.Scheme), orDash(d.Role), orDash(state),
		peer, health, status.Ago(now, d.Since)}
	tn := []tone{toneNormal, toneNormal, toneNormal, toneOf(d.State), peerTone, healthTone, toneMuted}
	return row, tn
}

func peerCell(p *status.Peer) (string, tone) {
	if p == nil {
		return "-", toneMuted
	}
	// the link's state first: when the cell is cut, the address gives way
	if p.Connected {
		return "up " + orDash(p.Address), toneGood
	}
	return "down " + orDash(p.Address), toneBad
}

// healthCell is "3/3 OK" when all is well, else the count and the names
// of what is not OK with their state ("1/3 OK: b ERR, c MAINT").
func healthCell(hs []status.Health) (string, tone) {
	if len(hs) == 0 {
		return "-", toneMuted
	}
	ok := 0
	var bad []string
	worst := toneGood
	for _, h := range hs {
		switch t := toneOf(h.State); t {
		case toneGood:
			ok++
		default:
			bad = append(bad, h.Name+" "+orDash(h.State))
			if t == toneBad || worst != toneBad {
				worst = t
			}
		}
	}
	s := fmt.Sprintf("%d/%d OK", ok, len(hs))
	if len(bad) == 0 {
		return s, toneGood
	}
	const show = 3
	if len(bad) > show {
		bad = append(bad[:show], fmt.Sprintf("+%d more", len(bad)-show))
	}
	return s + ": " + strings.Join(bad, ", "), worst
}

// printable replaces control characters (escape sequences from a hostile
// or broken endpoint must not reach the terminal), format characters
// (text direction overrides that reorder what a cell seems to say,
// invisible ones), line and paragraph separators, and invalid UTF-8.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp), r == utf8.RuneError:
			return '?'
		}
		return r
	}, s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
