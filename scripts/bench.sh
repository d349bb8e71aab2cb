#!/usr/bin/env bash
# scripts/bench.sh: the figures behind `make bench`.
#
# Starts a throwaway nats-server (JetStream, file storage, loopback only),
# measures the raw JetStream ceiling with `nats bench` (the baseline), then
# runs the real ingester against the same server and drives signed
# webhooks at it with scripts/loadgen. Prints a table for people and, last,
# one line per figure:
#
#     name: value unit (ratio R to baseline)
#
# Exit status: 0 when the bench ran (a missed target is only marked FAIL),
# non-zero when the bench itself broke.
#
# Sections are functions named section_<name>; each records its figures
# with add_figure and may publish baselines in BASELINE[...] for later
# sections. Add a section by writing the function and listing it in
# BENCH_SECTIONS' default below.
#
# Tunables (environment):
#   BENCH_SECTIONS           sections to run, in order
#                            (baseline ingester normalizer worker scim native leavers adaptive reconcile pipeline)
#   BENCH_ROUNDS             repeats of each saturating run; the median
#                            run is reported              (3)
#   BENCH_CONCURRENCY        clients / HTTP concurrency   (16)
#   BENCH_BASELINE_MSGS      messages per nats bench run  (100000)
#   BENCH_CLOSED_DURATION    closed-loop round length     (5s)
#   BENCH_CLOSED_MAX         closed-loop request cap      (100000)
#   BENCH_OPEN_RATE          open-loop rate, req/s        (1000)
#   BENCH_OPEN_DURATION      open-loop run length         (10s)
#   BENCH_INGESTER_LOG_LEVEL ingester log level           (info, as deployed)
#   BENCH_NORMALIZER_EMPLOYEES  deliveries per normalizer round (5000)
#   BENCH_NORMALIZER_CONCURRENCY normalizer concurrency      (16)
#                            (BENCH_NORMALIZER_EMPLOYEES is also the message
#                            count of the nats bench js consume baseline)
#   BENCH_WORKER_EVENTS      hired events per worker round (2000)
#   BENCH_WORKER_CONCURRENCY worker concurrency           (16)
#   BENCH_SCIM_EVENTS        hired events per unlimited SCIM round (2000)
#   BENCH_SCIM_CONCURRENCY   worker concurrency in the SCIM runs   (16)
#   BENCH_SCIM_ROUNDS        unlimited SCIM rounds (median)          (3)
#   BENCH_SCIM_LIMIT_HIRES   hires in the rate-limited SCIM run     (1000)
#   BENCH_SCIM_RATE_SCALE    factor on Slack's documented write rate
#                            (180/min; the burst stays 20) for that
#                            run: 30 makes 5400/min, about 12 s     (30)
#   BENCH_SCIM_LIMIT_CONCURRENCY worker concurrency in that run    (64)
#   BENCH_LEAVER_JOINERS     joiners queued ahead of the terminations (300)
#   BENCH_LEAVER_COUNT       terminations, one a second        (20)
#   BENCH_LEAVER_RATE        the app's pace, writes/min        (600)
#   BENCH_RECONCILE_PEOPLE   people and accounts in the reconcile run (10000)
#   BENCH_PIPELINE_RATE      pipeline webhooks/s, open loop (200)
#   BENCH_PIPELINE_DURATION  pipeline send time            (10s)
#   BENCH_KEEP               1 keeps the temp dir (logs, JSON) for a look
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT

NATS_CLI_VERSION="v0.5.0"
NATS_SERVER_VERSION="v2.15.2"
readonly NATS_CLI_VERSION NATS_SERVER_VERSION

read -r -a SECTIONS <<<"${BENCH_SECTIONS:-baseline ingester normalizer worker scim native leavers adaptive reconcile pipeline}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONCURRENCY="${BENCH_CONCURRENCY:-16}"
BASELINE_MSGS="${BENCH_BASELINE_MSGS:-100000}"
CLOSED_DURATION="${BENCH_CLOSED_DURATION:-5s}"
CLOSED_MAX="${BENCH_CLOSED_MAX:-100000}"
OPEN_RATE="${BENCH_OPEN_RATE:-1000}"
OPEN_DURATION="${BENCH_OPEN_DURATION:-10s}"
INGESTER_LOG_LEVEL="${BENCH_INGESTER_LOG_LEVEL:-info}"
NORMALIZER_EMPLOYEES="${BENCH_NORMALIZER_EMPLOYEES:-5000}"
NORMALIZER_CONCURRENCY="${BENCH_NORMALIZER_CONCURRENCY:-16}"
WORKER_EVENTS="${BENCH_WORKER_EVENTS:-2000}"
WORKER_CONCURRENCY="${BENCH_WORKER_CONCURRENCY:-16}"
SCIM_EVENTS="${BENCH_SCIM_EVENTS:-2000}"
SCIM_CONCURRENCY="${BENCH_SCIM_CONCURRENCY:-16}"
SCIM_ROUNDS="${BENCH_SCIM_ROUNDS:-3}"
SCIM_LIMIT_HIRES="${BENCH_SCIM_LIMIT_HIRES:-1000}"
SCIM_RATE_SCALE="${BENCH_SCIM_RATE_SCALE:-30}"
SCIM_LIMIT_CONCURRENCY="${BENCH_SCIM_LIMIT_CONCURRENCY:-64}"
LEAVER_JOINERS="${BENCH_LEAVER_JOINERS:-300}"
LEAVER_COUNT="${BENCH_LEAVER_COUNT:-20}"
LEAVER_RATE="${BENCH_LEAVER_RATE:-600}"
RECONCILE_PEOPLE="${BENCH_RECONCILE_PEOPLE:-10000}"
PIPELINE_RATE="${BENCH_PIPELINE_RATE:-200}"
PIPELINE_DURATION="${BENCH_PIPELINE_DURATION:-10s}"

GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$GOBIN_DIR:$PATH"

WORK=""                 # temp dir: binaries, store, logs, results
PIDS=()                 # every background process this script started
NATS_URL=""             # the bench server
declare -A BASELINE=()  # shared baselines: key -> value
declare -A BASELINE_DESC=()
FIGURES=()              # name|value|unit|baseline key|target
NOTES=()                # lines printed above the table

# ---------------------------------------------------------------- helpers

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

die() {
	log "ERROR: $*"
	exit 1
}

