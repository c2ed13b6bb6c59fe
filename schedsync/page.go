package schedsync

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/webui"
)

// PagePath is the HTML status page on the admin listener: LTN Schedule's
// status overlay (the status, what it means, settings, progress, recent
// events, "Resync now" and "Make primary").
const PagePath = "/schedsync"

//go:embed page.html
var pageHTML string

var statusPage = webui.New("schedsync", pageHTML, template.FuncMap{
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
})

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
	Confirm                       *pageAction  // the action a page without JavaScript confirms
	Witness                       *pageWitness // witness = true: the lock as the node sees it
	HookRunning                   *pageHook    // the on_promote / on_demote hook running now
	Problem                       string       // the details could not be read
}

// pageDetails are the details Node.Status puts in the document.
type pageDetails struct {
	Mode           string       `json:"mode"`
	Dir            string       `json:"dir"`
	RoleNote       string       `json:"role_note"`
	Epoch          uint64       `json:"epoch"`
	PeerNode       string       `json:"peer_node"`
	PeerRole       string       `json:"peer_role"`
	PeerState      string       `json:"peer_state"`
	PeerEpoch      uint64       `json:"peer_epoch"`
	LastContact    *float64     `json:"last_contact_s"` // nil: no exchange yet
	Progress       *Progress    `json:"progress"`
	PeerProgress   *Progress    `json:"peer_progress"`
	SyncErrors     []string     `json:"sync_errors"`
	Conflicts      []Conflict   `json:"conflicts"`
	ConflictsTotal int          `json:"conflicts_total"`
	Witness        *pageWitness `json:"witness"`
	HookRunning    *pageHook    `json:"hook_running"`
}

// pageHook is details.hook_running: the hook that runs now.
type pageHook struct {
	Hook     string  `json:"hook"`
	RunningS float64 `json:"running_s"`
	Queued   int     `json:"queued"`
}

// pageWitness is details.witness: the lock as this node sees it.
type pageWitness struct {
	Held        bool   `json:"held"`
	Fence       int64  `json:"fence"`
	Campaigning bool   `json:"campaigning"`
	StaysDown   bool   `json:"stays_secondary"`
	Holder      string `json:"holder"`
	HolderFence int64  `json:"holder_fence"`
	Reachable   string `json:"reachable"`
	Error       string `json:"error"`
}

// String is the witness in one line, as `redund schedsync status` prints it.
func (w *pageWitness) String() string {
	s := "does not hold the lock"
	switch {
	case w.Held:
		s = "holds the lock"
	case w.Campaigning:
		s = "campaigning for the lock"
	}
	if w.StaysDown {
		s += " (demoted by the operator: stays secondary until a primary serves it or promote)"
	}
	if w.Fence > 0 {
		s += fmt.Sprintf(", fence %d", w.Fence)
	}
	if w.Holder != "" {
		s += fmt.Sprintf("; holder %s (fence %d)", w.Holder, w.HolderFence)
	} else {
		s += "; no holder known"
	}
	s += "; etcd " + w.Reachable + " reachable"
	if w.Error != "" {
		s += "; " + w.Error
	}
	return s
}

// role is the node's role; a primary by its saved role that does not
// hold the witness lock ("primary (no witness lock)") is a primary for
// the actions, as Node.Promote and Node.Resync see it.
func (d *pageData) role() Role {
	if strings.HasPrefix(d.Role, RolePrimary.String()) {
		return RolePrimary
	}
	return Role(d.Role)
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
// A link from another site gets the plain page (webui.OwnNavigation): it
// cannot lead the operator to a ready "yes, do it" button.
func (n *Node) pageHandler(s lifecycle.Admin, token config.Secret) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := n.pageData(s.Report())
		confirm := r.URL.Query().Get("confirm")
		if !webui.OwnNavigation(r) {
			confirm = ""
		}
		for i := range d.Actions {
			if a := &d.Actions[i]; confirm != "" && a.Name == confirm && a.Disabled == "" {
				d.Confirm = a
			}
		}
		v := webui.View{Title: "schedsync " + d.Instance + ": " + d.State, Heading: "redund schedsync — " + d.Instance,
			State: d.State, StateNote: d.Reason, NeedToken: token != "", OwnTokenBox: true, Data: &d,
			NoScript: "Without JavaScript this page shows the status (reload to refresh); an action's button " +
				"asks for a confirmation page whose form posts the action."}
		statusPage.Render(w, v, n.log)
	})
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
	return d
}

// readDocument reads the details of a status document (as Node.Status
// builds it, in process, or as JSON decoded it) into typed fields.
func readDocument(doc status.Document) pageData {
	var det pageDetails
	d := pageData{Document: doc, LastContact: -1}
	if err := webui.Details(doc.Details, &det); err != nil {
		d.Problem = doc.Instance + ": " + err.Error()
	}
	d.Mode, d.Dir, d.RoleNote, d.Epoch = det.Mode, det.Dir, det.RoleNote, det.Epoch
	d.PeerNode, d.PeerRole, d.PeerState, d.PeerEpoch = det.PeerNode, det.PeerRole, det.PeerState, det.PeerEpoch
	if det.LastContact != nil {
		d.LastContact = *det.LastContact
	}
	if det.Progress != nil {
		d.Progress, d.ProgressOf = det.Progress, "this node"
	} else if det.PeerProgress != nil {
		d.Progress, d.ProgressOf = det.PeerProgress, "the secondary"
	}
	d.SyncErrors, d.Conflicts, d.ConflictsTotal = det.SyncErrors, det.Conflicts, det.ConflictsTotal
	d.Witness, d.HookRunning = det.Witness, det.HookRunning
	d.States = stateRows(State(doc.State))
	d.Actions = []pageAction{resyncAction(&d), promoteAction(&d)}
	return d
}
