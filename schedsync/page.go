package schedsync

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
)

// PagePath is the HTML status page on the admin listener: LTN Schedule's
// status overlay (the status, what it means, settings, progress, recent
// events, "Resync now" and "Make primary").
const PagePath = "/schedsync"

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Local().Format("2006-01-02 15:04:05")
	},
	"secs": func(s float64) string { return (time.Duration(s) * time.Second).String() },
	"size": sizeString,
	"rate": func(f float64) string { return sizeString(int64(f)) },
	"pct": func(p *Progress) string {
		if p.BytesTotal > 0 {
			return strconv.FormatInt(100*p.BytesDone/p.BytesTotal, 10)
		}
		if p.FilesTotal > 0 {
			return strconv.FormatInt(100*p.FilesDone/p.FilesTotal, 10)
		}
		return "100"
	},
	"cls": stateClass,
}).Parse(pageHTML))

// maxPageEvents bounds the recent events the page lists.
const maxPageEvents = 30

// pageData is what the page shows: the node's status document, read into
// typed fields, the daemon's recent events and the two actions.
type pageData struct {
	status.Document
	Mode, Dir, RoleNote           string
	Epoch                         uint64
	PeerNode, PeerRole, PeerState string
	PeerEpoch                     uint64
	LastContact                   float64 // seconds since the last exchange; -1: never
	Progress                      *Progress
	ProgressOf                    string // "this node" or "the secondary"
	SyncErrors                    []string
	Conflicts                     []Conflict
	ConflictsTotal                int
	Events                        []logging.Event
	States                        []stateRow
	Actions                       []pageAction
	Confirm                       *pageAction // the action a page without JavaScript confirms
	NeedToken                     bool
	Nonce                         string
	GeneratedAt                   time.Time
}

// peer reads the document's peer, which a primary without one lacks.
func (d *pageData) peer() status.Peer {
	if d.Peer == nil {
		return status.Peer{}
	}
	return *d.Peer
}

// pageHandler serves the page. GET /schedsync?confirm=resync (or promote)
// is the confirmation step of a browser without JavaScript: the page then
// states the consequence above a form that posts to the action's endpoint.
func (n *Node) pageHandler(s *status.Server, token config.Secret) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := n.pageData(s.Report())
		d.NeedToken = token != ""
		for i := range d.Actions {
			if a := &d.Actions[i]; a.Name == r.URL.Query().Get("confirm") && a.Disabled == "" {
				d.Confirm = a
			}
		}
		d.Nonce = newNonce()
		// the guard's policy, plus: only this page's own script and style run
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+d.Nonce+"'; style-src 'nonce-"+
			d.Nonce+"'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := pageTmpl.Execute(w, &d); err != nil {
			n.log.Warn("status page", "err", err)
		}
	})
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageData builds the page from a status report: this node's document
// (taken from the report, so that the status is read once) and its events.
func (n *Node) pageData(rep status.Report) pageData {
	var doc status.Document
	found := false
	for _, d := range rep.Instances {
		if d.Scheme == "schedsync" && d.Instance == n.cfg.NodeID {
			doc, found = d, true
		}
	}
	if !found {
		doc = n.Status()[0]
	}
	d := readDocument(doc)
	for i := len(rep.Events) - 1; i >= 0 && len(d.Events) < maxPageEvents; i-- {
		d.Events = append(d.Events, rep.Events[i])
	}
	d.GeneratedAt = time.Now()
	return d
}

// readDocument reads the details of a status document (as Node.Status
// builds it, in process) into typed fields.
func readDocument(doc status.Document) pageData {
	det := doc.Details
	d := pageData{Document: doc, LastContact: -1}
	d.Mode, _ = det["mode"].(string)
	d.Dir, _ = det["dir"].(string)
	d.RoleNote, _ = det["role_note"].(string)
	d.Epoch, _ = det["epoch"].(uint64)
	d.PeerNode, _ = det["peer_node"].(string)
	d.PeerRole, _ = det["peer_role"].(string)
	d.PeerState, _ = det["peer_state"].(string)
	d.PeerEpoch, _ = det["peer_epoch"].(uint64)
	if s, ok := det["last_contact_s"].(float64); ok {
		d.LastContact = s
	}
	if p, ok := det["progress"].(*Progress); ok && p != nil {
		d.Progress, d.ProgressOf = p, "this node"
	} else if p, ok := det["peer_progress"].(*Progress); ok && p != nil {
		d.Progress, d.ProgressOf = p, "the secondary"
	}
	d.SyncErrors, _ = det["sync_errors"].([]string)
	d.Conflicts, _ = det["conflicts"].([]Conflict)
	d.ConflictsTotal, _ = det["conflicts_total"].(int)
	d.States = stateRows(State(doc.State))
	d.Actions = []pageAction{resyncAction(&d), promoteAction(&d)}
	return d
}

// stateClass is the CSS class of a status's colour (the page's templates
// give it the status document's text).
func stateClass(state string) string {
	switch State(state) {
	case StateSynced:
		return "ok"
	case StateSyncing, StateConnecting:
		return "busy"
	case StateNotSynced:
		return "warn"
	case StateUnavailable, StateIncompatible:
		return "bad"
	}
	return "idle"
}
