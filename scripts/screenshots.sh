#!/usr/bin/env bash
# Remake the tutorial's screenshots (docs/img/*.png) from the real Wireshark GUI.
#
#   bash scripts/screenshots.sh            all of them (a few minutes)
#   bash scripts/screenshots.sh 02 06      only those whose names start so
#
# Builds the plugin and installs it into a throwaway HOME (`HOME=<tmp> make install`), starts a
# virtual X display (Xvfb), and for each picture runs `wireshark -r CAPTURE -Y FILTER -g FRAME`
# with that HOME (or with an empty one, for the built-in dissector's view), clicks into the packet
# details, expands the last protocol's tree (End, Shift+Right), and saves the window with
# ImageMagick's `import`. The Flow Graph and the statistics window are opened by clicking the
# Statistics menu (`dialog`) and saved as their own windows. As root, Wireshark runs as nobody
# (uid 65534) through setpriv, because a root Wireshark ignores personal plugins.
#
# Captures: samples/seed-pasv.pcap (a real pyftpdlib session) and the hand-made corner cases of
# tests/captures/handmade.py (made afresh into a temporary directory): active mode from port 2020,
# a NAT'd 227, and REST before RETR; and a real directory listing session with proftpd
# (src/parse/listing/testdata/proftpd/session.pcap).
#
# Needs: wireshark (the Qt GUI), xvfb, xdotool, imagemagick, util-linux (setpriv), and what
# `make install` needs. Exit status: 0 done, 1 a picture failed, 77 a tool is missing (nothing done).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/docs/img}
W=1200 H=780
# Where the first row of the packet details sits in a ${W}x${H} Wireshark 4.0 window with the
# default pane split (the packet list above, the details below, the bytes pane hidden).
DETAILS_X=300 DETAILS_Y=434

for tool in Xvfb wireshark xdotool import; do
    if ! command -v "$tool" >/dev/null; then
        echo "screenshots.sh: skipped: $tool is not installed (apt-get install wireshark xvfb xdotool imagemagick)" >&2
        exit 77
    fi
done

