package ddns

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/status"
)

// MaintenancePath is the admin endpoint that toggles maintenance.
const MaintenancePath = "/v1/ddns/maintenance"

// MaintenanceRequest is the body of POST /v1/ddns/maintenance.
type MaintenanceRequest struct {
	Scheme string `json:"scheme"`
	Server string `json:"server"`
	On     bool   `json:"on"`
}

// Register adds the daemon's status documents, metrics, maintenance
// endpoint and HTML status page (GET /ddns, PagePath, listed on the
// server's index) to an admin server. The endpoint is guarded by adminapi.Protect: the
// token when one is set, else loopback clients only.
func (d *Daemon) Register(admin lifecycle.Admin, token config.Secret) error {
	if err := admin.Registry().Register(d); err != nil {
		return fmt.Errorf("ddns: metrics: %w", err)
	}
	admin.AddSource(d)
	admin.Handle("POST "+MaintenancePath, adminapi.Protect(token, d.MaintenanceHandler()))
	admin.Handle("GET "+PagePath, d.pageHandler(admin, token))
	admin.AddPage("ddns", PagePath, func(doc status.Document) string { return "scheme-" + doc.Instance })
	return nil
}

// MaintenanceHandler serves POST /v1/ddns/maintenance (without access
// control; see Register).
func (d *Daemon) MaintenanceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req MaintenanceRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Scheme == "" || req.Server == "" {
			adminapi.WriteError(w, http.StatusBadRequest, `want {"scheme": "...", "server": "...", "on": true|false}`)
			return
		}
		err := d.SetMaintenance(req.Scheme, req.Server, req.On)
		switch {
		case errors.Is(err, ErrNotFound):
			adminapi.WriteError(w, http.StatusNotFound, err.Error())
		case err != nil:
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
		default:
			adminapi.WriteJSON(w, http.StatusOK, req)
		}
	})
}
