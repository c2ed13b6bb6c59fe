package webui

import (
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/redund/redund/internal/status"
)

// IndexPattern is the admin listener's index page: / and nothing below it
// (an unknown path stays a 404).
const IndexPattern = "GET /{$}"

//go:embed index.html
var indexHTML string

var indexPage = New("index", indexHTML, nil)

// PageLink is a scheme's page on the admin listener, as the index links
// it: the instances of that scheme link to Path.
type PageLink struct {
	Scheme string // the documents' scheme ("ddns")
	Path   string // the page ("/ddns")
	// Anchor is the id of an instance's section on the page ("" or nil:
	// the link goes to the page itself).
	Anchor func(status.Document) string
}

// Neighbour is another daemon of the same config, as the index lists it:
// where its own index is, or why it cannot be reached.
type Neighbour struct {
	Daemon string // "ddns run"
	Addr   string // its admin address as configured
	URL    string // its index ("": none to link to)
	Note   string // why there is no link
}

// IndexRow is one instance as the index lists it, the columns of
// `redund status`: its document, the cells read from it and the link to
// the instance on its scheme's page.
type IndexRow struct {
	status.Document
	Link        string
	PeerText    string // "up ADDRESS", "down ADDRESS: reason" or "-"
	PeerClass   string
	HealthText  string // "2/3 OK: b ERR" or "-"
	HealthClass string
}

// IndexData is the index page's data.
type IndexData struct {
	Report     status.Report
	Rows       []IndexRow
	Pages      []PageLink  // every scheme page this listener serves
	Neighbours []Neighbour // the config's other daemons
}

// Index serves the index page of an admin listener (register it at
// IndexPattern): the daemon, links to every scheme page the listener
// serves, a table of its instances with their state, as `redund status`
// draws them, read from the report the listener serves at /v1/status, and
// the other daemons of the config. pages and neighbours are asked on every
// answer (either may be nil); neighbours gets the request, for the host
// the browser used.
func Index(report func() status.Report, pages func() []PageLink, neighbours func(*http.Request) []Neighbour,
	log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ps []PageLink
		if pages != nil {
			ps = pages()
		}
		d := ReadIndex(report(), ps)
		if neighbours != nil {
			d.Neighbours = neighbours(r)
		}
		v := View{Title: "redund " + d.Report.Daemon, Heading: "redund " + d.Report.Daemon + " — instances", Data: d,
			State: worstState(d.Rows)}
		indexPage.Render(w, v, log)
	})
}

// ReadIndex builds the index's rows from a report: each instance links to
// the page of its scheme (the one page when there is only one; no link
// when no page is of its scheme).
func ReadIndex(rep status.Report, pages []PageLink) IndexData {
	d := IndexData{Report: rep, Pages: pages}
	for _, doc := range rep.Instances {
		r := IndexRow{Document: doc}
		if p, ok := pageOf(pages, doc.Scheme); ok {
			r.Link = p.Path
			if p.Anchor != nil {
				if a := p.Anchor(doc); a != "" {
					r.Link += "#" + a
				}
			}
		}
		r.PeerText, r.PeerClass = peerCell(doc.Peer)
		r.HealthText, r.HealthClass = healthCell(doc.Health)
		d.Rows = append(d.Rows, r)
	}
	return d
}

func pageOf(pages []PageLink, scheme string) (PageLink, bool) {
	for _, p := range pages {
		if p.Scheme == scheme {
			return p, true
		}
	}
	if len(pages) == 1 { // a listener with one page: it shows every instance
		return pages[0], true
	}
	return PageLink{}, false
}

// worstState is the corner's state: the one instance's, else the worst
// of them ("" without instances).
func worstState(rows []IndexRow) string {
	rank := map[string]int{"ok": 0, "idle": 1, "busy": 2, "warn": 3, "bad": 4}
	best, worst := "", -1
	for _, r := range rows {
		if k := rank[Class(r.State)]; k > worst {
			best, worst = r.State, k
		}
	}
	return best
}

func peerCell(p *status.Peer) (string, string) {
	switch {
	case p == nil:
		return "-", "idle"
	case p.Connected:
		return "up " + orDash(p.Address), "ok"
	case p.Reason != "":
		return "down " + orDash(p.Address) + ": " + p.Reason, "bad"
	}
	return "down " + orDash(p.Address), "bad"
}

// healthCell counts the watched things that are OK and names the others,
// as `redund status` does.
func healthCell(hs []status.Health) (string, string) {
	if len(hs) == 0 {
		return "-", "idle"
	}
	ok := 0
	var bad []string
	worst := "ok"
	for _, h := range hs {
		switch c := Class(h.State); c {
		case "ok":
			ok++
		default:
			bad = append(bad, h.Name+" "+orDash(h.State))
			if c == "bad" || worst != "bad" {
				worst = c
			}
		}
	}
	s := fmt.Sprintf("%d/%d OK", ok, len(hs))
	if len(bad) == 0 {
		return s, "ok"
	}
	return s + ": " + strings.Join(bad, ", "), worst
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
