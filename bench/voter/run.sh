#!/usr/bin/env bash
# Voter benchmark (see RESULTS.md). Bounded: every process runs for a fixed
# time on 127.0.0.1 only.
#
#  1. relay throughput: the load (`redund voter client`, 185-byte µ-law
#     packets, stamped) goes through socat, a bare batched Go relay, or a
#     redund secondary (proxy path: auth lookup, digest, encapsulation) to a
#     sink that plays the primary; the highest rate with < 0.1% loss counts.
#  2. latency at 20,000 packets/s (400 clients x 50/s) through each, minus
#     the direct generator -> sink latency.
#  3. a primary voting 400 clients: cycle-time p50/p99 from its status.
#  4. codec: go test -bench -benchmem.
#  5. cost: CPU time (utime+stime from /proc) of each relay per packet at a
#     fixed 20,000 packets/s for CPU_DUR s, in PAIRS rounds of bare, redund,
#     socat back to back (ratios per round, as the machine's load varies).
#
# Usage: bench/voter/run.sh            (env: DUR=5 RATES="..." N=1000)
#        bench/voter/run.sh cpu        (step 5 only; env: CPU_DUR=10 PAIRS=3;
#                                       REDUND_B=<another redund binary> adds
#                                       it as target redundB to each round: an
#                                       A/B of two builds in the same rounds)
# Needs: socat (Debian package), go, curl, jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
DUR=${DUR:-5}
N=${N:-1000}
RATES=${RATES:-"40000 60000 80000 100000 120000 140000"}
SINK=127.0.0.1:24000
RELAY=127.0.0.1:24001
ADMIN=127.0.0.1:24009
RCVBUF=4194304

REDUND=${REDUND:-$W/redund}
[ -x "$REDUND" ] || go build -o "$REDUND" ./cmd/redund
go build -o "$W/benchtool" ./bench/voter/benchtool
command -v socat >/dev/null || { echo "socat missing: apt-get install -y socat" >&2; exit 2; }

# secondary_config N: a secondary with clients c1..cN and a fixed challenge.
secondary_config() {
	{
		printf '[admin]\nvoter = "%s"\n\n' "$ADMIN"
		# sanity = false: the load generator sends every client from one shared
		# socket, which chan_voter's same-address check would disconnect.
		printf '[voter.sec]\nlisten = "%s"\npassword = "hostpw"\nchallenge = "12345678"\nsanity = false\n' "$RELAY"
		printf 'primary = "%s,linkpw"\n' "$SINK"
		for i in $(seq 1 "$1"); do printf '[voter.sec.clients.c%d]\npassword = "c%d"\n' "$i" "$i"; done
		printf '\n[voter.timing]\nlisten = "%s"\npassword = "hostpw"\n' "$RELAY"
		printf '[voter.timing.clients.gps]\npassword = "gps-master"\nmaster = true\n'
	} >"$W/sec.toml"
}

start_relay() { # target
	case $1 in
	direct) ;;
	socat) socat -u "UDP4-LISTEN:${RELAY#*:},bind=127.0.0.1,reuseaddr,rcvbuf=$RCVBUF" "UDP4:$SINK" & ;;
	bare) "$W/benchtool" relay -listen "$RELAY" -to "$SINK" -rcvbuf $RCVBUF & ;;
	redund | redundB)
		local bin=$REDUND
		[ "$1" = redundB ] && bin=$REDUND_B
		"$bin" -c "$W/sec.toml" --log-level warn voter serve &
		for _ in $(seq 100); do
			curl -sf "http://$ADMIN/v1/status" 2>/dev/null | jq -e '.instances[] | select(.instance=="sec") | .peer.connected' >/dev/null && return 0
			sleep 0.1
		done
		echo "secondary link did not come up" >&2
		return 1
		;;
	esac
	RELAY_PID=$!
	sleep 0.3
}

# run_one target clients interval -> prints "sent received p50 p99"
run_one() {
	local target=$1 n=$2 interval=$3 dest=$RELAY
	[ "$target" = direct ] && dest=$SINK
	"$W/benchtool" sink -listen "$SINK" -host-password hostpw -rcvbuf $RCVBUF -duration $((DUR + 3))s >"$W/sink.json" &
	local sink=$!
	sleep 0.2
	RELAY_PID=
	start_relay "$target"
	[ "$target" = redund ] && RELAY_PID=$(jobs -p | tail -1)
	"$REDUND" voter client --server "$dest" --count "$n" --password 'c%d' --host-password hostpw \
		--interval "$interval" --stamp --server-challenge 12345678 --shared-socket \
		--duration "${DUR}s" --json >"$W/gen.json"
	sleep 0.5
	[ -n "${RELAY_PID:-}" ] && kill "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null || true
	kill -INT "$sink" 2>/dev/null || true
	wait "$sink" 2>/dev/null || true
	local sent
	sent=$(jq '[.[].Sent] | add' "$W/gen.json")
	jq -r --arg sent "$sent" '"\($sent) \(.received) \(.p50_us) \(.p99_us)"' "$W/sink.json"
}

