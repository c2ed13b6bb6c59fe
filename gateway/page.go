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
	"github.com/redund/redund/internal/webui"
)

//go:embed page.html
var pageHTML string

var statusPage = webui.New("gateway", pageHTML, template.FuncMap{
	"dur": func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() },
	"f1":  func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
})

// PagePath is the HTML status page on the admin listener, in the spirit
// of Ignition's redundancy page.
const PagePath = "/gateway"

// pageData is what the status page shows.
type pageData struct {
	Detail
	Uptime string
	Level  string
	Log    []logging.Event
}

// servePage renders the HTML status page, in the spirit of Ignition's
// redundancy page. ?level=warn filters the log lines.
func (g *Gateway) servePage(w http.ResponseWriter, r *http.Request) {
	level := r.URL.Query().Get("level")
	d := pageData{Detail: g.Detail(), Level: level}
	d.Uptime = time.Since(d.RoleSince).Round(time.Second).String()
	d.Log = g.logLines(level, 100)
	v := webui.View{Title: "redund gateway " + d.NodeID + ": " + d.Role.String(), Heading: "redund gateway — " + d.NodeID,
		State: d.Role.String(), StateNote: d.RoleReason, NeedToken: g.token != "", OwnTokenBox: true, Data: d,
		JSON: "/v1/gateway/status", CLI: "redund gateway resync|failover"}
	statusPage.Render(w, v, g.log)
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