# show_log FILE: the tail of a log, to explain a failure.
show_log() {
	if [[ -s $1 ]]; then
		log "--- last lines of $1"
		tail -n 20 "$1" >&2
	fi
}

cleanup() {
	local rc=$? i pid
	trap - EXIT INT TERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in {1..50}; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $WORK && -d $WORK ]]; then
		if [[ ${BENCH_KEEP:-0} == 1 ]]; then
			log "kept $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}

# run_tracked CMD...: runs CMD as a tracked background child and waits
# for it, so a signal reaches cleanup at once instead of after CMD ends.
run_tracked() {
	local pid rc=0
	"$@" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid" || rc=$?
	unset 'PIDS[-1]'
	return "$rc"
}

# go_install_tool BIN MODULE@VERSION WANT: installs into GOPATH/bin unless
# BIN --version already prints WANT. go install can take minutes the first
# time, so a heartbeat line shows it is alive.
go_install_tool() {
	local bin=$1 pkg=$2 want=$3 have="" pid waited=0
	if command -v "$bin" >/dev/null 2>&1; then
		have="$("$bin" --version 2>&1 || true)"
	fi
	if [[ $have == *"$want"* ]]; then
		log "$bin $want present"
		return
	fi
	log "installing $pkg into $GOBIN_DIR (the first time can take a few minutes)"
	# Outside the repo and its go.work, so the tool's own go.mod decides.
	(cd "$WORK" && GOWORK=off GOFLAGS=-buildvcs=false go install "$pkg") >"$WORK/install-$bin.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		waited=$((waited + 5))
		if ((waited % 20 == 0)); then
			log "  still installing $bin (${waited}s)"
		fi
	done
	local rc=0
	wait "$pid" || rc=$?
	unset 'PIDS[-1]'
	if ((rc != 0)); then
		show_log "$WORK/install-$bin.log"
		die "go install $pkg failed"
	fi
	log "installed $("$bin" --version 2>&1)"
}

# jget KEY FILE: a top-level number or string from loadgen's flat JSON.
jget() {
	local v
	v="$(sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$2" | head -n 1)"
	[[ -n $v ]] || die "no \"$1\" in $2"
	printf '%s\n' "$v"
}

# to_ms NUMBER UNIT: nats bench prints durations as 554.46us, 2,535.40us, 1.2ms, ...
to_ms() {
	awk -v n="${1//,/}" -v u="$2" 'BEGIN {
		f = 1
		if (u == "ns") f = 1e-6; else if (u == "us" || u == "µs") f = 1e-3; else if (u == "s") f = 1000
		printf "%.3f\n", n * f
	}'
}

# median_index VALUES...: the index of the median value (the lower one of
# the middle two for an even count).
median_index() {
	local i
	for ((i = 1; i <= $#; i++)); do
		printf '%s %d\n' "${!i}" "$((i - 1))"
	done | sort -g | sed -n "$((($# + 1) / 2))p" | cut -d' ' -f2
}

# spread VALUES...: "min-max (median M)".
spread() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		printf "%.0f-%.0f (median %.0f)\n", v[1], v[NR], v[int((NR + 1) / 2)]
	}'
}

# cpu_busy_pct SECONDS: how busy the whole machine is while we do nothing.
cpu_busy_pct() {
	local -a before after
	read -r -a before < <(grep -m1 '^cpu ' /proc/stat)
	sleep "$1"
	read -r -a after < <(grep -m1 '^cpu ' /proc/stat)
	awk -v a="${before[*]:1}" -v b="${after[*]:1}" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i++) { d = y[i] - x[i]; total += d; if (i == 4 || i == 5) idle += d }
		printf "%.0f\n", total ? 100 * (total - idle) / total : 0
	}'
}

# proc_ticks PID: CPU ticks used by PID and its reaped children.
proc_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || echo 0
}

# machine_ticks: CPU ticks the whole machine spent in processes (user,
# nice, system). Interrupt time is left out: much of it is this bench's
# own loopback traffic, and Linux charges it to no process.
machine_ticks() {
	awk '/^cpu / { print $2 + $3 + $4; exit }' /proc/stat
}

# our_ticks: CPU ticks of this script, its reaped children and the live
# processes it started.
our_ticks() {
	local pid n
	n="$(proc_ticks $$)"
	for pid in "${PIDS[@]}"; do
		n=$((n + $(proc_ticks "$pid")))
	done
	echo "$n"
}

# steal_ticks: time the hypervisor gave our virtual CPUs to someone else.
steal_ticks() {
	awk '/^cpu / { print $9; exit }' /proc/stat
}

# foreign_cpu_start / foreign_cpu_note: how much CPU processes other than
# this bench (and the hypervisor) took while it ran, so a noisy run says so
# next to its figures.
foreign_cpu_start() {
	FOREIGN_T0="$(machine_ticks)"
	FOREIGN_ST0="$(steal_ticks)"
	FOREIGN_S0="$(our_ticks)"
	FOREIGN_W0=$SECONDS
}

foreign_cpu_note() {
	local t1 ours hz pct secs=$((SECONDS - FOREIGN_W0))
	((secs > 0)) || return 0
	t1="$(machine_ticks)"
	ours=$(($(our_ticks) - FOREIGN_S0))
	hz="$(getconf CLK_TCK)"
	pct="$(awk -v t="$((t1 - FOREIGN_T0 - ours))" -v d="$((secs * hz * $(nproc)))" 'BEGIN { p = 100 * t / d; printf "%.0f\n", p < 0 ? 0 : p }')"
	log "other processes used about ${pct}% of the machine's CPU during the bench"
	if ((pct > 10)); then
		NOTES+=("other processes used about ${pct}% of the machine's CPU during the bench; figures are noisy")
	fi
	pct="$(awk -v t="$(($(steal_ticks) - FOREIGN_ST0))" -v d="$((secs * hz * $(nproc)))" 'BEGIN { printf "%.0f\n", 100 * t / d }')"
	log "hypervisor steal during the bench: about ${pct}% of the machine's CPU"
	if ((pct > 5)); then
		NOTES+=("the hypervisor stole about ${pct}% of the machine's CPU during the bench; figures are noisy")
	fi
}

# add_figure NAME VALUE UNIT BASELINE_KEY TARGET
#   BASELINE_KEY: a key of BASELINE, or "" for none.
#   TARGET: "" (none), "<=N", ">=N", "==N" on the value, or "ratio>=N" etc.
add_figure() {
	FIGURES+=("$1|$2|$3|$4|$5")
}

