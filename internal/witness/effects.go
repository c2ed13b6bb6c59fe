package witness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// The calls to etcd that the loop's effects make. Each runs in its own
// goroutine and reports its result to the loop; none touches the machine.

// tlsConfig loads ca_file, cert_file and key_file; nil without TLS.
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && !c.hasHTTPS() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: no PEM certificate in %s", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (c *Config) hasHTTPS() bool {
	for _, ep := range c.Endpoints {
		if len(ep) > 8 && ep[:8] == "https://" {
			return true
		}
	}
	return false
}

// dial creates the etcd client. Without auth that does not wait for etcd;
// with auth the client logs in first, so dial retries until ctx ends.
func (w *Witness) dial(ctx context.Context) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints: w.cfg.Endpoints, DialTimeout: w.t.ttl, TLS: w.tls,
		Username: w.cfg.Username, Password: w.cfg.Password.Reveal(),
		// the client outlives ctx: the lease is revoked after ctx ends,
		// and finish closes the client
		Logger: zap.NewNop(), Context: context.WithoutCancel(ctx),
	}
	for wait := w.t.retry; ; wait = min(2*wait, w.t.ttl) {
		cli, err := clientv3.New(cfg)
		if err == nil {
			return cli, nil
		}
		w.log.Warn("cannot connect to etcd", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (w *Witness) client() *clientv3.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cli
}

func (w *Witness) grant(ctx context.Context) {
	cli := w.client()
	sent := w.now()
	gctx, cancel := context.WithTimeout(ctx, w.t.ttl)
	resp, err := cli.Grant(gctx, int64(w.t.ttl/time.Second))
	cancel()
	var id int64
	if err == nil {
		id = int64(resp.ID)
		// the session only gives the Election its lease; the loop's
		// keep-alives and deadline decide whether the lease is ours
		sess, serr := concurrency.NewSession(cli, concurrency.WithLease(resp.ID), concurrency.WithContext(ctx))
		if serr != nil {
			err = serr
		} else {
			w.mu.Lock()
			w.sessions[id] = sess
			w.mu.Unlock()
			w.log.Info("lease granted", "lease", fmt.Sprintf("%x", id))
		}
	}
	w.report(inGranted{lease: id, sent: sent, err: err})
}

func (w *Witness) renew(ctx context.Context, lease int64) {
	sent := w.now()
	rctx, cancel := context.WithTimeout(ctx, w.t.attempt)
	_, err := w.client().KeepAliveOnce(rctx, clientv3.LeaseID(lease))
	cancel()
	w.report(inRenewed{lease: lease, sent: sent, err: err, gone: errors.Is(err, rpctypes.ErrLeaseNotFound)})
}

func (w *Witness) session(lease int64) *concurrency.Session {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions[lease]
}

// campaign waits until this node's key is the oldest of the lock, then
// checks that the key is still there on the same lease. Its calls require
// a leader: a watch on a member cut off from the others would otherwise
// wait for ever; it fails instead, and the loop campaigns again.
func (w *Witness) campaign(ctx context.Context, lock string, lease int64) {
	ctx = clientv3.WithRequireLeader(ctx)
	var fence int64
	sess := w.session(lease)
	err := errors.New("lease given up")
	if sess != nil {
		e := concurrency.NewElection(sess, w.lockPrefix(lock))
		err = e.Campaign(ctx, w.node)
		if err == nil {
			fence = e.Rev()
			err = w.checkKey(ctx, e.Key(), lease, fence)
		}
	}
	w.report(inCampaigned{lock: lock, lease: lease, fence: fence, err: err})
}

func (w *Witness) checkKey(ctx context.Context, key string, lease, fence int64) error {
	resp, err := w.client().Get(ctx, key)
	if err != nil {
		return err
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != fence || resp.Kvs[0].Lease != lease {
		return errors.New("lock key vanished while waiting (lease expired on etcd)")
	}
	return nil
}

// guard watches the key of a holding, from a read of it, and reports
// inKeyGone when it is deleted (or another key replaced it) while this
// node still holds by its lease: nobody but this node deletes it, so
// someone did by hand, and the next node in line has the lock. A failed
// read or watch is tried again after a pause; a cut-off holder loses the
// lock by its lease's deadline anyway.
func (w *Witness) guard(ctx context.Context, e effGuard) {
	ctx = clientv3.WithRequireLeader(ctx)
	key := w.lockKey(e.lock, e.lease)
	for ctx.Err() == nil {
		if gone, err := w.watchKey(ctx, key, e.fence); gone {
			w.report(inKeyGone(e))
			return
		} else if err != nil && ctx.Err() == nil {
			w.log.Debug("watch of the lock key", "lock", e.lock, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.t.retry):
		}
	}
}

// watchKey reads key, then follows it until it is deleted or recreated
// (gone), or the read or the watch fails.
func (w *Witness) watchKey(ctx context.Context, key string, fence int64) (gone bool, err error) {
	gctx, cancel := context.WithTimeout(ctx, w.t.attempt)
	resp, err := w.client().Get(gctx, key)
	cancel()
	if err != nil {
		return false, err
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != fence {
		return true, nil
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	for wr := range w.client().Watch(wctx, key, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return false, err
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete || ev.Kv.CreateRevision != fence {
				return true, nil
			}
		}
	}
	return false, ctx.Err()
}

// resign deletes this node's key of the lock if it is still the one of
// that holding.
func (w *Witness) resign(ctx context.Context, e effResign) {
	key := w.lockKey(e.lock, e.lease)
	rctx, cancel := context.WithTimeout(ctx, w.t.ttl)
	_, err := w.client().Txn(rctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", e.fence)).
		Then(clientv3.OpDelete(key)).Commit()
	cancel()
	w.report(inResigned{lock: e.lock, lease: e.lease, err: err})
}

func (w *Witness) put(ctx context.Context, e effPut) {
	w.mu.Lock()
	p := *w.pubs[e.topic]
	w.mu.Unlock()
	key := w.pubKey(e.topic, w.node)
	pctx, cancel := context.WithTimeout(ctx, w.t.ttl)
	var err error
	if p.deleted {
		_, err = w.client().Delete(pctx, key)
	} else {
		_, err = w.client().Put(pctx, key, p.value, clientv3.WithLease(clientv3.LeaseID(e.lease)))
	}
	cancel()
	w.report(inPut{topic: e.topic, lease: e.lease, version: p.version, err: err})
}

// drop stops the session's keep-alive and revokes the lease, which
// deletes every key on it at once. When etcd cannot be reached the lease
// simply expires there.
func (w *Witness) drop(ctx context.Context, lease int64) {
	w.mu.Lock()
	sess := w.sessions[lease]
	delete(w.sessions, lease)
	w.mu.Unlock()
	if sess != nil {
		sess.Orphan()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.t.ttl/2)
	_, err := w.client().Revoke(rctx, clientv3.LeaseID(lease))
	cancel()
	if err != nil {
		w.log.Debug("revoke lease", "lease", fmt.Sprintf("%x", lease), "err", err)
	}
}

// record publishes the machine's state for Held and Status.
func (w *Witness) record(m *machine, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Time{}
	if m.lease != 0 {
		w.deadline = m.deadline
	}
	w.snap = snapshotOf(m, now)
}