work=$(mktemp -d /tmp/ftplens-shots.XXXXXX)
chmod 755 "$work"
xvfb_pid=
ws_pid=
cleanup() {
    [ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# --- the plugin in a throwaway HOME, and an empty HOME for the built-in dissector ----------------
home_ftplens=$work/home-ftplens
home_builtin=$work/home-builtin
mkdir -p "$home_ftplens" "$home_builtin"
HOME=$home_ftplens make -s install >"$work/make.log" 2>&1 || { cat "$work/make.log" >&2; exit 1; }
for h in "$home_ftplens" "$home_builtin"; do
    mkdir -p "$h/.config/wireshark" "$h/run"
    # The window's size and place (no window manager under Xvfb), no bytes pane, relative times,
    # and no warning about elevated privileges.
    cat >"$h/.config/wireshark/recent_common" <<EOF
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: $W
gui.geometry_main_height: $H
gui.geometry_main_maximized: FALSE
privs.warn_if_elevated: FALSE
EOF
    printf 'gui.byte_view_show: FALSE\ngui.time_format: RELATIVE\n' >"$h/.config/wireshark/recent"
    chmod 700 "$h/run"
done

# --- captures -------------------------------------------------------------------------------------
caps=$work/captures
mkdir -p "$caps"
cp samples/seed-pasv.pcap "$caps/"
python3 tests/captures/handmade.py "$caps/handmade" >/dev/null
cp "$caps"/handmade/{active_srcport_2020,pasv_nat_private,type_rest_between}.pcap "$caps/"
cp src/parse/listing/testdata/proftpd/session.pcap "$caps/listing-proftpd.pcap"
chmod -R a+rX "$work"
chmod 700 "$home_ftplens/run" "$home_builtin/run"
[ "$(id -u)" = 0 ] && chown -R 65534:65534 "$home_ftplens" "$home_builtin"

# --- the display ----------------------------------------------------------------------------------
exec 3>"$work/display"
Xvfb -displayfd 3 -screen 0 "$((W + 40))x$((H + 40))x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
exec 3>&-
DISPLAY=:$(head -n1 "$work/display")
export DISPLAY

# Replaces the calling (sub)shell, so that `run_as_user ... &` leaves $! = Wireshark's pid.
run_as_user() {
    local home=$1
    shift
    if [ "$(id -u)" = 0 ]; then
        exec setpriv --reuid=65534 --regid=65534 --clear-groups \
            env -i HOME="$home" DISPLAY="$DISPLAY" XDG_RUNTIME_DIR="$home/run" PATH=/usr/bin:/bin "$@"
    else
        exec env HOME="$home" XDG_RUNTIME_DIR="$home/run" "$@"
    fi
}

want=("$@")
wanted() {
    [ ${#want[@]} -eq 0 ] && return 0
    local w
    for w in "${want[@]}"; do [[ $1 == "$w"* ]] && return 0; done
    return 1
}

# shot NAME HOME CAPTURE FILTER FRAME UP [KEYS]: a picture of CAPTURE with FILTER applied and FRAME
# selected; the tree UP items above the last top-level one is expanded (-1: expand nothing), with
# all its subtrees, or, when KEYS (xdotool key names) are given, by typing them from there.
failed=0
shot() {
    local name=$1 home=$2 cap=$caps/$3 filter=$4 frame=$5 up=$6 keys=${7:-shift+Right}
    wanted "$name" || return 0
    local args=(-r "$cap" -g "$frame")
    [ -n "$filter" ] && args+=(-Y "$filter")
    run_as_user "$home" wireshark "${args[@]}" >"$work/$name.log" 2>&1 &
    ws_pid=$!
    local wid
    wid=$(timeout 60 xdotool search --sync --onlyvisible --name "$(basename "$cap")" 2>/dev/null | head -n1) || true
    if [ -z "$wid" ]; then
        echo "screenshots.sh: $name: no Wireshark window (log: $(tail -n3 "$work/$name.log"))" >&2
        failed=1
    else
        # Wait until the window is drawn (an unpainted window is all black) and the -g jump made.
        for _ in $(seq 30); do
            import -window "$wid" "$work/probe.png" 2>/dev/null &&
                [ "$(convert "$work/probe.png" -format '%[fx:mean>0]' info:)" = 1 ] && break
            sleep 0.5
        done
        sleep 1
        if [ "$up" -ge 0 ]; then
            xdotool mousemove "$DETAILS_X" "$DETAILS_Y" click 1 2>/dev/null
            sleep 0.3
            xdotool key End 2>/dev/null
            for _ in $(seq "$up"); do xdotool key Up 2>/dev/null; done
            # shellcheck disable=SC2086 # one xdotool key name per word
            xdotool key --delay 100 $keys 2>/dev/null
            xdotool mousemove "$((W - 10))" "$((H + 30))" 2>/dev/null # the pointer out of the picture
            sleep 1
        fi
        mkdir -p "$OUT"
        # 64 colours without dithering: a quarter of the size, the same picture for a GUI.
        import -window "$wid" "$work/$name.png" &&
            convert "$work/$name.png" -dither None -colors 64 "PNG8:$OUT/$name.png"
        echo "$OUT/$name.png"
    fi
    kill "$ws_pid" 2>/dev/null || true
    wait "$ws_pid" 2>/dev/null || true
    ws_pid=
}

# dialog NAME HOME CAPTURE TITLE STEPS...: opens CAPTURE, then does STEPS in the main window ("C:x,y"
# clicks there, "S:n" sleeps n seconds, anything else is an xdotool key name), waits for a window
# whose title contains TITLE and saves that window. Menus are reached by clicking where Wireshark 4.0
# draws them in a ${W}x${H} window: Qt menus without a window manager take no reliable keyboard
# navigation, and the GUI's -z accepts neither flow graphs nor stats trees.
dialog() {
    local name=$1 home=$2 cap=$caps/$3 title=$4
    shift 4
    wanted "$name" || return 0
    run_as_user "$home" wireshark -r "$cap" >"$work/$name.log" 2>&1 &
    ws_pid=$!
    local wid dwid k xy
    wid=$(timeout 60 xdotool search --sync --onlyvisible --name "$(basename "$cap")" 2>/dev/null | head -n1) || true
    if [ -z "$wid" ]; then
        echo "screenshots.sh: $name: no Wireshark window (log: $(tail -n3 "$work/$name.log"))" >&2
        failed=1
    else
        for _ in $(seq 30); do
            import -window "$wid" "$work/probe.png" 2>/dev/null &&
                [ "$(convert "$work/probe.png" -format '%[fx:mean>0]' info:)" = 1 ] && break
            sleep 0.5
        done
        sleep 1
        for k in "$@"; do
            case $k in
            C:*)
                xy=${k#C:}
                xdotool mousemove "${xy%,*}" "${xy#*,}" click 1 2>/dev/null
                ;;
            S:*) sleep "${k#S:}" ;;
            *) xdotool key "$k" 2>/dev/null ;;
            esac
            sleep 0.4
        done
        dwid=$(timeout 30 xdotool search --sync --onlyvisible --name "$title" 2>/dev/null | grep -v "^$wid\$" | head -n1) || true
        if [ -z "$dwid" ]; then
            echo "screenshots.sh: $name: no window named $title" >&2
            import -window root "$work/$name-failed.png" 2>/dev/null || true
            failed=1
        else
            xdotool mousemove "$((W + 30))" "$((H + 30))" 2>/dev/null
            sleep 2
            mkdir -p "$OUT"
            import -window "$dwid" "$work/$name.png" &&
                convert "$work/$name.png" -dither None -colors 64 "PNG8:$OUT/$name.png"
            echo "$OUT/$name.png"
        fi
    fi
    kill "$ws_pid" 2>/dev/null || true
    wait "$ws_pid" 2>/dev/null || true
    ws_pid=
}

F=$home_ftplens B=$home_builtin
# The classic session, with ftplens.
shot 01-session       "$F" seed-pasv.pcap "" 9 -1
shot 02-login         "$F" seed-pasv.pcap "ftplens.request.command == \"USER\" || ftplens.request.command == \"PASS\" || ftplens.response.code == 230" 9 0
shot 03-pasv          "$F" seed-pasv.pcap "ftplens.data.port" 12 0
shot 04-handshake     "$F" seed-pasv.pcap "tcp.port == 26758" 18 1
shot 05-retr          "$F" seed-pasv.pcap "ftplens.request.command == \"RETR\" || ftplens.response.code == 150 || ftplens.response.code == 226" 21 0
# What the built-in cannot show: the same frame with the built-in FTP dissector, then with ftplens.
shot 06-active-builtin "$B" active_srcport_2020.pcap "" 25 0
shot 07-active-ftplens "$F" active_srcport_2020.pcap "" 25 0
shot 08-nat-builtin    "$B" pasv_nat_private.pcap "" 25 0
shot 09-nat-ftplens    "$F" pasv_nat_private.pcap "" 25 0
shot 10-nat-227        "$F" pasv_nat_private.pcap "ftplens" 16 0
shot 11-rest-builtin   "$B" type_rest_between.pcap "" 33 0
shot 12-rest-ftplens   "$F" type_rest_between.pcap "" 33 0
# What ftplens adds to the classic session: the RETR's forward link to its data, a data frame's tree.
shot 13-retr-link      "$F" seed-pasv.pcap "ftplens.request.command == \"RETR\" || ftplens.response.code == 150 || ftplens.response.code == 226" 13 0
# A real LIST from proftpd (src/parse/listing/testdata/proftpd/session.pcap): the data tree
# expanded, its first entry (the 14th row: after 12 facts of the transfer) with it, and the selection
# moved down to the last entry (12 rows on: 6 facts, 6 entries) so that the pane scrolls to them.
down13=$(printf 'Down %.0s' $(seq 13))
down12=$(printf 'Down %.0s' $(seq 12))
shot 14-listing        "$F" listing-proftpd.pcap "ftplens-data.listing" 20 1 "Right $down13 Right $down12"
# The ladder: Statistics > Flow Graph, flow type "FTP (ftplens)".
dialog 15-flow-graph   "$F" seed-pasv.pcap "Flow" C:600,300 alt+s S:0.5 C:356,436 S:3 C:636,569 S:1 C:626,595 S:2
# Statistics > FTP (ftplens) > Sessions, logins and transfers.
dialog 16-sessions     "$F" seed-pasv.pcap "Sessions, logins" C:600,300 alt+s S:0.5 C:360,713 S:1 C:822,713 S:3
exit "$failed"
