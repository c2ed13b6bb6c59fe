package witness

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// advance applies the rules that time and the current state trigger.
func (m *machine) advance(now time.Time) []effect {
	var effs []effect
	if m.lease != 0 && !now.Before(m.deadline) {
		effs = m.lose(now, fmt.Sprintf("no keep-alive answered within %s", m.ttl-m.margin))
	}
	if m.stopping {
		return effs
	}
	if m.lease == 0 {
		if !m.granting && !now.Before(m.grantAt) {
			m.granting = true
			effs = append(effs, effGrant{})
		}
		return effs
	}
	if !m.renewing && !now.Before(m.renewAt) {
		m.renewing = true
		effs = append(effs, effRenew{m.lease})
	}
	for _, name := range slices.Sorted(maps.Keys(m.locks)) {
		effs = append(effs, m.advanceLock(name, m.locks[name], now)...)
	}
	for _, topic := range slices.Sorted(maps.Keys(m.pubs)) {
		p := m.pubs[topic]
		if !p.putting && (p.lease != m.lease || p.done != p.want) && !now.Before(p.retryAt) {
			p.putting = true
			effs = append(effs, effPut{topic, m.lease})
		}
	}
	return effs
}

func (m *machine) advanceLock(name string, l *lockState, now time.Time) []effect {
	if now.Before(l.retryAt) {
		return nil
	}
	switch {
	case l.phase == idle && l.want:
		l.phase, l.lease = campaigning, m.lease
		return []effect{effCampaign{name, m.lease}}
	case l.phase == resigning && !l.inflight:
		l.inflight = true
		return []effect{effResign{name, l.lease, l.fence}}
	}
	return nil
}

// wake is when advance may have something to do next; zero means only an
// input can change anything.
func (m *machine) wake() time.Time {
	var w time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	if m.stopping {
		return w
	}
	if m.lease == 0 {
		if !m.granting {
			at(m.grantAt)
		}
		return w
	}
	at(m.deadline)
	if !m.renewing {
		at(m.renewAt)
	}
	for _, l := range m.locks {
		if (l.phase == idle && l.want) || (l.phase == resigning && !l.inflight) {
			at(l.retryAt)
		}
	}
	for _, p := range m.pubs {
		if !p.putting && (p.lease != m.lease || p.done != p.want) {
			at(p.retryAt)
		}
	}
	return w
}
