package ddns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/webui"
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
// endpoint, HTML status page (GET /ddns, PagePath) and index page (GET /)
// to an admin server. The endpoint is guarded by status.Protect: the
// token when one is set, else loopback clients only.
func (d *Daemon) Register(admin lifecycle.Admin, token config.Secret) error {
	if err := admin.Registry().Register(d); err != nil {
		return fmt.Errorf("ddns: metrics: %w", err)
	}
	admin.AddSource(d)
	admin.Handle("POST "+MaintenancePath, status.Protect(token, d.MaintenanceHandler()))
	admin.Handle("GET "+PagePath, d.pageHandler(admin, token))
	admin.Handle(webui.IndexPattern, webui.Index(admin.Report, PagePath,
		func(doc status.Document) string { return "scheme-" + doc.Instance }, d.log))
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
			status.WriteError(w, http.StatusBadRequest, `want {"scheme": "...", "server": "...", "on": true|false}`)
			return
		}
		err := d.SetMaintenance(req.Scheme, req.Server, req.On)
		switch {
		case errors.Is(err, ErrNotFound):
			status.WriteError(w, http.StatusNotFound, err.Error())
		case err != nil:
			status.WriteError(w, http.StatusInternalServerError, err.Error())
		default:
			status.WriteJSON(w, http.StatusOK, req)
		}
	})
}

// RequestMaintenance asks the daemon at endpoint (host:port or URL) to
// set maintenance; token may be empty.
func RequestMaintenance(ctx context.Context, endpoint string, token config.Secret, req MaintenanceRequest) error {
	body, _ := json.Marshal(req)
	_, err := status.Call(ctx, endpoint, token, http.MethodPost, MaintenancePath, body)
	var ce *status.CallError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("ddns: %w", err)
	case err != nil:
		return fmt.Errorf("ddns: is `redund ddns run` running? %w", err)
	}
	return nil
}
