package gateway

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/netlimit"
)

// Headers telling clients which node served them and whether they moved.
const (
	HeaderNode  = "X-Redund-Node"
	HeaderMoved = "X-Redund-Moved-From"
)

// bindClient binds client_listen (Listen).
func (g *Gateway) bindClient() error {
	ln, err := net.Listen("tcp", g.cfg.ClientListen)
	if err != nil {
		return fmt.Errorf("gateway: client listener: %w", err)
	}
	addr := ln.Addr().String()
	g.clientAddr.Store(&addr)
	g.clientLn = ln
	return nil
}

// startClientListener serves the failover proxy on the bound client_listen.
func (g *Gateway) startClientListener(ctx context.Context, run func(func(context.Context))) error {
	ln := g.clientLn
	h, err := g.ClientHandler()
	if err != nil {
		ln.Close()
		return err
	}
	errs := netlimit.NewErrorLog(g.log, "client listener")
	srv := netlimit.HTTPServer(g.clientGuard(ln.Addr().String()).Handler(h), errs)
	ln = netlimit.Wrap(ln, ClientLimits())
	run(func(ctx context.Context) {
		shut := make(chan struct{})
		go func() { // waited for below: Run outlives it
			defer close(shut)
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		logged := make(chan struct{})
		go func() { defer close(logged); errs.Run(ctx) }() // waited for below
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("client listener", "err", err)
		}
		<-shut
		<-logged
	})
	return nil
}

// ClientLimits caps the connections of the client listener: 1024 at once
// (netlimit.Budget) and 128 from one source, so that a flood on the client
// port neither keeps other clients out nor takes the file descriptors
// that the admin and peer listeners need.
func ClientLimits() netlimit.Limits {
	return netlimit.Limits{Total: netlimit.Budget(1024), PerSrc: 128}
}

// clientGuard is the admin listeners' guard for the client listener: Host
// must be an IP address, localhost, client_listen's or client_url's name
// or one of [admin] allowed_hosts; cross-origin changes are refused.
func (g *Gateway) clientGuard(bound string) *adminapi.Guard {
	names := []string{g.cfg.ClientListen, bound}
	if u, err := url.Parse(g.cfg.ClientURL); err == nil && u.Hostname() != "" {
		names = append(names, net.JoinHostPort(u.Hostname(), "0"))
	}
	return adminapi.NewGuard("", g.opts.AllowedHosts, names...)
}

// ClientAddr is the bound client listener address (after Run started it).
func (g *Gateway) ClientAddr() string {
	if a := g.clientAddr.Load(); a != nil {
		return *a
	}
	return ""
}

// ClientHandler forwards HTTP (and WebSocket upgrades) to the application
// on the active node; a standby redirects the client to the active node
// (307, with X-Redund-Moved-From naming this node) or answers 503 when it
// does not know one. Only a peer that says it is active over the link as
// it is now (authenticated and up) is known active: with the link down
// its last role is a memory (it may have stopped or stood down since),
// and the standby answers 503 so that the client retargets itself.
func (g *Gateway) ClientHandler() (http.Handler, error) {
	target, err := url.Parse(g.cfg.AppURL)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("gateway: app_url %q: not an absolute URL", g.cfg.AppURL)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(&proxyErrorLog{log: g.log, every: logging.Every{Period: netlimit.ErrorLogEvery}}, "", 0)
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		adminapi.WriteError(w, http.StatusBadGateway, "application unreachable on "+g.cfg.NodeID+": "+err.Error())
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		adminapi.FillSecurityHeaders(resp.Header) // the application's own framing policy wins
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderNode, g.cfg.NodeID)
		v := g.view()
		role, peerURL, peerRole, linked := v.Role, v.Peer.URL, v.Peer.Role, v.Link == linkUp
		if role == RoleActive {
			adminapi.DropSecurityHeaders(w.Header())
			proxy.ServeHTTP(w, r)
			return
		}
		if linked && peerURL != "" && peerRole == RoleActive {
			w.Header().Set(HeaderMoved, g.cfg.NodeID)
			http.Redirect(w, r, strings.TrimSuffix(peerURL, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Retry-After", "1")
		msg := fmt.Sprintf("%s is %s and no active node is known", g.cfg.NodeID, role)
		if !linked && peerRole == RoleActive {
			msg += " (the link to the peer is down: its last known role, active, is not verified)"
		}
		adminapi.WriteError(w, http.StatusServiceUnavailable, msg)
	}), nil
}

// proxyErrorLog takes the lines the reverse proxy writes itself (an
// application answer that broke off while it was copied to the client:
// "read error during body copy"). Without it they went to stderr, one per
// request, however many a client made; now one line per
// netlimit.ErrorLogEvery gets through, with how many were held back. The
// text is the application's error (what the operator needs to fix it),
// cut to its first line.
type proxyErrorLog struct {
	log   *slog.Logger
	every logging.Every
}

func (p *proxyErrorLog) Write(b []byte) (int, error) {
	if ok, held := p.every.Allow(time.Now()); ok {
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if len(line) > 300 {
			line = line[:300]
		}
		p.log.Warn("client listener: forwarding the application's answer failed", "held_back", held, "err", line)
	}
	return len(b), nil
}
