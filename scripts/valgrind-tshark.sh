#!/usr/bin/env bash
# tshark with the installed ftplens C plugin under valgrind (memcheck), over captures.
#
#   scripts/valgrind-tshark.sh [-o OUTDIR] [-a "TSHARK ARGS"] [CAPTURE|DIR ...]
#
# Default captures: ../shared/corpus (or $FTPLENS_CORPUS), samples/ and tests/captures/handmade/.
# Builds the plugin and installs it into a throwaway HOME (`HOME=<tmp> make install-plugin`), then
# runs, as uid 65534 (a root tshark ignores personal plugins), for every capture:
#   valgrind --leak-check=full --xml=yes tshark -r CAPTURE -2 -V
# and classifies each memcheck error and leak: it "touches ftplens" when a frame of its stack is in
# the plugin (its object is ftplens.so, or a function or file named *ftplens*).
# Prints one line per capture and a total; writes OUTDIR/summary.tsv and keeps the XML reports.
# Exit status: 0 when no error touches ftplens, 1 otherwise, 2 on a set-up error.
# Far too slow for CI (about 20 s per capture on 2 cores, more for large ones): run it by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=""
targs="-2 -V"
while getopts "o:a:" o; do
    case $o in
        o) out=$OPTARG ;;
        a) targs=$OPTARG ;;
        *) sed -n '2,14p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

for tool in valgrind tshark setpriv python3 make; do
    command -v $tool >/dev/null || { echo "$tool not found" >&2; exit 2; }
done

inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
    corpus=${FTPLENS_CORPUS:-}
    [ -n "$corpus" ] || for c in /work/shared/corpus "$root/../shared/corpus"; do
        [ -d "$c" ] && { corpus=$c; break; }
    done
    [ -n "$corpus" ] && inputs+=("$corpus")
    inputs+=("$root/samples" "$root/tests/captures/handmade")
fi
mapfile -t captures < <(for i in "${inputs[@]}"; do
    if [ -d "$i" ]; then
        find "$i" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \)
    else
        echo "$i"
    fi
done | sort)
[ ${#captures[@]} -gt 0 ] || { echo "no captures" >&2; exit 2; }

work=$(mktemp -d /tmp/ftplens-valgrind.XXXXXX)
chmod 755 "$work"
home=$work/home
mkdir -p "$home" "$work/caps"
chmod 755 "$home" "$work/caps"
[ -n "$out" ] || out=$work/reports
mkdir -p "$out"
chown 65534:65534 "$out"
trap 'rm -rf "$work/home" "$work/caps"' EXIT

echo "building and installing the plugin into $home"
if ! HOME=$home make -s install-plugin >"$work/make.log" 2>&1; then
    cat "$work/make.log" >&2
    exit 2
fi
so=$(find "$home/.local/lib/wireshark/plugins" -name 'ftplens*.so' | head -n1)
[ -n "$so" ] || { echo "the plugin was not installed" >&2; exit 2; }
echo "plugin: $so"
# Proof that an unprivileged tshark loads it (a root one would silently not).
if ! (cd "$home" && HOME=$home setpriv --reuid=65534 --regid=65534 --clear-groups tshark -G plugins) \
    | grep -q "$(basename "$so")"; then
    echo "tshark running as uid 65534 does not load $so" >&2
    exit 2
fi

printf 'capture\tbytes\tseconds\texit\terrors\tleaks\tftplens_errors\tftplens_leaks\tcrashed\n' >"$out/summary.tsv"
n=0
start_all=$(date +%s)
for cap in "${captures[@]}"; do
    n=$((n + 1))
    name=$(printf '%03d-%s' "$n" "$(basename "$cap")")
    cp "$cap" "$work/caps/$name"
    chmod 644 "$work/caps/$name"
    xml=$out/$name.xml
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    (cd "$home" && HOME=$home setpriv --reuid=65534 --regid=65534 --clear-groups \
        nice -n 19 valgrind --tool=memcheck --leak-check=full --num-callers=50 \
        --xml=yes --xml-file="$xml" --error-exitcode=99 \
        tshark -r "$work/caps/$name" $targs >/dev/null 2>"$out/$name.stderr")
    rc=$?
    t1=$(date +%s.%N)
    line=$(python3 - "$xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    tree = ET.parse(sys.argv[1])
except Exception as e:  # a crash can leave the XML unfinished
    print("unreadable\tunreadable\tunreadable\tunreadable\t1")
    sys.exit(0)
errors = leaks = f_errors = f_leaks = 0
for err in tree.getroot().iter("error"):
    kind = err.findtext("kind") or ""
    touches = any(
        "ftplens" in ((fr.findtext("obj") or "") + (fr.findtext("fn") or "") + (fr.findtext("file") or ""))
        for fr in err.iter("frame"))
    if kind.startswith("Leak_"):
        leaks += 1
        f_leaks += touches
    else:
        errors += 1
        f_errors += touches
crashed = int(tree.getroot().find("fatal_signal") is not None)
print(f"{errors}\t{leaks}\t{f_errors}\t{f_leaks}\t{crashed}")
EOF
)
    secs=$(python3 -c "print(round($t1 - $t0, 1))")
    bytes=$(stat -c %s "$cap")
    printf '%s\t%s\t%s\t%s\t%s\n' "$cap" "$bytes" "$secs" "$rc" "$line" >>"$out/summary.tsv"
    printf '%3d/%d %-60s %6ss exit %-3s errors leaks ftplens-errors ftplens-leaks crashed: %s\n' "$n" "${#captures[@]}" \
        "$(basename "$cap")" "$secs" "$rc" "$(echo "$line" | tr '\t' ' ')"
    rm -f "$work/caps/$name"
done
end_all=$(date +%s)

python3 - "$out/summary.tsv" $((end_all - start_all)) <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
num = lambda r, k: int(r[k]) if r[k].isdigit() else 0
bad = [r for r in rows if r["crashed"] != "0" or num(r, "ftplens_errors") or num(r, "ftplens_leaks")]
print(f"captures: {len(rows)}; wall time: {sys.argv[2]} s; "
      f"memcheck errors: {sum(num(r, 'errors') for r in rows)} "
      f"(touching ftplens: {sum(num(r, 'ftplens_errors') for r in rows)}); "
      f"leak records: {sum(num(r, 'leaks') for r in rows)} "
      f"(touching ftplens: {sum(num(r, 'ftplens_leaks') for r in rows)}); "
      f"tshark crashes: {sum(1 for r in rows if r['crashed'] != '0')}")
for r in bad:
    print("  FAIL", r["capture"], "exit", r["exit"], "crashed", r["crashed"],
          "ftplens errors", r["ftplens_errors"], "ftplens leaks", r["ftplens_leaks"])
sys.exit(1 if bad else 0)
EOF
status=$?
echo "reports: $out"
exit $status
