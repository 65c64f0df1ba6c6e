#!/bin/sh
# Prints the major.minor of the Lua a Wireshark embeds (5.2, 5.4, ...), read from its `tshark -v` on
# stdin; prints nothing when it names no Lua (a Wireshark built without Lua).
#
#   tshark -v | sh mk/lua-version.sh
#
# Two forms, both wrapped at about 80 columns, so lines are joined first:
#   Wireshark 4.0 to 4.4:  "..., with libnl 3, with Lua 5.2.4, with GnuTLS ..."  (4.0 breaks the line
#                          between "Lua" and "5.2.4")
#   Wireshark 4.6:         a feature table, "+Lua 5.4.9" among "+LZ4 1.10.0" ... ("-Lua" when absent)
tr '\n' ' ' | sed -n \
    -e 's/.*[[:space:],]with Lua[[:space:]]*\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' -e 't' \
    -e 's/.*[[:space:]]+Lua[[:space:]]*\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'
