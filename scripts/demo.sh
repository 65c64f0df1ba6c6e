#!/usr/bin/env bash
# The main job on a capture (default: the bundled seed sample): build the plugin, install it into the
# personal plugin folder, and let tshark explain the FTP session.
set -euo pipefail
cd "$(dirname "$0")/.."
capture=$(realpath "${1:-samples/seed-pasv.pcap}")

bash tests/setup.sh
tshark_as_user=(tshark)
if [ "$(id -u)" -eq 0 ]; then
    # tshark ignores personal C plugins when run as root: install into a throwaway home and run
    # tshark there as nobody.
    home=$(mktemp -d /tmp/ftplens-demo.XXXXXX)
    chmod 755 "$home"
    HOME=$home make -s install >/dev/null
    cp "$capture" "$home/capture.pcap"
    capture=$home/capture.pcap
    chmod -R a+rX "$home"
    tshark_as_user=(env HOME="$home" setpriv --reuid=65534 --regid=65534 --clear-groups tshark)
else
    make -s install >/dev/null
fi

echo "== The session, packet by packet"
"${tshark_as_user[@]}" -r "$capture" -2 -Y 'ftplens || ftplens-data'
echo
echo "== Login, password in clear, the PASV arithmetic, and the data connection it predicted"
"${tshark_as_user[@]}" -r "$capture" -2 -O ftplens,ftplens-data \
    -Y 'ftplens.user || ftplens.password || ftplens.data.port || ftplens-data.command' \
    | grep -v -E '^(Frame|Ethernet|Internet Protocol|Transmission Control) '
echo
echo "== Expert notes"
"${tshark_as_user[@]}" -r "$capture" -2 -q -z expert,note