# fmt_value VALUE UNIT
fmt_value() {
	case $2 in
	ms | s | x) printf '%.2f' "$1" ;;
	fraction | writes/hire) printf '%.3f' "$1" ;;
	MiB) printf '%.1f' "$1" ;;
	*) printf '%.0f' "$1" ;;
	esac
}

# ratio VALUE BASELINE_KEY -> "0.41" or "n/a"
ratio() {
	local b=""
	[[ -n $2 ]] && b="${BASELINE[$2]:-}"
	if [[ -z $b ]]; then
		echo "n/a"
		return
	fi
	awk -v v="$1" -v b="$b" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", v / b }'
}

# verdict VALUE RATIO TARGET -> PASS, FAIL or -
verdict() {
	local t=$3
	if [[ -z $t ]]; then
		echo "-"
		return
	fi
	awk -v v="$1" -v r="$2" -v t="$t" 'BEGIN {
		lhs = v
		if (t ~ /^ratio/) {
			if (r == "n/a") { print "FAIL"; exit }
			lhs = r
			sub(/^ratio/, "", t)
		}
		op = t; sub(/[0-9.]+$/, "", op)
		n = t; sub(/^[<>=]+/, "", n)
		ok = (op == ">=" && lhs + 0 >= n + 0) || (op == "<=" && lhs + 0 <= n + 0) || (op == "==" && lhs + 0 == n + 0)
		print (ok ? "PASS" : "FAIL")
	}'
}

