package ddns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
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
// endpoint and HTML status page (GET /ddns, PagePath) to an admin server. The endpoint is guarded by adminapi.Protect:
// the token when one is set, else loopback clients only.
func (d *Daemon) Register(admin *adminapi.Server, token config.Secret) {
	admin.AddSource(d)
	admin.Registry().MustRegister(d)
	admin.Handle("POST "+MaintenancePath, adminapi.Protect(token, d.MaintenanceHandler()))
	admin.Handle("GET "+PagePath, d.pageHandler(admin, token))
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

// RequestMaintenance asks the daemon at endpoint (host:port or URL) to
// set maintenance; token may be empty.
func RequestMaintenance(ctx context.Context, endpoint string, token config.Secret, req MaintenanceRequest) error {
	body, _ := json.Marshal(req)
	_, err := adminapi.Call(ctx, endpoint, token, http.MethodPost, MaintenancePath, body)
	var ce *adminapi.CallError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("ddns: %w", err)
	case err != nil:
		return fmt.Errorf("ddns: is `redund ddns run` running? %w", err)
	}
	return nil
}
