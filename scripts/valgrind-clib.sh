#!/usr/bin/env bash
# The C ABI from C, under valgrind (memcheck, leaks) and under ASan + UBSan.
#
#   scripts/valgrind-clib.sh [--corpus] [FILE...]
#
# Builds fuzz/c/replay.c against the release static library (target/release/libftplens.a) twice,
# plainly and with -fsanitize=address,undefined, and replays inputs through every public function
# of include/ftplens.h the way a dissector calls them (see replay.c). Default inputs: the committed
# fuzz seeds and crash inputs (fuzz/seeds/*/*, fuzz/regressions/*/*); --corpus adds the local
# fuzzing corpus of the session and ffi targets (fuzz/corpus/{session,ffi}/, thousands of files).
# Exit status: 0 when valgrind reports no error and no leak, ASan/UBSan nothing, and every check in
# replay.c held.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=0
files=()
for a in "$@"; do
    case $a in
        --corpus) corpus=1 ;;
        *) files+=("$a") ;;
    esac
done
if [ ${#files[@]} -eq 0 ]; then
    mapfile -t files < <(find fuzz/seeds fuzz/regressions -type f 2>/dev/null | sort)
    if [ $corpus -eq 1 ]; then
        mapfile -t -O ${#files[@]} files < <(find fuzz/corpus/session fuzz/corpus/ffi -type f 2>/dev/null | sort)
    fi
fi
[ ${#files[@]} -gt 0 ] || { echo "no inputs" >&2; exit 2; }

cargo build --release --lib -q
work=$(mktemp -d /tmp/ftplens-clib.XXXXXX)
trap 'rm -rf "$work"' EXIT
libs=(target/release/libftplens.a -lgcc_s -lutil -lrt -lpthread -lm -ldl)
cc -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude fuzz/c/replay.c "${libs[@]}" -o "$work/replay"
cc -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    -Iinclude fuzz/c/replay.c "${libs[@]}" -o "$work/replay-asan"

start=$(date +%s)
echo "ASan+UBSan over ${#files[@]} inputs"
printf '%s\0' "${files[@]}" | ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    xargs -0 -n 500 "$work/replay-asan" | tail -n 1
echo "valgrind over ${#files[@]} inputs"
printf '%s\0' "${files[@]}" | xargs -0 -n 2000 \
    valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 "$work/replay" | tail -n 1
echo "done in $(($(date +%s) - start)) s: no error, no leak"
