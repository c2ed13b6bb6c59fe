package voter

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
)

// Options are the run-time settings that are not part of the config file.
type Options struct {
	Log      *slog.Logger
	Registry prometheus.Registerer // nil: Register registers the metrics
	Record   string                // write the voted audio of every instance to this WAV file
	// RecvBuffer is the UDP receive buffer of the VOTER sockets in bytes
	// (0: 4 MiB).
	RecvBuffer int

	moveQuiet time.Duration // tests: instead of moveQuiet (0: moveQuiet)
}

// Server runs every configured instance. Instances with the same listen
// address share one UDP socket, one challenge and one timing source, as
// chan_voter's instances share its one socket.
type Server struct {
	log    *slog.Logger
	opts   Options
	groups []*group
	insts  map[string]*instance
	names  []string

	listenOnce sync.Once
	listenErr  error
}

// New checks the instances and builds a Server. It binds nothing yet.
func New(cfgs map[string]*Config, opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Log = logging.Component(opts.Log, "voter", "")
	if len(cfgs) == 0 {
		return nil, errors.New("voter: no [voter.<instance>] configured")
	}
	cfgs = withDefaults(cfgs) // copies: the caller's configs are left as they are
	s := &Server{log: opts.Log, opts: opts, insts: map[string]*instance{}}
	byListen := map[string][]string{}
	for name, c := range cfgs {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("voter: %s: %w", name, err)
		}
		byListen[c.Listen] = append(byListen[c.Listen], name)
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	keys := make([]string, 0, len(byListen))
	for k := range byListen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, listen := range keys {
		names := byListen[listen]
		sort.Strings(names)
		g, err := newGroup(s, listen, names, cfgs)
		if err != nil {
			return nil, err
		}
		s.groups = append(s.groups, g)
	}
	if opts.Registry != nil {
		if err := opts.Registry.Register(&collector{s: s}); err != nil {
			return nil, fmt.Errorf("voter: metrics: %w", err)
		}
	}
	return s, nil
}

func newGroup(s *Server, listen string, names []string, cfgs map[string]*Config) (*group, error) {
	g := &group{srv: s, addr: listen, byDigest: map[uint32]*client{}, reloadq: make(chan clientReload),
		live:    lifecycle.NewLoop("voter tick " + listen),
		lostLog: logging.Every{Period: timingLogEvery}, gainLog: logging.Every{Period: timingLogEvery},
		moveQuiet: cmp.Or(s.opts.moveQuiet, moveQuiet),
		moveLog:   logging.Every{Period: moveLogEvery}, changeLog: logging.Every{Period: moveLogEvery}}
	g.log = s.log.With("listen", listen)
	pw, chal := "", ""
	for _, n := range names {
		c := cfgs[n]
		if pw != "" && c.Password.Reveal() != pw {
			return nil, fmt.Errorf("voter: instances %v share listen %s but have different passwords", names, listen)
		}
		pw = c.Password.Reveal()
		if c.Challenge != "" {
			if chal != "" && chal != c.Challenge {
				return nil, fmt.Errorf("voter: instances %v share listen %s but have different challenges", names, listen)
			}
			chal = c.Challenge
		}
	}
	g.hostPw = []byte(pw)
	owner := map[string]string{}
	for _, n := range names {
		for _, cn := range cfgs[n].ClientNames() {
			p := cfgs[n].Clients[cn].Password.Reveal()
			if o, dup := owner[p]; dup {
				return nil, fmt.Errorf("voter: %s.clients.%s has the same password as %s (instances on one listen address share clients' digests)", n, cn, o)
			}
			owner[p] = n + ".clients." + cn
		}
	}
	for tries := 0; ; tries++ {
		if chal == "" || tries > 0 {
			if chal != "" && tries == 1 {
				return nil, fmt.Errorf("voter: listen %s: challenge %s gives a client digest of 0 or two equal digests", listen, chal)
			}
			chal = randomChallenge()
		}
		g.chal = MakeChallenge(chal)
		g.chalB = g.chal.Bytes()
		g.ownDigest = DigestBytes(g.chalB, g.hostPw)
		if g.ownDigest != 0 && g.build(names, cfgs) {
			return g, nil
		}
		if tries > 100 {
			return nil, fmt.Errorf("voter: listen %s: no usable challenge", listen)
		}
	}
}

// build creates instances and clients; it fails when some digest is 0 or
// two clients share a digest under the current challenge.
func (g *group) build(names []string, cfgs map[string]*Config) bool {
	g.insts, g.clients, g.byDigest, g.masters = nil, nil, map[uint32]*client{}, nil
	for _, n := range names {
		in := newInstance(g, n, cfgs[n])
		for _, cn := range cfgs[n].ClientNames() {
			c := newClient(cn, in, cfgs[n].Clients[cn], g.chalB, cfgs[n].BufBytes())
			if _, dup := g.byDigest[c.digest]; dup || c.digest == 0 {
				return false
			}
			g.byDigest[c.digest] = c
			in.clients = append(in.clients, c)
			g.clients = append(g.clients, c)
			if c.cfg.Master {
				g.masters = append(g.masters, c)
			}
		}
		in.adpcmTx = in.hasADPCMTx()
		g.insts = append(g.insts, in)
		g.srv.insts[n] = in
	}
	return true
}

// randomChallenge is a random 8-digit challenge. chan_voter f232116 keeps
// only the first 8 characters of a secondary's challenge on some proxied
// paths; with 8 digits both forms are the same.
func randomChallenge() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(10_000_000+binary.BigEndian.Uint64(b[:])%90_000_000, 10)
}

// Listen binds every socket (VOTER ports, liveness links, RTP). Run calls
// it when it has not been called.
func (s *Server) Listen() error {
	s.listenOnce.Do(func() {
		for _, g := range s.groups {
			if err := g.bind(); err != nil {
				s.listenErr = err
				s.close()
				return
			}
		}
		for _, g := range s.groups {
			for _, in := range g.insts {
				in.logBound()
			}
		}
	})
	return s.listenErr
}

func (s *Server) close() {
	for _, g := range s.groups {
		g.close()
	}
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, g := range s.groups {
		g.start(ctx, &wg)
	}
	<-ctx.Done()
	s.close()
	wg.Wait()
	for _, g := range s.groups {
		g.finish()
	}
	return nil
}

// Bound names every socket Listen bound: each instance's VOTER port and
// its rtp_in.
func (s *Server) Bound() []lifecycle.Bound {
	var out []lifecycle.Bound
	for _, n := range s.names {
		if a := s.Addr(n); a.IsValid() {
			out = append(out, lifecycle.Bound{Key: "voter." + n + ".listen", Addr: a.String()})
		}
		if a := s.RTPInAddr(n); a.IsValid() {
			out = append(out, lifecycle.Bound{Key: "voter." + n + ".rtp_in", Addr: a.String()})
		}
	}
	return out
}

// Addr is the bound VOTER address of an instance (after Listen).
func (s *Server) Addr(instance string) netip.AddrPort {
	in := s.insts[instance]
	if in == nil || in.g.conn == nil {
		return netip.AddrPort{}
	}
	return in.g.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// RTPInAddr is the bound transmit-audio RTP address of an instance.
func (s *Server) RTPInAddr(instance string) netip.AddrPort {
	in := s.insts[instance]
	if in == nil || in.rtpIn == nil {
		return netip.AddrPort{}
	}
	return in.rtpIn.LocalAddr().(*net.UDPAddr).AddrPort()
}
