#!/usr/bin/env bash
# Run the cargo-fuzz targets one after another, at the lowest CPU priority.
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [TARGET...]     (default: 900 s each, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on stable Rust it runs with RUSTC_BOOTSTRAP=1.
# Corpus: fuzz/corpus/<target>/ (not committed; fill it with `python3 fuzz/make_seeds.py`), plus the
# committed fuzz/seeds/<target>/. A crash leaves its input in fuzz/artifacts/<target>/; copy it to
# fuzz/regressions/<target>/ once fixed, so that tests/regressions.rs replays it.
# Each target's log is fuzz/logs/<target>.log; a summary line per target (executions, corpus size,
# outcome) is appended to fuzz/logs/summary.tsv.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=900
jobs=1
while getopts "t:j:" o; do
    case $o in
        t) seconds=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) echo "usage: $0 [-t SECONDS] [-j JOBS] [TARGET...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

export RUSTC_BOOTSTRAP=1
cd fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
nice -n 19 cargo fuzz build -O || exit 2
mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
    log="logs/$t.log"
    start=$(date +%s)
    par=()
    [ "$jobs" -le 1 ] || par=(-jobs="$jobs" -workers="$jobs")
    case $t in
        capture) max_len=65536 ;;
        session | ffi | flows) max_len=16384 ;;
        *) max_len=9000 ;; # one line: just over the default max_line (8192)
    esac
    rm -f fuzz-*.log
    nice -n 19 cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -max_len=$max_len \
        "${par[@]}" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(grep -h 'stat::number_of_executed_units' "$log" fuzz-*.log 2>/dev/null \
        | awk '{s += $2} END {print s + 0}')
    units=$(find "corpus/$t" -type f | wc -l)
    outcome=ok
    [ $rc -eq 0 ] || { outcome="exit $rc: $(grep -m1 -E 'ERROR|panicked|deadly signal' "$log")"; status=1; }
    printf '%s\t%s\t%ss\t%s execs\t%s corpus\t%s\n' "$(date -Is)" "$t" $((end - start)) "$execs" \
        "$units" "$outcome" | tee -a logs/summary.tsv
done
exit $status
