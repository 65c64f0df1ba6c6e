#!/usr/bin/env bash
# The hostile captures at full size, by hand (far too big and slow for CI; tests/test_hostile.py
# runs them scaled down).
#
#   scripts/hostile-full.sh [-s SCALE] [-o OUTDIR] [SCENARIO...]
#
# For each scenario (default: all of tests/hostile/gen.py's), at N/4 and at N (the full size times
# SCALE, default 1): generates the capture into a temp dir (deleted after), runs the release CLI
# (`ftplens log`) and tshark with the C plugin (as uid 65534, HOME with `make install-plugin`),
# and at N also tshark with the ftplens protocols disabled (the baseline). Records peak RSS
# (wait4 ru_maxrss), wall and CPU time, and checks what each found (tests/hostile/measure.py).
# Time must grow linearly: the N/4 -> N CPU-time ratio is printed (about 4 is linear).
# Writes OUTDIR/results.jsonl and OUTDIR/summary.md. Exit status 1 if a check failed.
# Needs about 2.5 GB of free disk in $TMPDIR and, for tshark on ten million frames, several GB
# of memory.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scale=1
out=""
while getopts "s:o:" o; do
    case $o in
        s) scale=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,17p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ -n "$out" ] || out=$(mktemp -d /tmp/ftplens-hostile-full.XXXXXX)
mkdir -p "$out"

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || mapfile -t scenarios < <(python3 -c "
import sys; sys.path.insert(0, 'tests/hostile'); import gen; print('\n'.join(gen.SCENARIOS))")

echo "building the release CLI and the plugin"
cargo build --release --bin ftplens >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 2; }
home=$(mktemp -d /tmp/ftplens-hostile-home.XXXXXX)
chmod 755 "$home"
trap 'rm -rf "$home"' EXIT
HOME=$home make -s install-plugin >>"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 2; }
chmod -R a+rX "$home"
work=$(mktemp -d "${TMPDIR:-/tmp}/ftplens-hostile-work.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$home" "$work"' EXIT

status=0
: >"$out/results.jsonl"
for s in "${scenarios[@]}"; do
    n=$(python3 -c "
import sys; sys.path.insert(0, 'tests/hostile'); import gen; print(int(gen.FULL['$s'] * $scale))")
    for size in $((n / 4)) "$n"; do
        extra=()
        [ "$size" = "$n" ] && extra=(--baseline)
        echo "== $s N=$size"
        python3 tests/hostile/measure.py "$s" "$size" --cli target/release/ftplens \
            --tshark-home "$home" --keep "$work" "${extra[@]}" >"$work/one.jsonl" 2>"$work/one.err"
        rc=$?
        cat "$work/one.err"
        python3 - "$s" "$size" "$rc" "$work/one.jsonl" >>"$out/results.jsonl" <<'EOF'
import json, sys
s, size, rc, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = [json.loads(l) for l in open(path)]
facts = lines[0]["facts"]
for r in lines[1:]:
    print(json.dumps({"scenario": s, "n": size, "ok": rc == 0, "pcap_bytes": facts["bytes"],
                      "frames": facts["frames"], **r}))
EOF
        [ $rc -eq 0 ] || status=1
        tail -n +2 "$work/one.jsonl" | cut -c1-160
    done
done

python3 - "$out/results.jsonl" >"$out/summary.md" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| scenario | N | pcap | frames | tool | peak RSS MB | wall s | CPU s | CPU ratio N/4->N | ok |")
print("|---|---|---|---|---|---|---|---|---|---|")
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["tool"]), []).append(r)
for r in rows:
    runs = sorted(by[(r["scenario"], r["tool"])], key=lambda x: x["n"])
    ratio = ""
    if len(runs) == 2 and r is runs[1] and runs[0]["cpu_seconds"] > 0:
        ratio = "%.1f" % (runs[1]["cpu_seconds"] / runs[0]["cpu_seconds"])
    print(f"| {r['scenario']} | {r['n']:,} | {r['pcap_bytes'] / 1e6:,.0f} MB | {r['frames']:,} | "
          f"{r['tool']} | {r['rss_mb']:,.0f} | {r['seconds']:,.1f} | {r['cpu_seconds']:,.1f} | "
          f"{ratio} | {'yes' if r['ok'] else 'NO'} |")
EOF
cat "$out/summary.md"
echo "results: $out"
exit $status
