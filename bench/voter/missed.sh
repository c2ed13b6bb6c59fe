#!/usr/bin/env bash
# Who misses the primary's 20 ms cycles at N (400) clients: the simulator
# or the server? Reruns step 3 of run.sh (a primary voting N clients plus a
# master timing source) and prints, side by side, the server's `missed`
# (gaps > 30 ms between cycle starts; each master packet starts a cycle)
# and the simulator's own `SendGaps` for the master (gaps > 30 ms between
# two master packets as the sending process wrote them, clock read after
# the send). Bounded: RUNS x DUR seconds on 127.0.0.1 only.
#
#   one:   step 3 as in run.sh, the master sent by the process of the N clients
#   split: the master (and client cN) from a second `redund voter client`
#   shared: as one, with --shared-socket (one socket, sendmmsg; the server
#           with sanity = false): far fewer system calls in the simulator
#
# Each line also gives the CPU time and run-queue wait (time runnable but
# not running) of each process, from /proc/PID/task/*/schedstat, 2 s before
# the end (the server: its CPU per packet received and packets per recvmmsg
# from 2 s in to then, counters from its status), and the
# share of the run in which some task waited for a CPU (/proc/pressure/cpu).
#
# The server's figure is also read from its metric
# redund_voter_cycle_missed_total (column metric_missed). Of its missed
# cycles, arrival_late counts those whose master packet itself reached the
# server's socket more than 30 ms after the one before (the kernel's receive
# time stamp): the simulator (or loopback) was late, not the server;
# missed - arrival_late arrived in time and were started late by the server.
# wait_p99/wait_max: from a master packet's arrival to its cycle's start.
#
# Usage: bench/voter/missed.sh            (env: DUR=20 MODES="one split shared" N=400)
#        BURN=1 bench/voter/missed.sh     (adds one busy loop, nice 0, for the run:
#        the machine loaded on purpose)
#        SIM=<another redund binary> bench/voter/missed.sh   (its `voter client`
#        as the simulator, the server from REDUND)
#        PRIO="chrt -f 10" bench/voter/missed.sh   (server and simulators run
#        under that prefix: real-time priority, so that neither waits for a CPU)
# Needs: go, curl, jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
DUR=${DUR:-20}
N=${N:-400}
BURN=${BURN:-0}
MODES=${MODES:-"one split shared"}
PRIO=${PRIO:-}
LISTEN=127.0.0.1:24101
ADMIN=127.0.0.1:24109
REDUND=${REDUND:-$W/redund}
[ -x "$REDUND" ] || go build -o "$REDUND" ./cmd/redund
SIM=${SIM:-$REDUND} # the simulator's binary (an A/B of two simulators against one server)

{
	printf '[admin]\nvoter = "%s"\n\n[voter.pri]\nlisten = "%s"\npassword = "hostpw"\n' "$ADMIN" "$LISTEN"
	for i in $(seq 1 "$N"); do printf '[voter.pri.clients.c%d]\npassword = "c%d"\n' "$i" "$i"; done
	printf '[voter.pri.clients.gps]\npassword = "gps-master"\nmaster = true\n'
} >"$W/pri.toml"
# shared: every client from one socket, which chan_voter's same-address check
# would disconnect; only the first client of a shared socket reads, so the
# others start with digests for a fixed server challenge (as in run.sh)
sed 's/^password = "hostpw"$/&\nsanity = false\nchallenge = "12345678"/' "$W/pri.toml" >"$W/pri-shared.toml"

client() { # extra args... (exec: $! is then the simulator's own PID)
	exec $PRIO "$SIM" voter client --server "$LISTEN" --password 'c%d' --host-password hostpw \
		--rssi 10,200,90 --tone 700 --duration "${DUR}s" --json "$@"
}

