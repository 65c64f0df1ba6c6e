#!/usr/bin/env bash
# Benchmark of the ftplens CLI against tshark and a bare walk over the capture's records.
#
#   scripts/bench-cli.sh [SIZE...]        default: 100M 1G
#
# For each size, generates a capture with the project's own generator (ftplens-gen: many
# concurrent sessions, PASV, EPSV and PORT transfers of bulk data, with ACKs, reordering and
# retransmissions), then times, best of $RUNS (default 3):
#   walk     ftplens-gen walk: read every record header, skip its data (the floor)
#   hashwalk ftplens-gen walk --hash: the walk plus sha256 over every TCP payload byte (the floor
#            with hashing: the data bytes, and the few control bytes too)
#   nohash   ftplens log --no-hash
#   log      ftplens log (sha256 of every transfer, sha2 crate with SHA-NI when the CPU has it)
# and once: tshark -2 with its built-in ftp dissector printing the same facts (commands,
# arguments, replies, data-channel ports, transfer bytes). Prints seconds, peak RSS and the ratios.
# Captures go to $BENCH_DIR (default: a directory under /tmp), reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-/tmp/ftplens-bench-cli}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(100M 1G)
mkdir -p "$DIR"
cargo build --release --bins --quiet
cargo build --release --quiet -p ftplens-gen
BIN=target/release/ftplens
GEN=target/release/ftplens-gen
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }

# best_of CMD...: prints "seconds peak_rss_kb" of the fastest of $RUNS runs (output discarded).
best_of() {
    local best="" rss=""
    for _ in $(seq "$RUNS"); do
        # ftplens exits 1 when it finds anomalies: still a valid run. GNU time then adds a line.
        local t0 t1 s m
        t0=$(date +%s%N)
        "$TIME" -f "%M" -o "$DIR/.time" "$@" > /dev/null 2> "$DIR/.err" || true
        t1=$(date +%s%N)
        s=$(awk "BEGIN{printf \"%.3f\", ($t1 - $t0) / 1e9}")
        m=$(tail -1 "$DIR/.time")
        if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best=$s; rss=$m; fi
    done
    echo "$best $rss"
}

ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"inf\" }"; }

printf '%-6s %10s %9s %11s %9s %9s %10s %11s %12s %12s\n' size frames walk_s hashwalk_s nohash_s log_s tshark_s tshark/log nohash/walk log/hashwalk
for size in "${SIZES[@]}"; do
    cap="$DIR/bench-$size.pcap"
    if [ ! -s "$cap" ]; then
        "$GEN" capture --size "$size" -o "$cap" 2> "$DIR/gen-$size.txt"
    fi
    frames=$("$GEN" walk "$cap" | cut -d' ' -f1)
    read -r walk walk_rss < <(best_of "$GEN" walk "$cap")
    read -r hashwalk hashwalk_rss < <(best_of "$GEN" walk --hash "$cap")
    read -r nohash nohash_rss < <(best_of "$BIN" log --no-hash "$cap")
    read -r log log_rss < <(best_of "$BIN" log "$cap")
    # Check the analysis found what the generator wrote.
    "$BIN" log "$cap" > "$DIR/log-$size.jsonl" || true
    got=$(grep -c '"type":"transfer"' "$DIR/log-$size.jsonl" || true)
    complete=$(grep '"type":"transfer"' "$DIR/log-$size.jsonl" | grep -c '"state":"complete"' || true)
    want=$(sed -n 's/.*), \([0-9]*\) transfers .*/\1/p' "$DIR/gen-$size.txt" 2>/dev/null || echo "?")
    tshark_s="-" tshark_rss="-"
    if command -v tshark > /dev/null && [ "${NO_TSHARK:-}" = "" ]; then
        t0=$(date +%s%N)
        "$TIME" -f "%M" -o "$DIR/.time" tshark -2 -r "$cap" -Y ftp -T fields \
            -e frame.time_epoch -e tcp.stream -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport \
            -e ftp.request.command -e ftp.request.arg -e ftp.response.code -e ftp.response.arg \
            -e ftp.passive.ip -e ftp.passive.port -e ftp.active.cip -e ftp.active.port \
            -e ftp.epsv.port -e ftp.command-response.bytes -e ftp.current-working-directory \
            > "$DIR/tshark-$size.tsv" 2> "$DIR/tshark-$size.err" || true
        t1=$(date +%s%N)
        tshark_s=$(awk "BEGIN{printf \"%.3f\", ($t1 - $t0) / 1e9}")
        tshark_rss=$(tail -1 "$DIR/.time")
    fi
    printf '%-6s %10s %9s %11s %9s %9s %10s %11s %12s %12s\n' "$size" "$frames" "$walk" "$hashwalk" "$nohash" "$log" \
        "$tshark_s" "$( [ "$tshark_s" = - ] && echo - || ratio "$tshark_s" "$log")" "$(ratio "$nohash" "$walk")" \
        "$(ratio "$log" "$hashwalk")"
    printf '       peak RSS KB: walk %s, nohash %s, log %s, tshark %s; transfers %s of %s (%s complete)\n' \
        "$walk_rss" "$nohash_rss" "$log_rss" "$tshark_rss" "$got" "$want" "$complete"
done
