package gateway

import (
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/logging"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"ms":   func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() },
	"f1":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"when": func(t time.Time) string { return t.Format("2006-01-02 15:04:05") },
}).Parse(pageHTML))

// pageData is what the status page shows.
type pageData struct {
	Detail
	Uptime      string
	Level       string
	Log         []logging.Event
	NeedToken   bool
	GeneratedAt time.Time
}

// servePage renders the HTML status page, in the spirit of Ignition's
// redundancy page. ?level=warn filters the log lines.
func (g *Gateway) servePage(w http.ResponseWriter, r *http.Request) {
	level := r.URL.Query().Get("level")
	d := pageData{Detail: g.Detail(), Level: level, GeneratedAt: time.Now(), NeedToken: g.opts.Token != ""}
	d.Uptime = time.Since(d.RoleSince).Round(time.Second).String()
	d.Log = g.logLines(level, 100)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTmpl.Execute(w, d); err != nil {
		g.log.Error("status page", "err", err)
	}
}

// logLines returns the newest ring events at or above level, newest first.
func (g *Gateway) logLines(level string, n int) []logging.Event {
	if g.opts.Ring == nil {
		return nil
	}
	min, err := logging.ParseLevel(level)
	if err != nil {
		min = slog.LevelDebug
	}
	evs := g.opts.Ring.Events()
	var out []logging.Event
	for i := len(evs) - 1; i >= 0 && len(out) < n; i-- {
		var l slog.Level
		if l.UnmarshalText([]byte(evs[i].Level)) == nil && l >= min {
			out = append(out, evs[i])
		}
	}
	return out
}

func (g *Gateway) serveLog(w http.ResponseWriter, r *http.Request) {
	lines := g.logLines(r.URL.Query().Get("level"), 200)
	if lines == nil {
		lines = []logging.Event{}
	}
	adminapi.WriteJSON(w, http.StatusOK, lines)
}
