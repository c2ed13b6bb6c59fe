#!/bin/sh
# Benchmark redund schedsync against rsync (daemon on loopback).
# Usage: bench/schedsync/run.sh [flags for the bench program]
#   defaults: 10,000 files / 1 GiB, a 100 MiB file for the one-byte change,
#   50 latency samples, 30 s idle window. Smaller: -files 2000 -total 209715200
# Needs: go, rsync (Debian package rsync). Work dir: $BENCH_DIR (default /tmp/schedsync-bench).
set -eu
cd "$(dirname "$0")/../.."
work=${BENCH_DIR:-/tmp/schedsync-bench}
mkdir -p "$work"
go build -o "$work/redund" ./cmd/redund
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rsync: $(rsync --version | head -1)"
exec go run ./bench/schedsync -bin "$work/redund" -work "$work" "$@"
