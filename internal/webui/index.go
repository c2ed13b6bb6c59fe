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

// IndexRow is one instance as the index lists it, the columns of
// `redund status`: its document, the cells read from it and the link to
// the instance on the daemon's page.
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
	Report status.Report
	Rows   []IndexRow
	Page   string // the daemon's page
}

// Index serves the index page of an admin listener (register it at
// IndexPattern): the daemon and a table of its instances with their state,
// as `redund status` draws them, read from the report the listener serves
// at /v1/status. page is the daemon's page (e.g. "/ddns") and anchor the
// id of an instance's section on it ("" links to the page itself).
func Index(report func() status.Report, page string, anchor func(status.Document) string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d := ReadIndex(report(), page, anchor)
		v := View{Title: "redund " + d.Report.Daemon, Heading: "redund " + d.Report.Daemon + " — instances", Data: d,
			State: worstState(d.Rows)}
		indexPage.Render(w, v, log)
	})
}

// ReadIndex builds the index's rows from a report.
func ReadIndex(rep status.Report, page string, anchor func(status.Document) string) IndexData {
	d := IndexData{Report: rep, Page: page}
	for _, doc := range rep.Instances {
		r := IndexRow{Document: doc, Link: page}
		if anchor != nil {
			if a := anchor(doc); a != "" {
				r.Link += "#" + a
			}
		}
		r.PeerText, r.PeerClass = peerCell(doc.Peer)
		r.HealthText, r.HealthClass = healthCell(doc.Health)
		d.Rows = append(d.Rows, r)
	}
	return d
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
