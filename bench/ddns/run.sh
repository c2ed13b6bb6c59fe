#!/bin/sh
# redund ddns benchmarks. Needs Go and BIND9 (apt-get install -y bind9).
#   failover: main's status page turns to status=ERR → BIND answers the
#             backup's address (interval 100ms, fall 2, rise 2, RFC 2136+TSIG)
#   scale:    DDNS_SCHEMES (1000) schemes × 3 HTTP-checked servers at 1 s
#             interval for DDNS_SECONDS (30) s; page servers in their own process
#             (DDNS_CHECK=tcp: TCP connect checks instead of HTTP;
#             DDNS_LISTENERS: number of page listeners, default 64, served
#             by DDNS_PAGE_PROCS (2) processes of bench/ddns/pages, one
#             epoll thread each, that each raise their open-file limit as
#             far as allowed; DDNS_WARMUP (3): seconds before the window; DDNS_HEAPPROFILE=FILE: the live heap at the end of the window (FILE.start: at its start, a base for what the window allocated); DDNS_TRACE=FILE: an execution trace of DDNS_TRACE_SECONDS (3) seconds of the window from its second DDNS_TRACE_AT (default: the second before DDNS_GC_AT, else the first); DDNS_GC_AT=N: force a collection at the start of second N of the window; DDNS_PAGES_NICE=N: run the pages under nice -n N; DDNS_GARBAGE=MB: allocate that many MB a second besides the daemon (collections more often); DDNS_HOGS=N: N processes spinning on the CPU during the run (other busy processes on the host);
#             DDNS_DISTINCT=1: every server its own URL, else the schemes
#             share the listeners' pages and redund probes each page once;
#             DDNS_KEEPALIVE=1: checks with keepalive = true;
#             DDNS_TIMEOUT: the checks' timeout, default 1s: the daemon
#             refuses probes that may need more open files than allowed,
#             timeout/interval each)
#   scale10k: scale at 10,000 schemes, four ways: shared pages, distinct
#             URLs with keepalive (kept connections are shared by host:port,
#             so they number the probes in flight, not 30,000) after the
#             usual 3 s warm-up and after 10 s, distinct URLs with a new
#             connection per probe; the distinct runs use timeout 600ms, as
#             30,000 probes at timeout = interval would need 30,256 open
#             files where the hard limit is usually lower (`ulimit -Hn` is
#             printed); the CPU steal of each run is printed (a VM)
#   peer:     the same against gdnsd (apt-get install -y gdnsd), the peer
#             that health-checks and answers DNS itself: failover at
#             interval 2 s / 2 failures (gdnsd's minimum interval), and
#             CPU for 1000 names × 3 servers at 2 s, redund and gdnsd in
#             turn DDNS_PAIRS (3) times (DDNS_KEEPALIVE=1: redund with
#             keepalive)
#   witness:  needs etcd (apt-get install -y etcd-server) too: the same
#             failover by one decider and by three on a three-member etcd
#             (quorum majority), and the time to a new leader after the
#             leader is killed (ttl 2 s), DDNS_FAILOVERS (10) rounds each,
#             in-process and with real `redund ddns run` processes (SIGKILL
#             and SIGTERM of the leader's process)
# Usage: bench/ddns/run.sh [failover|scale|scale10k|peer|witness|all]
set -eu
cd "$(dirname "$0")"
what=${1:-all}
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" .
go build -o "$tmp/pages" ./pages
if [ "$what" = failover ] || [ "$what" = all ]; then
	REDUND_INTEGRATION=1 "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkFailover$' -test.benchtime "${DDNS_FAILOVERS:-30}x" -test.v
fi
if [ "$what" = scale ] || [ "$what" = all ]; then
	DDNS_PAGES_BIN="$tmp/pages" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkScale$' -test.benchtime 1x -test.v
fi
if [ "$what" = scale10k ]; then
	echo "ulimit -Hn: $(ulimit -Hn)"
	for v in "" "DDNS_DISTINCT=1 DDNS_KEEPALIVE=1 DDNS_TIMEOUT=600ms" "DDNS_DISTINCT=1 DDNS_KEEPALIVE=1 DDNS_TIMEOUT=600ms DDNS_WARMUP=10" \
		"DDNS_DISTINCT=1 DDNS_TIMEOUT=600ms"; do
		echo "== DDNS_SCHEMES=10000 $v (load $(cut -d' ' -f1-3 /proc/loadavg))"
		s0=$(head -1 /proc/stat)
		env DDNS_SCHEMES=10000 $v DDNS_PAGES_BIN="$tmp/pages" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkScale$' -test.benchtime 1x -test.v
		echo "$s0 $(head -1 /proc/stat)" | awk '{t0=$2+$3+$4+$5+$6+$7+$8+$9; t1=$13+$14+$15+$16+$17+$18+$19+$20; printf "cpu steal during the run: %.1f%%\n", 100*($20-$9)/(t1-t0)}'
	done
fi
if [ "$what" = peer ] || [ "$what" = all ]; then
	REDUND_INTEGRATION=1 "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkFailoverVsGdnsd$' -test.benchtime 1x -test.v
	DDNS_PAGES_BIN="$tmp/pages" REDUND_INTEGRATION=1 "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkScaleVsGdnsd$' -test.benchtime 1x -test.v
fi
if [ "$what" = witness ] || [ "$what" = all ]; then
	REDUND_INTEGRATION=1 "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkWitness' -test.benchtime "${DDNS_FAILOVERS:-10}x" -test.v
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
