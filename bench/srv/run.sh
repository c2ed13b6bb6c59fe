#!/usr/bin/env bash
# Benchmark of `redund srv`, with BIND's own tools on the same data in the
# same run as the reference cost.
#
#   gen:   `redund srv gen --format zone` for 10,000 zone x transport
#          combinations (5,000 zones x udp,tcp, NAPTR on: 15,000 RRsets,
#          40,000 records), whole process (TOML load, validation,
#          generation, formatting). Peer: named-checkzone reading that output.
#   check: `redund srv check --no-probe` for 1,000 SRV names (500 zones x
#          udp,tcp) against a local named that serves them (pushed with
#          `redund srv push` first). Peers: named-checkzone on the same
#          records, and `dig -f` asking the same 1,000 names one by one.
#
# Needs: go, named, named-checkzone, dig (Debian: bind9 bind9-utils
# bind9-dnsutils), GNU time (Debian: time). Only loopback is used. Usage: bench/srv/run.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
work=$(mktemp -d)
named_pid=""
cleanup() {
	if [[ -n "$named_pid" ]]; then kill "$named_pid" 2>/dev/null || true; wait "$named_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

for t in go named named-checkzone dig /usr/bin/time; do
	command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "missing $t (apt-get install -y bind9 bind9-utils bind9-dnsutils time)"; exit 1; }
done
export PATH=$PATH:/usr/sbin
go build -o "$work/redund" ./cmd/redund

# mkconfig ZONES [PUSH_TABLE]: an [srv] table with ZONES zones over 10 targets.
mkconfig() {
	awk -v zones="$1" 'BEGIN {
		print "[srv]\ndomain = \"sip.bench.test\"\ntransports = [\"udp\", \"tcp\"]\nnaptr = " (zones > 1000 ? "true" : "false") "\ntimeout = \"2s\""
		for (t = 1; t <= 10; t++)
			printf "[[srv.targets]]\nname = \"ms%d\"\nhost = \"ms%d.bench.test\"\nudp = 5060\ntcp = 5060\n", t, t
		for (z = 1; z <= zones; z++)
			printf "[[srv.zones]]\nname = \"z%d\"\norder = [\"ms%d\", \"ms%d\", \"ms%d\"]\n", z, z % 10 + 1, (z + 3) % 10 + 1, (z + 7) % 10 + 1
	}'
	printf '%s' "${2:-}"
}

# zonefile FRAGMENT OUT: wrap a zone fragment into a full zone for bench.test.
zonefile() {
	{
		printf '$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n'
		for t in $(seq 1 10); do printf 'ms%d IN A 127.0.0.1\n' "$t"; done
		cat "$1"
	} >"$2"
}

# best_of N CMD...: run CMD N times; print the fastest and median wall time
# and the median CPU time (user+sys) in seconds. On a shared machine the
# CPU time is the steadier figure.
best_of() {
	local n=$1; shift
	local f=$work/times
	: >"$f"
	for ((i = 0; i < n; i++)); do
		/usr/bin/time -f "%e %U %S" -a -o "$f" "$@" >/dev/null 2>"$work/err" || { echo "command failed: $*" >&2; cat "$work/err" >&2; exit 1; }
	done
	local wall cpu
	wall=$(cut -d' ' -f1 "$f" | sort -n | awk '{a[NR]=$1} END {printf "wall best %.3f s, median %.3f s", a[1], a[int((NR+1)/2)]}')
	cpu=$(awk '{print $2+$3}' "$f" | sort -n | awk '{a[NR]=$1} END {printf "cpu median %.3f s", a[int((NR+1)/2)]}')
	echo "$wall; $cpu"
}

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  nproc: $(nproc)  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "go: $(go version | cut -d' ' -f3)  named: $(named -v)"

echo
echo "== gen: 5,000 zones x 2 transports = 10,000 combinations"
mkconfig 5000 >"$work/gen.toml"
"$work/redund" -c "$work/gen.toml" srv gen --out "$work/gen.inc"
zonefile "$work/gen.inc" "$work/gen.zone"
echo "output: $(grep -c ' IN ' "$work/gen.inc") records, $(wc -c <"$work/gen.inc") bytes"
echo "redund srv gen --format zone:  $(best_of "$runs" "$work/redund" -c "$work/gen.toml" srv gen --format zone --out "$work/gen2.inc")"
echo "redund srv gen --check:        $(best_of "$runs" "$work/redund" -c "$work/gen.toml" srv gen --format zone --out "$work/gen.inc" --check)"
echo "named-checkzone (same output): $(best_of "$runs" named-checkzone bench.test "$work/gen.zone")"

echo
echo "== check: 500 zones x 2 transports = 1,000 SRV names against local named"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 53535)
secret=$(head -c 32 /dev/urandom | base64)
mkdir -p "$work/named"
zonefile /dev/null "$work/named/db.zone"
cat >"$work/named/named.conf" <<EOF
options { directory "$work/named"; pid-file "$work/named/named.pid"; session-keyfile "$work/named/s.key";
  listen-on port $port { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; notify no; };
controls { };
key "ddns-key." { algorithm hmac-sha256; secret "$secret"; };
zone "bench.test" { type primary; file "db.zone"; allow-update { key "ddns-key."; }; };
EOF
named -g -c "$work/named/named.conf" >"$work/named/log" 2>&1 &
named_pid=$!
for _ in $(seq 1 100); do
	dig +short +norecurse +time=1 +tries=1 -p "$port" @127.0.0.1 bench.test SOA | grep -q . && break
	sleep 0.1
done
push=$(printf '[srv.push]\nserver = "127.0.0.1:%s"\nzone = "bench.test"\n[srv.push.tsig]\nname = "ddns-key."\nsecret = "%s"\n' "$port" "$secret")
mkconfig 500 "$push" >"$work/check.toml"
"$work/redund" -c "$work/check.toml" srv push | tail -1
"$work/redund" -c "$work/check.toml" srv check --no-probe | sed -n 1p
"$work/redund" -c "$work/check.toml" srv gen --out "$work/check.inc"
zonefile "$work/check.inc" "$work/check.zone"
grep -o '^_sip[^ ]*' "$work/check.inc" | sort -u | awk -v p="$port" '{print "-p " p " @127.0.0.1 +norecurse +short " $1 " SRV"}' >"$work/names.dig"
echo "names: $(wc -l <"$work/names.dig")"
echo "redund srv check --no-probe:     $(best_of "$runs" "$work/redund" -c "$work/check.toml" srv check --no-probe)"
echo "dig -f (same 1,000 names, serial): $(best_of "$runs" dig -f "$work/names.dig")"
echo "named-checkzone (same records):  $(best_of "$runs" named-checkzone bench.test "$work/check.zone")"
