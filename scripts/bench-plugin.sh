#!/usr/bin/env bash
# tshark -2 over one large FTP capture (a generator that ACKs every second segment, as real TCP
# does), with the ftplens C plugin, with the ftplens Lua fallback, and with the built-in ftp
# dissector, run in one go, each printing the same facts (commands, reply codes, data-channel setup
# frames). Prints the wall-time ratios to the built-in.
# Usage: scripts/bench-plugin.sh [SIZE, default 60M] [RUNS, default 3]
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

ftplens_run() {
    as_user "$work/plugin-home" tshark -n -r "$work/big.pcap" -2 --disable-protocol ftp -T fields \
        -e ftplens.request.command -e ftplens.response.code -e ftplens-data.setup_frame
}
lua_run() {
    as_user "$work/lua-home" tshark -n -r "$work/big.pcap" -2 --disable-protocol ftp -T fields \
        -e ftplens.request.command -e ftplens.response.code -e ftplens-data.setup_frame
}
builtin_run() {
    as_user "$work/plain-home" tshark -n -r "$work/big.pcap" -2 -T fields \
        -e ftp.request.command -e ftp.response.code -e ftp-data.setup-frame
}

best() { # best wall time of $runs runs of a function, in seconds; its output goes to $work/$1.out
    local fn=$1 best_t=""
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$fn" >"$work/$fn.out" 2>/dev/null
        t1=$(date +%s.%N)
        best_t=$(python3 -c "t=$t1-$t0; b='$best_t'; print(min(t, float(b)) if b else t)")
    done
    echo "$best_t"
}

t_plugin=$(best ftplens_run)
t_lua=$(best lua_run)
t_builtin=$(best builtin_run)
echo "capture: $(du -h "$work/big.pcap" | cut -f1), $(tail -n 1 "$work/gen.txt")"
for r in ftplens_run lua_run builtin_run; do
    echo "$r: commands $(cut -f1 "$work/$r.out" | grep -c .), data packets tied to a setup frame $(cut -f3 "$work/$r.out" | grep -c .)"
done
cmp -s "$work/ftplens_run.out" "$work/lua_run.out" || echo "warning: the C plugin and the Lua fallback printed different fields"
python3 -c "print(f'tshark -2 wall time, best of $runs: C plugin {$t_plugin:.2f} s, Lua fallback {$t_lua:.2f} s, built-in ftp {$t_builtin:.2f} s')"
python3 -c "print(f'ratio C plugin/built-in {$t_plugin/$t_builtin:.2f}, Lua fallback/built-in {$t_lua/$t_builtin:.2f}')"
