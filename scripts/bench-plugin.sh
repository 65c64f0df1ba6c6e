#!/usr/bin/env bash
# tshark -2 over one large FTP capture (a generator that ACKs every second segment, as real TCP
# does), with the ftplens C plugin, with the ftplens Lua fallback, and with the built-in ftp
# dissector, run in one go, each printing the same facts (commands, reply codes, data-channel setup
# frames). The three run in turn, RUNS rounds; prints the best wall and CPU times and their ratios to
# the built-in.
# With INSTRUCTIONS=1 (needs valgrind) it then runs each once more under callgrind and prints the
# instructions each executed, which no load on the machine changes, with tshark's start-up (the same
# command on a capture without packets) subtracted before the ratios. Under callgrind tshark runs
# some 50 times slower: use a smaller SIZE (15M takes about five minutes).
# Usage: [INSTRUCTIONS=1] scripts/bench-plugin.sh [SIZE, default 60M] [RUNS, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-60M}
runs=${2:-3}

cargo build -q --release -p ftplens-gen
work=$(mktemp -d /tmp/ftplens-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
target/release/ftplens-gen capture --size "$size" -o "$work/big.pcap" 2>"$work/gen.txt"
HOME="$work/plugin-home" make -s install >/dev/null
HOME="$work/lua-home" make -s install-lua >/dev/null
mkdir -p "$work/plain-home"
chmod -R a+rX "$work"

as_user() { # tshark ignores personal plugins as root: run as nobody with the given HOME
    local home=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        env HOME="$home" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
    else
        env HOME="$home" "$@"
    fi
}

# $wrap (empty, or callgrind) runs tshark; $capture names the file in $work.
ftplens_run() {
    as_user "$work/plugin-home" $wrap tshark -n -r "$work/${capture:-big.pcap}" -2 --disable-protocol ftp \
        -T fields -e ftplens.request.command -e ftplens.response.code -e ftplens-data.setup_frame
}
lua_run() {
    as_user "$work/lua-home" $wrap tshark -n -r "$work/${capture:-big.pcap}" -2 --disable-protocol ftp \
        -T fields -e ftplens.request.command -e ftplens.response.code -e ftplens-data.setup_frame
}
builtin_run() {
    as_user "$work/plain-home" $wrap tshark -n -r "$work/${capture:-big.pcap}" -2 -T fields \
        -e ftp.request.command -e ftp.response.code -e ftp-data.setup-frame
}
wrap=

# One run of a function: "wall cpu" in seconds (cpu: user + system time of tshark, from its rusage);
# its output goes to $work/$1.out.
timed() {
    local fn=$1
    python3 - "$fn" "$work" <<'PY'
import os, resource, subprocess, sys, time
fn, work = sys.argv[1], sys.argv[2]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.monotonic()
with open(f"{work}/{fn}.out", "wb") as out:
    subprocess.run(["bash", "-c", f'source "{work}/fns.sh"; {fn}'], stdout=out, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"{wall:.3f} {cpu:.3f}")
PY
}
declare -f as_user ftplens_run lua_run builtin_run | sed "1i work=$work" >"$work/fns.sh"

# The three in turn, $runs rounds, so that a change of the machine's load falls on all of them.
declare -A wall cpu
for _ in $(seq "$runs"); do
    for fn in ftplens_run lua_run builtin_run; do
        read -r w c < <(timed "$fn")
        wall[$fn]="${wall[$fn]:-} $w"
        cpu[$fn]="${cpu[$fn]:-} $c"
    done
done
best() { tr ' ' '\n' | grep . | sort -g | head -n 1; } # the best of a round's figures
t_plugin=$(best <<<"${wall[ftplens_run]}")
t_lua=$(best <<<"${wall[lua_run]}")
t_builtin=$(best <<<"${wall[builtin_run]}")
c_plugin=$(best <<<"${cpu[ftplens_run]}")
c_lua=$(best <<<"${cpu[lua_run]}")
c_builtin=$(best <<<"${cpu[builtin_run]}")
echo "capture: $(du -h "$work/big.pcap" | cut -f1), $(tail -n 1 "$work/gen.txt")"
for r in ftplens_run lua_run builtin_run; do
    echo "$r: commands $(cut -f1 "$work/$r.out" | grep -c .), data packets tied to a setup frame $(cut -f3 "$work/$r.out" | grep -c .)"
done
cmp -s "$work/ftplens_run.out" "$work/lua_run.out" || echo "warning: the C plugin and the Lua fallback printed different fields"
python3 -c "print(f'tshark -2 wall time, best of $runs: C plugin {$t_plugin:.3f} s, Lua fallback {$t_lua:.3f} s, built-in ftp {$t_builtin:.3f} s')"
python3 -c "print(f'tshark -2 CPU time (user + system), best of $runs: C plugin {$c_plugin:.3f} s, Lua fallback {$c_lua:.3f} s, built-in ftp {$c_builtin:.3f} s')"
python3 -c "print(f'wall ratio C plugin/built-in {$t_plugin/$t_builtin:.2f}, Lua fallback/built-in {$t_lua/$t_builtin:.2f}')"
python3 -c "print(f'CPU ratio C plugin/built-in {$c_plugin/$c_builtin:.2f}, Lua fallback/built-in {$c_lua/$c_builtin:.2f}')"

[ "${INSTRUCTIONS:-0}" = 1 ] || exit 0
if ! command -v valgrind >/dev/null; then
    echo "INSTRUCTIONS=1: valgrind is not installed (apt-get install valgrind)" >&2
    exit 77
fi
head -c 24 "$work/big.pcap" >"$work/empty.pcap" # the pcap file header alone
chmod 644 "$work/empty.pcap"
wrap="valgrind --tool=callgrind --callgrind-out-file=/dev/null"
# The instructions one run function executed on $work/$1 (callgrind's "Collected" line).
instructions() {
    capture=$1 "$2" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
declare -A ir
for fn in ftplens_run lua_run builtin_run; do
    ir[$fn]=$(($(instructions big.pcap "$fn") - $(instructions empty.pcap "$fn")))
done
python3 - "${ir[ftplens_run]}" "${ir[lua_run]}" "${ir[builtin_run]}" <<'PY'
import sys
plugin, lua, builtin = (int(a) for a in sys.argv[1:])
print(f"instructions after start-up: C plugin {plugin / 1e9:.3f} G, Lua fallback {lua / 1e9:.3f} G, "
      f"built-in ftp {builtin / 1e9:.3f} G")
print(f"instruction ratio C plugin/built-in {plugin / builtin:.3f}, Lua fallback/built-in {lua / builtin:.3f}")
PY
