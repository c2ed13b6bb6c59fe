package ddns

import (
	_ "embed"
	"net/http"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/webui"
)

// PagePath is the HTML status page on the admin listener, in okerr's
// manner: per scheme the name, the value published and why, the servers,
// maintenance toggles, the witness and the recent events.
const PagePath = "/ddns"

//go:embed page.html
var pageHTML string

var statusPage = webui.New("ddns", pageHTML, nil)

// maxPageEvents bounds the recent events the page lists.
const maxPageEvents = 30

// pageScheme is one scheme as the page shows it: its status document,
// with the details read back into their types.
type pageScheme struct {
	status.Document
	D    pageDetails
	Prop *PropagationView // nil: not computed yet
}

// pageDetails are the details Scheme.Document puts in the document.
type pageDetails struct {
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	TTL           int             `json:"ttl"`
	Policy        string          `json:"policy"`
	Provider      string          `json:"provider"`
	Decision      Decision        `json:"decision"`
	Decisions     []TimedDecision `json:"decisions"`
	ProviderValue []string        `json:"provider_value"`
	ProviderRead  time.Time       `json:"provider_read"`
	InSync        bool            `json:"in_sync"`
	LastPush      *Push           `json:"last_push"`
	Retry         Retry           `json:"retry"`
	Pushes        uint64          `json:"pushes"`
	Failures      uint64          `json:"failures"`
	Servers       []ServerStatus  `json:"servers"`
	Witness       *WitnessStatus  `json:"witness"`
}

// pageData is the page's own data.
type pageData struct {
	Schemes []pageScheme
	Events  []logging.Event
	Problem string // a document the page could not read
}

// pageHandler serves GET /ddns from the admin server's report (the
// documents the daemon serves at /v1/status, and its recent events).
func (d *Daemon) pageHandler(admin lifecycle.Admin, token config.Secret) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		d.prop.ask() // the view shown is the last one made; this asks for a newer one
		pd := readReport(admin.Report())
		for i := range pd.Schemes {
			pd.Schemes[i].Prop = d.prop.get(pd.Schemes[i].Instance)
		}
		v := webui.View{Title: "redund ddns", Heading: "redund ddns — failover of DNS names", Data: pd,
			NeedToken: token != "", CLI: "redund ddns maintenance SCHEME SERVER on|off"}
		if len(pd.Schemes) == 1 {
			v.State = pd.Schemes[0].State
			v.Title += " " + pd.Schemes[0].D.Name + ": " + v.State
		}
		statusPage.Render(w, v, d.log)
	})
}

// readReport reads the ddns documents and the newest events of a report.
func readReport(rep status.Report) pageData {
	var pd pageData
	for _, doc := range rep.Instances {
		if doc.Scheme != "ddns" {
			continue
		}
		ps := pageScheme{Document: doc}
		if err := webui.Details(doc.Details, &ps.D); err != nil {
			pd.Problem = doc.Instance + ": " + err.Error()
		}
		pd.Schemes = append(pd.Schemes, ps)
	}
	for i := len(rep.Events) - 1; i >= 0 && len(pd.Events) < maxPageEvents; i-- {
		pd.Events = append(pd.Events, rep.Events[i])
	}
	return pd
}

// Chosen reports whether server is the one the decision points at.
func (p pageScheme) Chosen(server string) bool {
	return p.D.Decision.Action == ActionPoint && p.D.Decision.Server == server
}

// Published reports whether the provider was read to hold the chosen
// server's address: the page says "published" only then, and "decided"
// while a push is pending or failing, or on a follower that never pushes.
func (p pageScheme) Published(server string) bool {
	return p.Chosen(server) && p.D.InSync
}

// RecentDecisions are the scheme's recent decisions, newest first.
func (p pageScheme) RecentDecisions() []TimedDecision {
	out := make([]TimedDecision, 0, len(p.D.Decisions))
	for i := len(p.D.Decisions) - 1; i >= 0; i-- {
		out = append(out, p.D.Decisions[i])
	}
	return out
}

// Toggle is the body of the maintenance request that flips server.
func (p pageScheme) Toggle(s ServerStatus) MaintenanceRequest {
	return MaintenanceRequest{Scheme: p.Instance, Server: s.Name, On: !s.Maintenance}
}

// ViewState is what decider node's view says of server ("" when none).
func (v View) ViewState(server string) string { return v.Servers[server].State }

// Age is how old the view is, in seconds rounded.
func (v View) Age() string { return time.Since(v.At).Round(100 * time.Millisecond).String() }