# cpu_ticks pid: utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_cpu target: 400 clients x 50/s through target for CPU_DUR s; prints
# "sent received cpu_us_per_packet p50_us p99_us". The relay's CPU is read
# just before the load starts and after it ends (startup not counted).
run_cpu() {
	local target=$1 dur=${CPU_DUR:-10} hz
	hz=$(getconf CLK_TCK)
	"$W/benchtool" sink -listen "$SINK" -host-password hostpw -rcvbuf $RCVBUF -duration $((dur + 3))s >"$W/sink.json" &
	local sink=$!
	sleep 0.2
	RELAY_PID=
	start_relay "$target"
	case $target in redund | redundB) RELAY_PID=$(jobs -p | tail -1) ;; esac
	local t0 t1
	t0=$(cpu_ticks "$RELAY_PID")
	"$REDUND" voter client --server "$RELAY" --count 400 --password 'c%d' --host-password hostpw \
		--interval 20ms --stamp --server-challenge 12345678 --shared-socket \
		--duration "${dur}s" --json >"$W/gen.json"
	sleep 0.5
	t1=$(cpu_ticks "$RELAY_PID")
	kill "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null || true
	kill -INT "$sink" 2>/dev/null || true
	wait "$sink" 2>/dev/null || true
	local sent
	sent=$(jq '[.[].Sent] | add' "$W/gen.json")
	jq -r --arg sent "$sent" --arg t "$((t1 - t0))" --arg hz "$hz" \
		'"\($sent) \(.received) \(($t | tonumber) / ($hz | tonumber) * 1e6 / .received * 100 | round / 100) \(.p50_us) \(.p99_us)"' "$W/sink.json"
}

cpu_section() {
	echo "## cpu per packet at 20000/s for ${CPU_DUR:-10} s: round target sent received cpu_us_per_packet p50_us p99_us load1"
	secondary_config 400
	for round in $(seq 1 "${PAIRS:-3}"); do
		for target in bare redund ${REDUND_B:+redundB} socat; do
			echo "$round $target $(run_cpu "$target") $(cut -d' ' -f1 /proc/loadavg)"
		done
	done
}

echo "# $(date -u +%FT%TZ) nproc=$(nproc) cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ "${1:-}" = cpu ]; then
	echo "# socat: $(socat -V 2>/dev/null | grep -m1 'socat version')"
	cpu_section
	exit 0
fi
echo "# socat: $(socat -V 2>/dev/null | grep -m1 'socat version')"
secondary_config "$N"

echo "## throughput: target nominal_rate achieved_rate sent received loss%"
declare -A BEST
for rate in $RATES; do
	for target in direct socat bare redund; do # interleaved, so that all see the same machine load
		interval=$(awk -v n="$N" -v r="$rate" 'BEGIN{printf "%dus", n*1e6/r}')
		read -r sent recv _ _ < <(run_one "$target" "$N" "$interval")
		loss=$(awk -v s="$sent" -v r="$recv" 'BEGIN{printf "%.3f", (s-r)*100/s}')
		achieved=$(awk -v s="$sent" -v d="$DUR" 'BEGIN{printf "%d", s/d}')
		echo "$target $rate $achieved $sent $recv $loss"
		if awk -v l="$loss" -v a="$achieved" -v b="${BEST[$target]:-0}" 'BEGIN{exit !(l < 0.1 && a > b)}'; then
			BEST[$target]=$achieved
		fi
	done
done
for target in direct socat bare redund; do echo "MAX $target ${BEST[$target]:-0}"; done

echo "## latency at 20000/s (400 clients x 50/s): target sent received p50_us p99_us"
secondary_config 400
for target in direct socat bare redund; do
	echo "$target $(run_one "$target" 400 20ms)"
done

echo "## primary voting 400 clients"
{
	printf '[admin]\nvoter = "%s"\n\n[voter.pri]\nlisten = "%s"\npassword = "hostpw"\nisprimary = true\n' "$ADMIN" "$RELAY"
	for i in $(seq 1 400); do printf '[voter.pri.clients.c%d]\npassword = "c%d"\n' "$i" "$i"; done
	printf '[voter.pri.clients.gps]\npassword = "gps-master"\nmaster = true\n'
} >"$W/pri.toml"
sed -i 's/^isprimary = true$//' "$W/pri.toml" # a master cannot sit on a redundant instance
"$REDUND" -c "$W/pri.toml" --log-level warn voter serve &
PRI=$!
sleep 0.5
"$REDUND" voter client --server "$RELAY" --count 400 --password 'c%d' --host-password hostpw \
	--master-password gps-master --rssi 10,200,90 --tone 700 --duration "$((DUR * 4))s" --json >"$W/pri-gen.json" &
GEN=$!
sleep "$((DUR * 4 - 1))"
curl -sf "http://$ADMIN/v1/status" | jq -c '.instances[0].details | {cycle, connected: ([.clients[] | select(.connected)] | length), late: .counters.late}'
wait $GEN || true
kill $PRI && wait $PRI 2>/dev/null || true

cpu_section

echo "## codec"
go test -run '^$' -bench . -benchmem ./voter/ | grep -E '^Benchmark'
