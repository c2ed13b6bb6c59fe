#!/usr/bin/env bash
# Benchmarks of redund gateway; figures go to bench/gateway/RESULTS.md.
#   bench/gateway/run.sh            # failover (20 runs) + replication + 100 MB full sync
#   RUNS=5 DURATION=5s bench/gateway/run.sh
# With etcd installed (Debian etcd-server) the etcd comparison runs too.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
RUNS=${RUNS:-20}
DURATION=${DURATION:-10s}
WRITERS=${WRITERS:-256}
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
go build -o "$out/redund" ./cmd/redund
go build -o "$out/failover" ./bench/gateway/failover
go build -o "$out/replication" ./bench/gateway/replication
echo "== failover: kill -9 the master, failover_timeout=1s, $RUNS runs"
"$out/failover" -redund "$out/redund" -runs "$RUNS" -failover-timeout 1s
echo "== replication: $WRITERS writers for $DURATION, fsync on; then a 100 MB full sync"
"$out/replication" -writers "$WRITERS" -duration "$DURATION" -full-sync-mb 100
if command -v etcd >/dev/null; then
	echo "== etcd (single member, same writers, same duration)"
	(cd bench/gateway/etcd && go run . -writers "$WRITERS" -duration "$DURATION")
	echo "== failover with the witness: three etcd members, ttl=${WITNESS_TTL:-2s}, failover_timeout=1s, $RUNS runs"
	"$out/failover" -redund "$out/redund" -runs "$RUNS" -failover-timeout 1s -witness -ttl "${WITNESS_TTL:-2s}"
else
	echo "== etcd: not installed (apt-get install etcd-server), comparison skipped"
fi
