package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/replica"
)

// maxBody bounds a request body (a config document, an import, a batch).
const maxBody = 64 << 20

// Register adds the gateway's endpoints, status source and metrics to an
// admin server. Changes (PUT, DELETE, POST) and reads of documents and
// history go through adminapi.Protect: with a token they need it; without
// one only loopback clients may use them. Status, the page (GET /gateway,
// listed on the server's index) and the log lines are open like
// /v1/status.
func (g *Gateway) Register(s lifecycle.Admin, token config.Secret) error {
	if err := s.Registry().Register(metrics{g}); err != nil {
		return fmt.Errorf("gateway: metrics: %w", err)
	}
	g.token = token
	s.AddSource(g)
	p := func(h http.HandlerFunc) http.Handler { return adminapi.Protect(token, h) }
	s.Handle("GET /v1/gateway/status", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		adminapi.WriteJSON(w, http.StatusOK, g.Detail())
	}))
	// documents may hold sensitive values: reading them is guarded like changes
	s.Handle("GET /v1/gateway/config", p(g.serveList(ProvConfig)))
	s.Handle("GET /v1/gateway/config/{key...}", p(g.serveGet(ProvConfig)))
	s.Handle("PUT /v1/gateway/config/{key...}", p(g.servePut(g.SetConfig)))
	s.Handle("DELETE /v1/gateway/config/{key...}", p(g.serveDelete(g.DeleteConfig)))
	s.Handle("POST /v1/gateway/config-import", p(g.serveImport))
	s.Handle("GET /v1/gateway/state", p(g.serveList(ProvState)))
	s.Handle("GET /v1/gateway/state/{key...}", p(g.serveGet(ProvState)))
	s.Handle("PUT /v1/gateway/state/{key...}", p(g.servePut(g.SetState)))
	s.Handle("DELETE /v1/gateway/state/{key...}", p(g.serveDelete(g.DeleteState)))
	s.Handle("POST /v1/gateway/history", p(g.servePostHistory))
	s.Handle("GET /v1/gateway/history", p(g.serveQueryHistory))
	s.Handle("POST /v1/gateway/failover", p(g.serveFailover))
	s.Handle("POST /v1/gateway/resync", p(g.serveResync))
	s.Handle("GET /v1/gateway/log", http.HandlerFunc(g.serveLog))
	s.Handle("GET "+PagePath, http.HandlerFunc(g.servePage))
	s.AddPage("gateway", PagePath, nil)
	return nil
}

// writeErr maps an error to an HTTP answer: refusals are 409 with the URL
// of the node to use, bad keys 400, anything else 500.
func writeErr(w http.ResponseWriter, err error) {
	var ref *RefusedError
	switch {
	case errors.As(err, &ref):
		adminapi.WriteJSON(w, http.StatusConflict, map[string]string{"error": err.Error(), "redirect": ref.Redirect})
	case errors.Is(err, errNoLock): // the lease ran out during the write
		adminapi.WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrBadKey), errors.Is(err, ErrBadPoint), errors.Is(err, replica.ErrTooLarge):
		adminapi.WriteError(w, http.StatusBadRequest, err.Error())
	default:
		adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

// docJSON is a document as the API shows it (values are text).
type docJSON struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Version uint64 `json:"version"`
}

func (g *Gateway) serveList(prov string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		items, err := g.ListDocs(prov, r.URL.Query().Get("prefix"))
		if err != nil {
			writeErr(w, err)
			return
		}
		out := map[string]string{}
		for _, it := range items {
			out[it.Key] = string(it.Value)
		}
		adminapi.WriteJSON(w, http.StatusOK, out)
	}
}

func (g *Gateway) serveGet(prov string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		it, ok, err := g.GetDoc(prov, r.PathValue("key"))
		switch {
		case err != nil:
			writeErr(w, err)
		case !ok:
			adminapi.WriteError(w, http.StatusNotFound, "no such key")
		default:
			adminapi.WriteJSON(w, http.StatusOK, docJSON{Key: it.Key, Value: string(it.Value), Version: it.Version})
		}
	}
}

func (g *Gateway) servePut(set func(string, []byte) (uint64, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			adminapi.WriteError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		v, err := set(r.PathValue("key"), body)
		if err != nil {
			writeErr(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"key": r.PathValue("key"), "version": v})
	}
}

func (g *Gateway) serveDelete(del func(string) (uint64, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := del(r.PathValue("key"))
		if err != nil {
			writeErr(w, err)
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"key": r.PathValue("key"), "version": v})
	}
}

func (g *Gateway) serveImport(w http.ResponseWriter, r *http.Request) {
	var docs map[string]string
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&docs); err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, "import: body must be a JSON object of key → value: "+err.Error())
		return
	}
	m := make(map[string][]byte, len(docs))
	for k, v := range docs {
		m[k] = []byte(v)
	}
	n, err := g.ImportConfig(m)
	if err != nil {
		writeErr(w, err)
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, map[string]int{"imported": n})
}

func (g *Gateway) servePostHistory(w http.ResponseWriter, r *http.Request) {
	var pts []Point
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&pts); err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, "history: body must be a JSON array of {tag, ts_ms, value}: "+err.Error())
		return
	}
	n, err := g.PostHistory(pts)
	if err != nil {
		writeErr(w, err)
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, map[string]int{"accepted": n})
}

func (g *Gateway) serveQueryHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := msParam(q, "from", 0)
	to, err2 := msParam(q, "to", time.Now().Add(time.Hour).UnixMilli())
	if err := errors.Join(err1, err2); err != nil {
		adminapi.WriteError(w, http.StatusBadRequest, "history: "+err.Error())
		return
	}
	pts, err := g.QueryHistory(q.Get("tag"), from, to)
	if err != nil {
		writeErr(w, err)
		return
	}
	if pts == nil {
		pts = []Point{}
	}
	adminapi.WriteJSON(w, http.StatusOK, pts)
}

// msParam reads a unix-milliseconds query parameter; def when absent.
func msParam(q url.Values, name string, def int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want unix milliseconds", name, v)
	}
	return n, nil
}

func (g *Gateway) serveFailover(w http.ResponseWriter, r *http.Request) {
	msg, err := g.Failover(r.Context())
	if err != nil {
		adminapi.WriteError(w, http.StatusConflict, err.Error())
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": msg})
}

func (g *Gateway) serveResync(w http.ResponseWriter, _ *http.Request) {
	msg, err := g.Resync()
	if err != nil {
		adminapi.WriteError(w, http.StatusConflict, err.Error())
		return
	}
	adminapi.WriteJSON(w, http.StatusOK, map[string]string{"result": msg})
}