report() {
	local row name value unit bkey target r shown base
	local -a lines=()
	if ((${#FIGURES[@]} == 0)); then
		printf '\nno figures (sections run: %s)\n' "${SECTIONS[*]}"
		return
	fi
	if ((${#NOTES[@]} > 0)); then
		printf '\n'
		printf 'note: %s\n' "${NOTES[@]}"
	fi
	printf '\n%-28s %14s  %-38s %7s  %-12s %s\n' "figure" "value" "baseline" "ratio" "target" "result"
	printf '%s\n' "---------------------------- --------------  -------------------------------------- -------  ------------ ------"
	for row in "${FIGURES[@]}"; do
		IFS='|' read -r name value unit bkey target <<<"$row"
		r="$(ratio "$value" "$bkey")"
		shown="$(fmt_value "$value" "$unit") $unit"
		base="-"
		if [[ -n $bkey && -n ${BASELINE[$bkey]:-} ]]; then
			base="$(fmt_value "${BASELINE[$bkey]}" "$unit") $unit ${BASELINE_DESC[$bkey]}"
		fi
		printf '%-28s %14s  %-38s %7s  %-12s %s\n' "$name" "$shown" "$base" "$r" "${target:--}" "$(verdict "$value" "$r" "$target")"
		lines+=("$name: $shown (ratio $r to baseline)")
	done
	printf '\n'
	printf '%s\n' "${lines[@]}"
}

# ---------------------------------------------------------------- setup

setup() {
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/keycard-bench.XXXXXX")"
	((ROUNDS >= 1)) || die "BENCH_ROUNDS must be at least 1"
	go_install_tool nats "github.com/nats-io/natscli/nats@$NATS_CLI_VERSION" "$NATS_CLI_VERSION"
	go_install_tool nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" "$NATS_SERVER_VERSION"

	log "building ingester and loadgen"
	(cd "$ROOT" && go build -o "$WORK/ingester" ./services/ingester)
	(cd "$ROOT/scripts" && go build -o "$WORK/loadgen" ./loadgen)

	# Figures from a busy machine are noisy: say so next to them.
	local busy
	busy="$(cpu_busy_pct 1)"
	log "machine CPU busy before the bench: ${busy}% of $(nproc) cores"
	if ((busy > 15)); then
		log "warning: the machine is not idle; expect noisy figures"
		NOTES+=("the machine was ${busy}% busy before the bench started (other processes); figures are noisy")
	fi

	local -a ports
	mapfile -t ports < <("$WORK/loadgen" ports 3)
	((${#ports[@]} == 3)) || die "could not find free ports"
	NATS_PORT=${ports[0]}
	HTTP_PORT=${ports[1]}
	METRICS_PORT=${ports[2]}
	NATS_URL="nats://127.0.0.1:$NATS_PORT"

	log "starting nats-server $NATS_SERVER_VERSION on $NATS_URL (store $WORK/store)"
	nats-server -js -sd "$WORK/store" -a 127.0.0.1 -p "$NATS_PORT" >"$WORK/nats-server.log" 2>&1 &
	PIDS+=("$!")
	local i
	for i in {1..100}; do
		if nats_cli account info >/dev/null 2>&1; then
			log "nats-server ready"
			return
		fi
		kill -0 "${PIDS[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	show_log "$WORK/nats-server.log"
	die "nats-server did not become ready"
}

# nats_cli ARGS...: the CLI against the bench server, ignoring any saved context.
nats_cli() {
	nats --no-context --server "$NATS_URL" "$@"
}

# ---------------------------------------------------------------- sections

# baseline: the raw JetStream ceiling for the ingester's job, a persisted
# publish with a dedup id per message, at the same client concurrency.
# ROUNDS runs; the median run (by msgs/s) gives every baseline figure.
section_baseline() {
	local stream=benchstream r out line v u best
	local -a rates=()
	log "baseline: nats bench js pub sync, $CONCURRENCY clients, 256B, $BASELINE_MSGS msgs, --dedup, $ROUNDS run(s)"
	for ((r = 1; r <= ROUNDS; r++)); do
		out="$WORK/baseline-$r.txt"
		# Each run gets a new stream: a leftover one would be appended to
		# (and its consumer, were there one, could hang a later run).
		nats_cli stream rm "$stream" -f >/dev/null 2>&1 || true
		if ! run_tracked timeout 120 nats --no-context --server "$NATS_URL" bench js pub sync bench.ingest \
			--stream "$stream" --create --dedup --clients "$CONCURRENCY" --size 256B \
			--msgs "$BASELINE_MSGS" --no-progress >"$out" 2>&1; then
			show_log "$out"
			die "nats bench failed"
		fi
		nats_cli stream rm "$stream" -f >/dev/null 2>&1 || log "warning: could not delete stream $stream"
		v="$(sed -n 's/.*aggregated stats: \([0-9,.]*\) msgs\/sec.*/\1/p' "$out" | head -n 1)"
		[[ -n $v ]] || {
			show_log "$out"
			die "no aggregated msgs/sec in nats bench output"
		}
		rates+=("${v//,/}")
		log "baseline: run $r: ${v//,/} msgs/s"
	done
	best="$(median_index "${rates[@]}")"
	out="$WORK/baseline-$((best + 1)).txt"
	BASELINE[js_pub_sync_rate]="${rates[best]}"
	BASELINE_DESC[js_pub_sync_rate]="(nats pub sync)"
	NOTES+=("baseline nats pub sync msgs/s over $ROUNDS run(s): $(spread "${rates[@]}")")

	line="$(grep -m1 'latencies per operation' "$out" || true)"
	local key pct re
	for pct in P50 P99 max; do
		key="js_pub_sync_${pct,,}_ms"
		re="(^|[^.0-9A-Za-z])$pct:? ([0-9,.]+)([a-zµ]*s)"
		if [[ $line =~ $re ]]; then
			v="${BASH_REMATCH[2]}"
			u="${BASH_REMATCH[3]}"
			BASELINE[$key]="$(to_ms "$v" "$u")"
			BASELINE_DESC[$key]="(nats pub sync ${pct,,})"
		else
			log "baseline: no $pct latency in nats bench output; ratios against it will be n/a"
		fi
	done
	log "baseline: median ${BASELINE[js_pub_sync_rate]} msgs/s, p50 ${BASELINE[js_pub_sync_p50_ms]:-?} ms, p99 ${BASELINE[js_pub_sync_p99_ms]:-?} ms"
}

# sample_rss PID OUT: keeps the largest VmRSS (kB) seen in OUT until PID exits.
sample_rss() {
	local pid=$1 out=$2 peak=0 k v _
	while [[ -r /proc/$pid/status ]]; do
		while read -r k v _; do
			if [[ $k == VmRSS: ]]; then
				if ((v > peak)); then
					peak=$v
					echo "$peak" >"$out"
				fi
				break
			fi
		done <"/proc/$pid/status" 2>/dev/null || true
		sleep 0.2
	done
}

# proc_kb PID FIELD: a kB field of /proc/PID/status.
proc_kb() {
	awk -v f="$2:" '$1 == f { print $2; exit }' "/proc/$1/status"
}

# loadgen_run NAME ARGS...: one loadgen run, its JSON in $WORK/NAME.json.
loadgen_run() {
	local name=$1
	shift
	if ! run_tracked timeout 120 "$WORK/loadgen" "$@" >"$WORK/$name.json" 2>"$WORK/$name.err"; then
		show_log "$WORK/$name.err"
		show_log "$WORK/ingester.log"
		die "loadgen $name failed"
	fi
	if (($(jget errors "$WORK/$name.json") > 0)); then
		log "$name: $(jget errors "$WORK/$name.json") bad responses; details:"
		sed -n '/"error_classes"/,/^  \]/p' "$WORK/$name.json" >&2
	fi
}

# ingester: the standalone ingester on the same server, fed signed webhooks.
section_ingester() {
	local key pid url rss_file="$WORK/ingester.rss" closed open="$WORK/ingest-open.json" closed_errors=0
	key="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
	log "ingester: starting on 127.0.0.1:$HTTP_PORT (metrics :$METRICS_PORT, log level $INGESTER_LOG_LEVEL)"
	NATS_URL="$NATS_URL" \
		KEYCARD_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
		KEYCARD_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
		BAMBOOHR_WEBHOOK_KEY="$key" \
		KEYCARD_LOG_LEVEL="$INGESTER_LOG_LEVEL" \
		"$WORK/ingester" >"$WORK/ingester.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! "$WORK/loadgen" wait -url "http://127.0.0.1:$METRICS_PORT/readyz" -timeout 30s; then
		show_log "$WORK/ingester.log"
		die "ingester not ready"
	fi
	sample_rss "$pid" "$rss_file" &
	PIDS+=("$!")

	url="http://127.0.0.1:$HTTP_PORT/webhooks/bamboohr"
	local r best
	local -a rates=()
	for ((r = 1; r <= ROUNDS; r++)); do
		log "ingester: closed loop $r/$ROUNDS, concurrency $CONCURRENCY, $CLOSED_DURATION (cap $CLOSED_MAX requests)"
		loadgen_run "ingest-closed-$r" closed -url "$url" -key "$key" -run-id "c$r-$RANDOM" \
			-concurrency "$CONCURRENCY" -duration "$CLOSED_DURATION" -n "$CLOSED_MAX"
		rates+=("$(jget accepted_per_s "$WORK/ingest-closed-$r.json")")
		closed_errors=$((closed_errors + $(jget errors "$WORK/ingest-closed-$r.json")))
		log "ingester: closed loop $r: ${rates[-1]} accepted/s, p99 $(jget p99_ms "$WORK/ingest-closed-$r.json") ms"
	done
	best="$(median_index "${rates[@]}")"
	closed="$WORK/ingest-closed-$((best + 1)).json"
	NOTES+=("ingester accepted/s over $ROUNDS closed-loop round(s): $(spread "${rates[@]}")")

	log "ingester: open loop, $OPEN_RATE req/s for $OPEN_DURATION"
	loadgen_run ingest-open open -url "$url" -key "$key" -run-id "o$RANDOM" \
		-rate "$OPEN_RATE" -duration "$OPEN_DURATION"
	log "ingester: open loop $(jget achieved_rate "$open") req/s, p99 $(jget p99_ms "$open") ms (service time p99 $(jget service_p99_ms "$open") ms)"

	kill -0 "$pid" 2>/dev/null || {
		show_log "$WORK/ingester.log"
		die "ingester died during the run"
	}
	local hwm sampled
	hwm="$(proc_kb "$pid" VmHWM)"
	sampled="$(cat "$rss_file" 2>/dev/null || echo 0)"
	if ((sampled > hwm)); then
		hwm=$sampled
	fi
	log "ingester: VmHWM $hwm kB, largest sampled VmRSS $sampled kB"

	add_figure ingest_accepted_per_s "$(jget accepted_per_s "$closed")" "req/s" js_pub_sync_rate "ratio>=0.25"
	add_figure ingest_closed_p50 "$(jget p50_ms "$closed")" ms js_pub_sync_p50_ms ""
	add_figure ingest_closed_p99 "$(jget p99_ms "$closed")" ms js_pub_sync_p99_ms ""
	add_figure ingest_closed_max "$(jget max_ms "$closed")" ms js_pub_sync_max_ms ""
	add_figure ingest_rate_at_1000rps "$(jget achieved_rate "$open")" "req/s" "" ""
	add_figure ingest_p50_at_1000rps "$(jget p50_ms "$open")" ms js_pub_sync_p50_ms ""
	add_figure ingest_p99_at_1000rps "$(jget p99_ms "$open")" ms js_pub_sync_p99_ms "<=10"
	add_figure ingest_errors "$((closed_errors + $(jget errors "$open")))" count "" "==0"
	add_figure ingest_peak_rss "$(awk -v k="$hwm" 'BEGIN { printf "%.1f\n", k / 1024 }')" MiB "" "<=64"
}

# js_consume_baseline: the raw consume ceiling (nats bench js consume,
# explicit acks, NORMALIZER_EMPLOYEES messages of 256B) in
# BASELINE[js_consume_rate]; measured once per run, later callers reuse it.
js_consume_baseline() {
	local stream=benchconsume out="$WORK/consume.txt" v
	if [[ -n ${BASELINE[js_consume_rate]:-} ]]; then
		return
	fi
	log "baseline: nats bench js consume, $NORMALIZER_EMPLOYEES msgs of 256B, explicit acks"
	nats_cli stream rm "$stream" -f >/dev/null 2>&1 || true
	if ! run_tracked timeout 120 nats --no-context --server "$NATS_URL" bench js pub async bench.consume \
		--stream "$stream" --create --size 256B --msgs "$NORMALIZER_EMPLOYEES" --no-progress >"$WORK/consume-fill.txt" 2>&1; then
		show_log "$WORK/consume-fill.txt"
		die "nats bench (fill) failed"
	fi
	if ! run_tracked timeout 120 nats --no-context --server "$NATS_URL" bench js consume \
		--stream "$stream" --msgs "$NORMALIZER_EMPLOYEES" --acks explicit --no-progress >"$out" 2>&1; then
		show_log "$out"
		die "nats bench js consume failed"
	fi
	nats_cli stream rm "$stream" -f >/dev/null 2>&1 || true
	v="$(sed -n 's/.*stats: \([0-9,.]*\) msgs\/sec.*/\1/p' "$out" | head -n 1)"
	[[ -n $v ]] || {
		show_log "$out"
		die "no msgs/sec in nats bench js consume output"
	}
	BASELINE[js_consume_rate]="${v//,/}"
	BASELINE_DESC[js_consume_rate]="(nats js consume)"
	log "baseline: js consume ${BASELINE[js_consume_rate]} msgs/s"
}

# normalizer: employees/s from a pre-filled HR_INBOX against a fake
# BambooHR that answers at once, next to the raw consume ceiling
# (nats bench js consume, explicit acks) on the same server.
section_normalizer() {
	local r best
	local -a rates=()
	js_consume_baseline

	(cd "$ROOT/scripts" && go build -o "$WORK/benchnorm" ./benchnorm)
	for ((r = 1; r <= ROUNDS; r++)); do
		log "normalizer: round $r/$ROUNDS, $NORMALIZER_EMPLOYEES hire deliveries, concurrency $NORMALIZER_CONCURRENCY"
		if ! run_tracked timeout 300 "$WORK/benchnorm" -nats "$NATS_URL" -employees "$NORMALIZER_EMPLOYEES" \
			-concurrency "$NORMALIZER_CONCURRENCY" >"$WORK/norm-$r.json" 2>"$WORK/norm-$r.err"; then
			show_log "$WORK/norm-$r.err"
			die "benchnorm failed"
		fi
		rates+=("$(jget employees_per_s "$WORK/norm-$r.json")")
		log "normalizer: round $r: ${rates[-1]} employees/s"
	done
	best="$(median_index "${rates[@]}")"
	NOTES+=("normalizer employees/s over $ROUNDS round(s): $(spread "${rates[@]}")")
	add_figure normalizer_employees_per_s "${rates[best]}" "employees/s" js_consume_rate ">=2000"
}

# build_benchworker: scripts/benchworker into $WORK, once.
build_benchworker() {
	[[ -x $WORK/benchworker ]] || (cd "$ROOT/scripts" && go build -o "$WORK/benchworker" ./benchworker)
}

# start_redis: a throwaway redis-server (no persistence, loopback) on a
# free port, its URL in REDIS_URL. Installs redis-server with apt only when
# it is missing and we are root; returns non-zero (after a note) when there
# is no Redis to be had.
REDIS_URL=""
start_redis() {
	local port
	[[ -n $REDIS_URL ]] && return 0
	if ! command -v redis-server >/dev/null 2>&1; then
		if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
			log "installing redis-server with apt-get"
			if ! (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server) \
				>"$WORK/install-redis.log" 2>&1; then
				show_log "$WORK/install-redis.log"
				NOTES+=("redis-server could not be installed (apt-get failed): the Redis ledger figure is skipped")
				return 1
			fi
		else
			NOTES+=("redis-server is missing and this is not root: the Redis ledger figure is skipped")
			return 1
		fi
	fi
	port="$("$WORK/loadgen" ports 1)"
	[[ -n $port ]] || die "could not find a free port for redis-server"
	log "starting $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$port"
	redis-server --save "" --appendonly no --port "$port" --bind 127.0.0.1 --dir "$WORK" >"$WORK/redis.log" 2>&1 &
	PIDS+=("$!")
	REDIS_URL="redis://127.0.0.1:$port/0"
	# benchworker waits (up to 5 s) for the server to answer.
}

# worker_rounds NAME ARGS...: ROUNDS runs of `benchworker worker ARGS`;
# the median events/s in WORKER_RATE, the spread in NOTES.
WORKER_RATE=""
worker_rounds() {
	local name=$1 r best
	shift
	local -a rates=()
	for ((r = 1; r <= ROUNDS; r++)); do
		log "worker: $name round $r/$ROUNDS, $WORKER_EVENTS hired events, concurrency $WORKER_CONCURRENCY"
		if ! run_tracked timeout 300 "$WORK/benchworker" worker -nats "$NATS_URL" -events "$WORKER_EVENTS" \
			-concurrency "$WORKER_CONCURRENCY" -log "$WORK/worker-$name-$r.log" "$@" \
			>"$WORK/worker-$name-$r.json" 2>"$WORK/worker-$name-$r.err"; then
			show_log "$WORK/worker-$name-$r.err"
			show_log "$WORK/worker-$name-$r.log"
			die "benchworker worker ($name) failed"
		fi
		rates+=("$(jget events_per_s "$WORK/worker-$name-$r.json")")
		log "worker: $name round $r: ${rates[-1]} events/s"
	done
	best="$(median_index "${rates[@]}")"
	WORKER_RATE="${rates[best]}"
	NOTES+=("worker ($name) events/s over $ROUNDS round(s): $(spread "${rates[@]}")")
}

# worker: events/s through ONE worker (app "bench", no rate limit, one
# group for everyone) from a pre-filled HR_EVENTS, with the JetStream KV
# ledger and with the Redis one, next to the raw consume ceiling. When the
# app is connector.Memory, a third figure runs the KV ledger against an
# indexed in-memory app: Memory scans and sorts every account per lookup of
# an unknown person, so it, not the worker, sets the pace past a few
# hundred accounts.
section_worker() {
	js_consume_baseline
	build_benchworker
	worker_rounds kv -ledger kv
	add_figure worker_events_per_s_kv "$WORKER_RATE" "events/s" js_consume_rate "ratio>=0.20"
	if start_redis; then
		worker_rounds redis -ledger redis -redis "$REDIS_URL"
		add_figure worker_events_per_s_redis "$WORKER_RATE" "events/s" js_consume_rate "ratio>=0.20"
	fi
}

# scim_run NAME ARGS...: one `benchworker scim` run, its JSON in
# $WORK/scim-NAME.json.
scim_run() {
	local name=$1 out="$WORK/scim-$1.json"
	shift
	if ! run_tracked timeout 300 "$WORK/benchworker" scim -nats "$NATS_URL" -concurrency "$SCIM_CONCURRENCY" \
		-log "$WORK/scim-$name.log" "$@" >"$out" 2>"$WORK/scim-$name.err"; then
		show_log "$WORK/scim-$name.err"
		show_log "$WORK/scim-$name.log"
		die "benchworker scim ($name) failed"
	fi
}

# scim: ONE worker (KV ledger) through the real SCIM connector with Slack's
# profile, against an in-process scimtest server with Slack's quirks.
#  - unlimited: everyone gets group "everyone" (a hire is a create and a
#    group add); no rate limits, no pacer; hires/s next to the raw consume
#    ceiling.
#  - limited: BENCH_SCIM_LIMIT_HIRES hires joining 3 groups each, with
#    group additions coalesced as Keycard's workers do. The server enforces
#    Slack's documented write budget (scim.Slack().RateLimit, 180/min) with
#    its refill BENCH_SCIM_RATE_SCALE times faster and its documented
#    burst of 20, as one bucket for all writes; the worker's pacer has the
#    same rate with a burst one below, as Keycard does. Writes per hire is
#    every successful write over the hires (4 without coalescing); the
#    efficiency is the least time the bucket allows the fewest writes
#    coalescing can need (a create per hire, each group's additions in full
#    PATCHes): (min_writes − burst) / (R/60), over the actual time; a 429
#    counts as after warm-up once 10% of those writes succeeded.
section_scim() {
	local r best out
	local -a rates=()
	js_consume_baseline
	build_benchworker
	for ((r = 1; r <= SCIM_ROUNDS; r++)); do
		log "scim: unlimited round $r/$SCIM_ROUNDS, $SCIM_EVENTS hires, concurrency $SCIM_CONCURRENCY, Slack quirks without rate limits"
		scim_run "unlimited-$r" -events "$SCIM_EVENTS"
		out="$WORK/scim-unlimited-$r.json"
		rates+=("$(jget hires_per_s "$out")")
		log "scim: unlimited round $r: ${rates[-1]} hires/s ($(jget s429_total "$out") 429s, $(jget s429_resource_locked "$out") resource_locked)"
	done
	best="$(median_index "${rates[@]}")"
	if ((SCIM_ROUNDS > 1)); then
		NOTES+=("scim (unlimited) hires/s over $SCIM_ROUNDS round(s): $(spread "${rates[@]}")")
	fi
	add_figure scim_hires_per_s_unlimited "${rates[best]}" "hires/s" js_consume_rate ">=1000"

	log "scim: limited, $SCIM_LIMIT_HIRES hires x 3 groups, coalesced, Slack's write rate x$SCIM_RATE_SCALE at the server and in the pacer, concurrency $SCIM_LIMIT_CONCURRENCY"
	scim_run limited -events "$SCIM_LIMIT_HIRES" -groups 3 -rate-scale "$SCIM_RATE_SCALE" -burst 20 -concurrency "$SCIM_LIMIT_CONCURRENCY"
	out="$WORK/scim-limited.json"
	log "scim: limited: $(jget seconds "$out") s, $(jget writes_ok "$out") writes ($(jget writes_per_hire "$out") a hire; $(jget writes_needed "$out") uncoalesced) at $(jget write_limit_per_min "$out")/min burst $(jget write_burst "$out"), minimum $(jget min_seconds "$out") s for $(jget min_writes "$out"), efficiency $(jget efficiency "$out")"
	NOTES+=("scim (limited): $(jget write_limit_per_min "$out") writes/min, burst $(jget write_burst "$out") (server; pacer one below), $(jget writes_ok "$out") writes for $SCIM_LIMIT_HIRES hires x 3 groups ($(jget writes_needed "$out") uncoalesced, $(jget min_writes "$out") at best), $(jget write_attempts "$out") sent; 429s: $(jget s429_rate_limited "$out") rate limit ($(jget s429_rate_limited_after_warmup "$out") after warm-up, first at $(jget first_429_after_warmup_s "$out") s), $(jget s429_resource_locked "$out") resource_locked")
	add_figure scim_writes_per_hire_3_groups "$(jget writes_per_hire "$out")" writes/hire "" "<=1.1"
	add_figure scim_slack_limit_efficiency "$(jget efficiency "$out")" fraction "" ">=0.90"
	add_figure scim_limit_min_s "$(jget min_seconds "$out")" s "" ""
	add_figure scim_limit_actual_s "$(jget seconds "$out")" s "" ""
	add_figure scim_429s_after_warmup "$(jget s429_after_warmup "$out")" count "" "==0"
	add_figure scim_429s_total "$(jget s429_total "$out")" count "" ""
}

# native_run NAME ARGS...: one `benchworker native` run, its JSON in
# $WORK/native-NAME.json.
native_run() {
	local name=$1 out="$WORK/native-$1.json"
	shift
	if ! run_tracked timeout 300 "$WORK/benchworker" native "$@" >"$out" 2>"$WORK/native-$name.err"; then
		show_log "$WORK/native-$name.err"
		die "benchworker native ($name) failed"
	fi
}

# native: hires through the native connectors (built by their registry
# Factory) against their fakes, each hire the worker's plan (create, one
# group or team) at concurrency 16. Unlimited: hires/s. At the vendor's
# documented limits, which the fake enforces, and Keycard's pace for them,
# both scaled so a run takes about 10 s (Google 2,400 queries/min ×10,
# every request paced; GitHub 8 writes/min ×120, under its 80/min
# secondary limit; GitLab 40 writes/min ×60, under its default throttle of
# 7,200 requests/hour ×60, reads included; Pipedrive every request paced,
# its burst limit of 20 per 2 s counting reads, 240/min ×10): the least
# time the pace allows over the time taken. Discord is run on its own
# (below).
section_native() {
	build_benchworker
	native_app google 500 300 10 "2,400 queries/min"
	native_app github 500 100 120 "8 writes/min"
	native_app gitlab 500 100 60 "40 writes/min"
	native_app pipedrive 500 100 10 "240 requests/min"
	# Discord publishes no per-route limits: the fake's stand-ins ×10 and
	# the adaptive pace ×10; what counts is that the client's bucket
	# tracking leaves Discord no 429 to send (no efficiency: the pace
	# adapts, so there is no least time to compare with).
	local out="$WORK/native-discord-limited.json"
	log "native: discord, 500 invites unlimited"
	native_run discord -type discord -events 500
	add_figure native_discord_hires_per_s "$(jget hires_per_s "$WORK/native-discord.json")" hires/s "" ""
	log "native: discord, 100 invites, the fake's route limits and the pace ×10"
	native_run discord-limited -type discord -events 100 -rate-scale 10
	add_figure native_discord_limited_429s "$(jget rate_limited "$out")" count "" "==0"
	NOTES+=("native discord ×10: $(jget paced_requests "$out") paced requests in $(jget seconds "$out") s; $(jget rate_limited "$out") 429s")
}

# native_app TYPE HIRES LIMITED_HIRES SCALE PACE: a native connector's two
# runs, unlimited and at its documented limit ×SCALE, and their figures.
native_app() {
	local t=$1 out="$WORK/native-$1-limited.json"
	log "native: $t, $2 hires unlimited"
	native_run "$t" -type "$t" -events "$2"
	add_figure "native_${t}_hires_per_s" "$(jget hires_per_s "$WORK/native-$t.json")" hires/s "" ""
	log "native: $t, $3 hires at $5 ×$4"
	native_run "$t-limited" -type "$t" -events "$3" -rate-scale "$4"
	NOTES+=("native $t at its documented limit ×$(jget rate_scale "$out"): $(jget paced_requests "$out") paced requests in $(jget seconds "$out") s, the pace allows $(jget min_seconds "$out") s; $(jget rate_limited "$out") quota answers")
	add_figure "native_${t}_limited_efficiency" "$(jget efficiency "$out")" fraction "" ">=0.90"
	add_figure "native_${t}_429s" "$(jget rate_limited "$out")" count "" "==0"
}

# leavers: terminations behind a joiner backlog (issue 9: 57 s first in
# first out). BENCH_LEAVER_JOINERS hires queue at an app paced at
# BENCH_LEAVER_RATE writes/min (SCIM test server with Slack's quirks,
# coalesced group adds, Keycard's default concurrency), then a
# termination a second; each one's latency is stored on HR_EVENTS → audit
# record. The baseline is the queued joiners' own median in the same run.
section_leavers() {
	local out="$WORK/leavers.json"
	build_benchworker
	log "leavers: $LEAVER_COUNT terminations behind $LEAVER_JOINERS queued joiners at $LEAVER_RATE writes/min"
	if ! run_tracked timeout 300 "$WORK/benchworker" leavers -nats "$NATS_URL" -joiners "$LEAVER_JOINERS" -leavers "$LEAVER_COUNT" \
		-rate "$LEAVER_RATE" -log "$WORK/leavers.log" >"$out" 2>"$WORK/leavers.err"; then
		show_log "$WORK/leavers.err"
		show_log "$WORK/leavers.log"
		die "benchworker leavers failed"
	fi
	BASELINE[joiner_p50_ms]="$(jget joiner_p50_ms "$out")"
	BASELINE_DESC[joiner_p50_ms]="(queued joiners p50)"
	log "leavers: p50 $(jget leaver_p50_ms "$out") ms, p99 $(jget leaver_p99_ms "$out") ms; joiners p50 $(jget joiner_p50_ms "$out") ms, max $(jget joiner_max_ms "$out") ms; at least $(jget backlog_at_leaver_min "$out") joiners still queued at each termination"
	NOTES+=("leavers: $LEAVER_COUNT terminations behind $LEAVER_JOINERS joiners at $LEAVER_RATE writes/min; the joiners took p50 $(jget joiner_p50_ms "$out") ms (the ratio's baseline), and at least $(jget backlog_at_leaver_min "$out") were still queued when each termination was applied")
	add_figure leaver_p50_ms "$(jget leaver_p50_ms "$out")" ms joiner_p50_ms ""
	add_figure leaver_p99_ms "$(jget leaver_p99_ms "$out")" ms joiner_p50_ms "<=2000"
	add_figure leaver_backlog_min "$(jget backlog_at_leaver_min "$out")" count "" ""
}

# adaptive: a vendor that publishes no limit (Notion profile, test server
# enforcing 6000 writes/min that Keycard is not told). The same 400 hires
# (one group, coalesced) at the fixed starting pace (1200/min; the default
# 60/min scaled ×20 so a round takes seconds) and adapting from it; the
# speedup is the fixed round's time over the adaptive one's.
section_adaptive() {
	local out="$WORK/adaptive.json"
	build_benchworker
	log "adaptive: 400 hires at a vendor without a published limit, fixed pace then adaptive"
	if ! run_tracked timeout 300 "$WORK/benchworker" adaptive -nats "$NATS_URL" -log "$WORK/adaptive.log" >"$out" 2>"$WORK/adaptive.err"; then
		show_log "$WORK/adaptive.err"
		show_log "$WORK/adaptive.log"
		die "benchworker adaptive failed"
	fi
	cat "$WORK/adaptive.err" >&2
	NOTES+=("adaptive: start $(jget start_pace_per_min "$out")/min, vendor limit $(jget server_limit_per_min "$out")/min (unpublished); $(jget limit_share "$out") of the vendor's limit used once adapting")
	add_figure adaptive_speedup "$(jget speedup "$out")" x "" ">=2"
	add_figure adaptive_limit_share "$(jget limit_share "$out")" fraction "" ""
}

# reconcile: one reconcile of BENCH_RECONCILE_PEOPLE accounts against as
# many people in HR (1% leavers with access and 1% orphans planted), on the
# SCIM test server twice: with Slack's quirks (a page of 1,000; reads not
# counted, so unpaced), the figure is the requests over the fewest the page
# size allows; with Asana's (a page of 100; every request counts against
# 1,500/min, enforced by the server and paced by Keycard), the
# list-and-compare time over the least that pace allows.
section_reconcile() {
	local out="$WORK/reconcile.json" paced="$WORK/reconcile-asana.json"
	build_benchworker
	log "reconcile: $RECONCILE_PEOPLE people × 1 app (SCIM test server), Slack quirks then Asana's paced reads"
	if ! run_tracked timeout 300 "$WORK/benchworker" reconcile -nats "$NATS_URL" -people "$RECONCILE_PEOPLE" -profile slack \
		-log "$WORK/reconcile.log" >"$out" 2>"$WORK/reconcile.err"; then
		show_log "$WORK/reconcile.err"
		die "benchworker reconcile failed"
	fi
	if ! run_tracked timeout 300 "$WORK/benchworker" reconcile -nats "$NATS_URL" -people "$RECONCILE_PEOPLE" -profile asana \
		-log "$WORK/reconcile-asana.log" >"$paced" 2>"$WORK/reconcile-asana.err"; then
		show_log "$WORK/reconcile-asana.err"
		die "benchworker reconcile (asana) failed"
	fi
	BASELINE[reconcile_min_reads]="$(jget min_reads "$out")"
	BASELINE_DESC[reconcile_min_reads]="(pages of $(jget page_size "$out"))"
	BASELINE[reconcile_least_s]="$(jget least_seconds "$paced")"
	BASELINE_DESC[reconcile_least_s]="(least at $(jget reads_per_min "$paced") reads/min)"
	NOTES+=("reconcile: $RECONCILE_PEOPLE accounts listed and compared in $(jget seconds "$out") s with Slack's page of $(jget page_size "$out") ($(jget requests "$out") requests); with Asana's page of $(jget page_size "$paced") at $(jget reads_per_min "$paced") reads/min in $(jget compare_seconds "$paced") s ($(jget requests "$paced") requests, $(jget rate_limited "$paced") answered 429)")
	add_figure reconcile_requests "$(jget requests "$out")" count reconcile_min_reads "ratio<=1.1"
	add_figure reconcile_s "$(jget seconds "$out")" s "" ""
	add_figure reconcile_asana_s "$(jget compare_seconds "$paced")" s reconcile_least_s "ratio<=1.2"
	add_figure reconcile_asana_429s "$(jget rate_limited "$paced")" count "" "==0"
}

# pipeline_run NAME ARGS...: one `benchworker pipeline` run, its JSON in
# $WORK/pipeline-NAME.json.
pipeline_run() {
	local name=$1 out="$WORK/pipeline-$1.json"
	shift
	log "pipeline ($name): $PIPELINE_RATE webhooks/s for $PIPELINE_DURATION, ingest + normalizer + worker in one process"
	if ! run_tracked timeout 300 "$WORK/benchworker" pipeline -nats "$NATS_URL" -rate "$PIPELINE_RATE" \
		-duration "$PIPELINE_DURATION" -log "$WORK/pipeline-$name.log" "$@" >"$out" 2>"$WORK/pipeline-$name.err"; then
		show_log "$WORK/pipeline-$name.err"
		show_log "$WORK/pipeline-$name.log"
		die "benchworker pipeline ($name) failed"
	fi
	log "pipeline ($name): applied $(jget applied "$out")/$(jget sent "$out"), p50 $(jget p50_ms "$out") ms, p99 $(jget p99_ms "$out") ms, max $(jget max_ms "$out") ms"
	log "pipeline ($name): stage p99 ms: to HR_INBOX $(jget stage_inbox_p99_ms "$out"), normalize $(jget stage_normalize_p99_ms "$out"), worker $(jget stage_worker_p99_ms "$out")"
	if (($(jget http_errors "$out") > 0)); then
		log "pipeline ($name): $(jget http_errors "$out") webhooks not accepted; details:"
		sed -n '/"error_classes"/,/^  }/p' "$out" >&2
	fi
}

# pipeline: end-to-end latency (webhook due → audit record) at a fixed
# rate through the ingest handler, the normalizer (fake BambooHR) and one
# worker (KV ledger) in one process, as the single binary wires them. No
# baseline: nothing raw does the same four hops.
section_pipeline() {
	local out rate=${PIPELINE_RATE%.*}
	build_benchworker
	pipeline_run memory
	out="$WORK/pipeline-memory.json"
	NOTES+=("pipeline stage p50/p99 ms: to HR_INBOX $(jget stage_inbox_p50_ms "$out")/$(jget stage_inbox_p99_ms "$out"), normalize $(jget stage_normalize_p50_ms "$out")/$(jget stage_normalize_p99_ms "$out"), worker $(jget stage_worker_p50_ms "$out")/$(jget stage_worker_p99_ms "$out")")
	add_figure "pipeline_p50_at_${rate}eps" "$(jget p50_ms "$out")" ms "" ""
	add_figure "pipeline_p99_at_${rate}eps" "$(jget p99_ms "$out")" ms "" "<=500"
	add_figure "pipeline_max_at_${rate}eps" "$(jget max_ms "$out")" ms "" ""
	add_figure pipeline_applied "$(jget applied "$out")" count "" "==$(jget sent "$out")"
}

# ---------------------------------------------------------------- main

main() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local started=$SECONDS s
	setup
	foreign_cpu_start
	for s in "${SECTIONS[@]}"; do
		declare -F "section_$s" >/dev/null || die "unknown section $s"
		"section_$s"
	done
	foreign_cpu_note
	log "done in $((SECONDS - started))s"
	report
}

main "$@"
