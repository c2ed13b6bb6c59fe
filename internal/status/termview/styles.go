package termview

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Every colour and style of the status view lives in this file. Colours
// are ANSI palette numbers, so that they follow the terminal's own theme.
var (
	colorGood   = lipgloss.AdaptiveColor{Light: "2", Dark: "10"} // green
	colorBad    = lipgloss.AdaptiveColor{Light: "1", Dark: "9"}  // red
	colorWarn   = lipgloss.AdaptiveColor{Light: "3", Dark: "11"} // yellow
	colorMuted  = lipgloss.AdaptiveColor{Light: "8", Dark: "8"}  // grey
	colorHeader = lipgloss.AdaptiveColor{Light: "4", Dark: "12"} // blue
	colorBorder = lipgloss.AdaptiveColor{Light: "8", Dark: "8"}  // grey
)

// tone is how a cell should look: by what its word means to an operator.
type tone int

const (
	toneNormal tone = iota
	toneGood
	toneBad
	toneWarn
	toneMuted
)

// styles are the lipgloss styles of one rendering, bound to a renderer
// (so that plain output and tests can pin the colour profile).
type styles struct {
	header lipgloss.Style
	cell   lipgloss.Style
	border lipgloss.Style
	tones  map[tone]lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	cell := r.NewStyle().Padding(0, 1)
	return styles{
		header: cell.Bold(true).Foreground(colorHeader),
		cell:   cell,
		border: r.NewStyle().Foreground(colorBorder),
		tones: map[tone]lipgloss.Style{
			toneNormal: cell,
			toneGood:   cell.Foreground(colorGood),
			toneBad:    cell.Foreground(colorBad).Bold(true),
			toneWarn:   cell.Foreground(colorWarn),
			toneMuted:  cell.Foreground(colorMuted),
		},
	}
}

// tableBorder draws only the line under the header and the column gaps.
var tableBorder = lipgloss.Border{Top: "-", Bottom: "-", Middle: "-", MiddleLeft: "-",
	MiddleRight: "-", Left: " ", Right: " "}

// Words that scheme states use, by tone. Anything else is drawn plainly.
var (
	goodWords = words("ok up synced voting active primary-active connected healthy running in-sync")
	badWords  = words("err error down unavailable failed failing unreachable lost stale " +
		"disconnected critical")
	warnWords = words("unknown maint maintenance degraded syncing starting waiting pending " +
		"standby failover copying")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// toneOf classifies a state word (case-insensitive; only the first word
// counts, so "Unavailable (peer lost)" is bad).
func toneOf(state string) tone {
	f := strings.Fields(strings.ToLower(state))
	if len(f) == 0 {
		return toneMuted
	}
	w := strings.TrimRight(f[0], ":,;")
	switch {
	case goodWords[w]:
		return toneGood
	case badWords[w]:
		return toneBad
	case warnWords[w]:
		return toneWarn
	}
	return toneNormal
}
