package ddns

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/redund/redund/internal/config"
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

// Register adds the daemon's status documents, metrics and maintenance
// endpoint to an admin server. When token is set, the endpoint requires
// "Authorization: Bearer <token>".
func (d *Daemon) Register(admin *status.Server, token config.Secret) {
	admin.AddSource(d)
	admin.Registry().MustRegister(d)
	admin.Handle("POST "+MaintenancePath, d.MaintenanceHandler(token))
}

// MaintenanceHandler serves POST /v1/ddns/maintenance.
func (d *Daemon) MaintenanceHandler(token config.Secret) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			want := []byte("Bearer " + token.Reveal())
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
				status.WriteError(w, http.StatusUnauthorized, "missing or wrong admin token")
				return
			}
		}
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