sched() { # pid -> "cpu_ms/runqueue_wait_ms" summed over its threads (/proc/PID/task/*/schedstat)
	{ cat /proc/"$1"/task/*/schedstat 2>/dev/null || true; } | awk '{c += $1; w += $2} END {printf "%d/%d", c / 1e6, w / 1e6}'
}

rx() { # the server's "received/read_batches" so far
	curl -sf "http://$ADMIN/v1/status" | jq -r '.instances[0].details.counters | "\(.received)/\(.read_batches)"' || echo 0/0
}

psi() { awk '/^some/ {sub("total=", "", $5); print $5}' /proc/pressure/cpu 2>/dev/null || echo 0; }

gaps() { # json file -> "master_gaps master_max_ms clients_max_ms"
	jq -r '([.[] | select(.Name == "master")][0] // {SendGaps: "-", MaxSendGapMS: "-"}) as $m
		| "\($m.SendGaps) \($m.MaxSendGapMS) \([.[] | select(.Name != "master") | .MaxSendGapMS] | max)"' "$1"
}

echo "# $(date -u +%FT%TZ) nproc=$(nproc) N=$N burn=$BURN prio=${PRIO:-none} cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# mode loadavg_before metric_missed server_missed arrival_late cycles p99_ms max_ms wait_p99_ms wait_max_ms overruns late | sim_master_gaps master_max_gap_ms client_max_gap_ms [second process: master_gaps master_max_ms] | cpu_ms/runqueue_wait_ms of server, simulator(s) | server CPU µs per packet received and packets per recvmmsg (from 2 s in to 2 s before the end), simulator CPU µs per packet due (from its start) | % of the run some task waited for a CPU (PSI)"
for mode in $MODES; do
	load=$(cut -d' ' -f1 /proc/loadavg)
	BURNER=
	if [ "$BURN" = 1 ]; then
		(while :; do :; done) &
		BURNER=$!
	fi
	psi0=$(psi)
	cfg=$W/pri.toml
	[ "$mode" = shared ] && cfg=$W/pri-shared.toml
	$PRIO "$REDUND" -c "$cfg" --log-level warn voter serve &
	PRI=$!
	for _ in $(seq 100); do curl -sf "http://$ADMIN/v1/status" >/dev/null 2>&1 && break; sleep 0.1; done
	case $mode in
	one)
		client --count "$N" --master-password gps-master >"$W/a.json" &
		A=$!
		B=
		;;
	shared)
		client --count "$N" --master-password gps-master --shared-socket --server-challenge 12345678 >"$W/a.json" &
		A=$!
		B=
		;;
	split)
		client --count "$((N - 1))" >"$W/a.json" &
		A=$!
		# one client (password c%d with --count 1 is taken literally: use cN) plus the master
		$PRIO "$SIM" voter client --server "$LISTEN" --password "c$N" --host-password hostpw --count 1 \
			--master-password gps-master --rssi 10,200,90 --tone 700 --duration "${DUR}s" --json >"$W/b.json" &
		B=$!
		;;
	esac
	# the server's CPU time and packets from 2 s in (clients connected) to 2 s before the end
	sleep 2
	c0=$(sched "$PRI") r0=$(rx)
	sleep "$((DUR - 4))"
	c1=$(sched "$PRI") r1=$(rx)
	sa=$(sched "$A")
	cpu="srv $c1 sim $sa"
	# the simulator's CPU (from its start) per packet due (N clients + master, 50/s each)
	simper=$(echo "$sa" | awk -v n="$N" -v d="$DUR" '{split($1, a, "/"); printf "%.2f", a[1] * 1000 / ((d - 2) * (n + 1) * 50)}')
	per=$(echo "$c0 $r0 $c1 $r1" | awk '{split($1, a, "/"); split($3, b, "/"); split($2, p, "/"); split($4, q, "/");
		n = q[1] - p[1]; k = q[2] - p[2]; printf "%.2f %.1f", n ? (b[1] - a[1]) * 1000 / n : 0, k ? n / k : 0}')
	[ -n "$B" ] && cpu="$cpu master $(sched "$B")"
	wait "$A" || true
	[ -n "$B" ] && { wait "$B" || true; }
	# after the senders stop: the cycles (one per master packet) of the whole run
	metric=$(curl -sf "http://$ADMIN/metrics" | awk '/^redund_voter_cycle_missed_total/ {print $2}')
	srv=$(curl -sf "http://$ADMIN/v1/status" | jq -r '.instances[0].details | "\(.cycle.missed) \(.cycle.missed_arrival) \(.cycle.cycles) \(.cycle.p99_ms) \(.cycle.max_ms) \(.cycle.wait_p99_ms) \(.cycle.wait_max_ms) \(.cycle.overruns) \(.counters.late)"')
	kill "$PRI" && wait "$PRI" 2>/dev/null || true
	[ -n "$BURNER" ] && { kill "$BURNER"; wait "$BURNER" 2>/dev/null || true; }
	line="$mode $load ${metric:--} $srv | $(gaps "$W/a.json")"
	[ -n "$B" ] && line="$line [$(gaps "$W/b.json" | cut -d' ' -f1,2)]"
	echo "$line | $cpu | srv_us_per_packet, packets_per_read $per sim_us_per_packet $simper | cpu_stall_pct $(awk -v a="$psi0" -v b="$(psi)" -v d="$DUR" 'BEGIN{printf "%.1f", (b - a) / (d * 1e4)}')"
done
