#!/usr/bin/env bash
# ftplens against Suricata and tshark on the same captures, in one run, as ratios.
#
#   scripts/bench-vs-suricata.sh [SIZE...]        default: 100M 1G
#
# For each size, generates a capture with the project's generator (ftplens-gen: many concurrent
# sessions, PASV/EPSV/PORT transfers, ACKed like real TCP, so Suricata's stream engine follows the
# data past the receive window; some reordering and retransmissions), then runs, one after the
# other on the same file:
#   ftplens   target/release/ftplens log CAPTURE            (sha256 of every transfer)
#   suricata  suricata --runmode single -r CAPTURE with scripts/suricata/ftp-bench.yaml (ftp and
#             ftp-data parsed, fileinfo with sha256, no rules). `--runmode single`: the default
#             autofp mode splits a session's control and data connections across threads and
#             loses files at random.
#   tshark    tshark -2 -r CAPTURE --export-objects ftp-data,DIR (the built-in FTP dissector)
# and prints wall seconds and peak RSS (GNU time's %M) of each, the files each found, how many of
# the generator's transfers each found by sha256 (ftplens and Suricata), and the ratios
# (peer / ftplens: above 1 means ftplens is faster or smaller).
# Needs Suricata 7 (scripts/install-suricata.sh installs it from bookworm-backports) and tshark.
# Captures go to $BENCH_DIR (default /tmp/ftplens-bench-suricata), reused when present.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
DIR=${BENCH_DIR:-/tmp/ftplens-bench-suricata}
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(100M 1G)
command -v suricata >/dev/null || { echo "needs suricata: scripts/install-suricata.sh" >&2; exit 2; }
command -v tshark >/dev/null || { echo "needs tshark" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
mkdir -p "$DIR"
cargo build --release --quiet --bin ftplens
cargo build --release --quiet -p ftplens-gen
BIN=$root/target/release/ftplens
GEN=$root/target/release/ftplens-gen
CONF=$root/scripts/suricata/ftp-bench.yaml

# measure NAME CMD...: runs CMD (output discarded), sets NAME_s and NAME_kb.
measure() {
    local name=$1
    shift
    # ftplens exits 1 when it finds anomalies: still a valid run.
    /usr/bin/time -f "%e %M" -o "$DIR/.time" "$@" > /dev/null 2> "$DIR/.err" || true
    read -r s kb < <(tail -1 "$DIR/.time")
    printf -v "${name}_s" '%s' "$s"
    printf -v "${name}_kb" '%s' "$kb"
}
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.1f\", $1 / $2; else print \"inf\" }"; }

echo "suricata: $(suricata -V | head -1); tshark: $(tshark -v | head -1)"
printf '%-5s %-9s %9s %9s %7s %9s %11s %10s\n' size tool seconds peak_MB files by_sha256 time_ratio rss_ratio
for size in "${SIZES[@]}"; do
    cap="$DIR/bench-$size.pcap"
    [ -s "$cap" ] || "$GEN" capture --size "$size" -o "$cap" 2> "$DIR/gen-$size.txt"
    want=$(sed -n 's/.*, \([0-9]*\) transfers .*/\1/p' "$DIR/gen-$size.txt")
    out="$DIR/out-$size"
    rm -rf "$out"
    mkdir -p "$out/suricata" "$out/tshark"

    measure ftplens sh -c '"$1" log "$2" > "$3"' _ "$BIN" "$cap" "$out/ftplens.jsonl"
    measure suricata suricata --runmode single -c "$CONF" -S /dev/null -k none -l "$out/suricata" -r "$cap"
    measure tshark tshark -2 -r "$cap" -q --export-objects "ftp-data,$out/tshark"

    # Files found: ftplens' transfer records of files (not listings) with bytes; Suricata's
    # fileinfo events; tshark's exported objects. by_sha256: distinct digests, and for Suricata how
    # many of them ftplens found too.
    read -r f_files f_sha s_files s_sha s_common < <(python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
fl = [json.loads(l) for l in open(f"{out}/ftplens.jsonl")]
ft = [r for r in fl if r.get("type") == "transfer" and r.get("command") in ("RETR", "STOR", "APPE", "STOU") and r.get("bytes", 0) > 0]
fs = {r["sha256"] for r in ft if r.get("sha256")}
ev = [json.loads(l) for l in open(f"{out}/suricata/eve.json")]
si = [e["fileinfo"] for e in ev if e.get("event_type") == "fileinfo"]
ss = {f["sha256"] for f in si if f.get("sha256")}
print(len(ft), len(fs), len(si), len(ss), len(ss & fs))
PY
)
    t_files=$(find "$out/tshark" -type f | wc -l)
    printf '%-5s %-9s %9s %9s %7s %9s %11s %10s\n' "$size" ftplens "$ftplens_s" "$((ftplens_kb / 1024))" "$f_files" "$f_sha" 1.0 1.0
    printf '%-5s %-9s %9s %9s %7s %9s %11s %10s\n' "$size" suricata "$suricata_s" "$((suricata_kb / 1024))" "$s_files" "$s_sha/$s_common" \
        "$(ratio "$suricata_s" "$ftplens_s")" "$(ratio "$suricata_kb" "$ftplens_kb")"
    printf '%-5s %-9s %9s %9s %7s %9s %11s %10s\n' "$size" tshark "$tshark_s" "$((tshark_kb / 1024))" "$t_files" - \
        "$(ratio "$tshark_s" "$ftplens_s")" "$(ratio "$tshark_kb" "$ftplens_kb")"
    echo "      generator: $want transfers; by_sha256 for suricata: distinct digests / of them also found by ftplens"
done
