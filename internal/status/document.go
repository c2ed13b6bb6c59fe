// Package status defines the status document every redund daemon serves:
// the types, their decoder and pure helpers, nothing that serves, fetches
// or draws them. internal/adminapi serves and fetches it; the terminal
// table (internal/status/termview) and the HTML pages (internal/webui) are
// its two renderers.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/redund/redund/internal/logging"
)

// SchemaVersion is the version of the JSON document at GET /v1/status.
const SchemaVersion = 1

// Report is what GET /v1/status returns: one daemon and its instances.
type Report struct {
	Schema    int             `json:"schema"`
	Daemon    string          `json:"daemon"` // e.g. "voter serve", "ddns run"
	Version   string          `json:"version"`
	PID       int             `json:"pid"`
	Started   time.Time       `json:"started"`
	Instances []Document      `json:"instances"`
	Events    []logging.Event `json:"events,omitempty"`
}

// Document is the status of one instance of one scheme.
type Document struct {
	Instance string    `json:"instance"`
	Scheme   string    `json:"scheme"` // voter, ddns, gateway, schedsync, srv
	Role     string    `json:"role"`   // primary, secondary, master, backup, active, standalone...
	State    string    `json:"state"`  // scheme words: Synced, Unavailable, OK, ...
	Reason   string    `json:"reason,omitempty"`
	Since    time.Time `json:"since"` // when State last changed
	Peer     *Peer     `json:"peer,omitempty"`
	Health   []Health  `json:"health,omitempty"`
	// Details holds scheme-specific fields (documented in docs/<scheme>.md).
	Details map[string]any `json:"details,omitempty"`
}

// Peer is the other node of a pair, as this instance sees it.
type Peer struct {
	Address   string    `json:"address"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"`
	Reason    string    `json:"reason,omitempty"`
}

// Health is the state of one watched thing (a server, a client, a link).
type Health struct {
	Name      string    `json:"name"`
	State     string    `json:"state"` // OK, ERR, UNKNOWN, MAINT
	Reason    string    `json:"reason,omitempty"`
	LatencyMS float64   `json:"latency_ms,omitempty"`
	Since     time.Time `json:"since"`
}

// Source is anything that can describe its instances.
type Source interface {
	Status() []Document
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []Document

// Status calls f.
func (f SourceFunc) Status() []Document { return f() }

// Decode reads one status report (the JSON of GET /v1/status) from r,
// refusing what is not one and a schema newer than SchemaVersion.
func Decode(r io.Reader) (Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return Report{}, fmt.Errorf("not a status document: %w", err)
	}
	// a document followed by more (a second one, a proxy's page after it)
	// is not one answer: what else the reply says is not known
	if _, err := dec.Token(); err != io.EOF {
		return Report{}, errors.New("not a status document: more data after it")
	}
	switch {
	case rep.Schema == 0:
		return Report{}, errors.New("not a status document: no schema")
	case rep.Schema > SchemaVersion:
		return Report{}, fmt.Errorf("status schema %d is newer than this redund understands (%d)",
			rep.Schema, SchemaVersion)
	}
	return rep, nil
}
