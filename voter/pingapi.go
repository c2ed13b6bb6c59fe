package voter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/status"
)

// PingPath is the admin endpoint of `redund voter ping`.
const PingPath = "/v1/voter/ping"

// Register adds the voter's status source, metrics (unless
// Options.Registry took them), admin endpoints, HTML status page (GET
// /voter, PagePath, listed on the server's index) to the admin server; POST
// endpoints need the admin token (or loopback without one).
func (s *Server) Register(admin lifecycle.Admin, token config.Secret) error {
	if s.opts.Registry == nil {
		if err := admin.Registry().Register(&collector{s: s}); err != nil {
			return fmt.Errorf("voter: metrics: %w", err)
		}
	}
	admin.AddSource(s)
	admin.Handle("POST "+PingPath, adminapi.Protect(token, http.HandlerFunc(s.servePing)))
	admin.Handle("GET "+PagePath, s.pageHandler())
	admin.AddPage("voter", PagePath, func(doc status.Document) string { return "instance-" + doc.Instance })
	return nil
}

// maxPingCount bounds one sequence (and the request's deadline with it).
const maxPingCount = 10000

// servePing runs `voter ping`: ?client=NAME[&count=N][&instance=I];
// count 0 aborts a running sequence. It answers when the sequence ends.
func (s *Server) servePing(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := pingCount
	if v := q.Get("count"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxPingCount {
			adminapi.WriteError(w, http.StatusBadRequest, fmt.Sprintf("count must be a number from 0 (abort) to %d", maxPingCount))
			return
		}
	}
	inst, err := s.instanceOf(q.Get("instance"), q.Get("client"))
	if err != nil {
		adminapi.WriteError(w, http.StatusNotFound, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(max(n, 0))*pingEvery+pingTimeout+5*time.Second)
	defer cancel()
	res, err := s.Ping(ctx, inst, q.Get("client"), n)
	switch {
	case errors.Is(err, ErrPingBusy):
		adminapi.WriteError(w, http.StatusConflict, err.Error())
	case err != nil:
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
	case n <= 0:
		adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": "ping aborted"})
	default:
		adminapi.WriteJSON(w, http.StatusOK, res)
	}
}

// instanceOf is inst, or the one instance that has a client called name.
func (s *Server) instanceOf(inst, name string) (string, error) {
	if inst != "" {
		return inst, nil
	}
	var found []string
	for _, n := range s.names {
		if s.insts[n].cfg.Clients[name] != nil {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no instance has a client %q", name)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("client %q is in instances %v: name one", name, found)
}
