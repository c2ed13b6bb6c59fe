package ddns

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	mServerUp = prometheus.NewDesc("redund_ddns_server_up",
		"1 when the server's health state is OK, 0 when ERR or UNKNOWN.", []string{"scheme", "server"}, nil)
	mServerMaint = prometheus.NewDesc("redund_ddns_server_maintenance",
		"1 when the server is in maintenance.", []string{"scheme", "server"}, nil)
	mLatency = prometheus.NewDesc("redund_ddns_check_latency_seconds",
		"Latency of the server's last health check.", []string{"scheme", "server"}, nil)
	mChecks = prometheus.NewDesc("redund_ddns_checks_total",
		"Health checks run for the server.", []string{"scheme", "server"}, nil)
	mSelected = prometheus.NewDesc("redund_ddns_selected",
		"1 for the server the scheme's name should point at.", []string{"scheme", "server"}, nil)
	mInSync = prometheus.NewDesc("redund_ddns_in_sync",
		"1 when the provider holds exactly the chosen value.", []string{"scheme"}, nil)
	mPushes = prometheus.NewDesc("redund_ddns_pushes_total",
		"Records changed at the provider (result ok), and failed provider reads and pushes (result error).", []string{"scheme", "result"}, nil)
	mRetry = prometheus.NewDesc("redund_ddns_retry_pending",
		"1 while a failed read or push waits for its retry.", []string{"scheme"}, nil)
	mLastPush = prometheus.NewDesc("redund_ddns_last_push_timestamp_seconds",
		"Unix time of the last push attempt (0 before the first).", []string{"scheme"}, nil)
	mProbes = prometheus.NewDesc("redund_ddns_probes_total",
		"Probes started by the daemon (a probe shared by several servers counts once).", nil, nil)
	mLate = prometheus.NewDesc("redund_ddns_probes_late_total",
		"Probes that started more than a tenth of their interval (at least two ticks of the wake grid) after they were due.", nil, nil)
	mReadLate = prometheus.NewDesc("redund_ddns_probes_read_late_total",
		"HTTP probes, tcp checks with expect and dns checks that read their answer only after their timeout (the process short of CPU) and counted it, as the kernel had received it in time.", nil, nil)
)

// Describe implements prometheus.Collector.
func (d *Daemon) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range []*prometheus.Desc{mServerUp, mServerMaint, mLatency, mChecks, mSelected, mInSync, mPushes, mRetry, mLastPush, mProbes, mLate, mReadLate} {
		ch <- m
	}
}

// Collect implements prometheus.Collector from the schemes' snapshots.
func (d *Daemon) Collect(ch chan<- prometheus.Metric) {
	g := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	set := d.current()
	for _, n := range set.names {
		ss := set.schemes[n].Snapshot()
		for _, sv := range ss.Servers {
			g(mServerUp, b2f(sv.State == "OK"), n, sv.Name)
			g(mServerMaint, b2f(sv.Maintenance || len(sv.MaintenanceBy) > 0), n, sv.Name)
			g(mLatency, sv.LatencyMS/1000, n, sv.Name)
			ch <- prometheus.MustNewConstMetric(mChecks, prometheus.CounterValue, float64(sv.Checks), n, sv.Name)
			g(mSelected, b2f(ss.Decision.Action == ActionPoint && ss.Decision.Server == sv.Name), n, sv.Name)
		}
		g(mInSync, b2f(ss.InSync), n)
		ch <- prometheus.MustNewConstMetric(mPushes, prometheus.CounterValue, float64(ss.Pushes), n, "ok")
		ch <- prometheus.MustNewConstMetric(mPushes, prometheus.CounterValue, float64(ss.Failures), n, "error")
		g(mRetry, b2f(ss.Retry.Pending), n)
		last := 0.0
		if ss.LastPush != nil {
			last = float64(ss.LastPush.Time.UnixMilli()) / 1000
		}
		g(mLastPush, last, n)
	}
	started, late := d.probes.Stats()
	ch <- prometheus.MustNewConstMetric(mProbes, prometheus.CounterValue, float64(started))
	ch <- prometheus.MustNewConstMetric(mLate, prometheus.CounterValue, float64(late))
	ch <- prometheus.MustNewConstMetric(mReadLate, prometheus.CounterValue, float64(d.probes.ReadLate()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
