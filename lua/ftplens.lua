-- ftplens.lua
-- The Lua fallback of the ftplens Wireshark plugin: glue over the ftplens core's dissector (the
-- Rust type the C plugin uses too), reached through the native module ftplens/ftplens_core.so.
--
-- A C plugin loads only into the Wireshark major.minor it was built for; this script loads into any
-- Wireshark with Lua (4.0 embeds Lua 5.2, 4.4 and later 5.3 or 5.4; build the module to match:
-- `make install-lua LUA_VERSION=5.4`). It registers the same protocols (ftplens, ftplens-data), fields,
-- expert infos and preferences as the C plugin, from the core's registries, so display filters work with
-- either. It knows no FTP: it offers TCP segments to the core on the first pass, does what the core
-- asks (claim a port for a predicted data connection, hand a control connection to TLS) and draws what
-- the core stored for each frame, on every pass. It steps aside when the C plugin is there.
--
-- Data connections: Lua has no call to predict a conversation before 4.6, so a predicted connection's
-- port is claimed in the "tcp.port" table; the core says whether a connection there is the one
-- predicted (another goes on to the dissector that had the port). The one found is bound to
-- ftplens-data through pinfo.conversation and the port goes back to that dissector.
--
-- Copyright 2025, the ftplens authors
--
-- SPDX-License-Identifier: GPL-2.0-or-later

local SCRIPT = debug.getinfo(1, "S").source:gsub("^@", "")
local DIR = SCRIPT:match("^(.*)[/\\][^/\\]*$") or "."

local function registered(name)
    local ok, d = pcall(Dissector.get, name)
    return ok and d ~= nil
end

-- One line on stderr; an "info" line only when WIRESHARK_LOG_LEVEL asks for it (Wireshark's Lua has no
-- call into its log, and the module takes nothing from libwsutil, so --log-level does not reach here).
local function note(level, text)
    local asked = (os.getenv("WIRESHARK_LOG_LEVEL") or ""):lower()
    if level == "info" and asked ~= "info" and asked ~= "debug" and asked ~= "noisy" then return end
    io.stderr:write("ftplens.lua: ", text, "\n")
end

if registered("ftplens") then
    note("info", "ftplens is already registered (the ftplens C plugin); the Lua fallback steps aside")
    return
end
package.cpath = DIR .. "/ftplens/?.so;" .. package.cpath
local loaded, core = pcall(require, "ftplens_core")
if not loaded then
    note("warning", "cannot load the native module " .. DIR .. "/ftplens/ftplens_core.so ("
        .. tostring(core):gsub("\n", " ") .. "); the Lua fallback is off")
    return
end
if _VERSION ~= "Lua " .. core.lua_version then
    note("warning", "ftplens_core.so was built for Lua " .. core.lua_version .. " but this Wireshark has "
        .. _VERSION .. " (make install-lua LUA_VERSION=...); the Lua fallback is off")
    return
end

local NAME_CONTROL, NAME_DATA = "File Transfer Protocol (ftplens)", "FTP data channel (ftplens)"
local proto, proto_data = Proto("ftplens", NAME_CONTROL), Proto("ftplens-data", NAME_DATA)
-- The Protocol column names what is on the wire, as the built-in does; the filter names stay ftplens.
-- Lua 4.0's Proto cannot tell whether the user disabled it, so the built-in comes back with Decode As
-- (see the README, "Switching between ftplens and the built-in").
local COLUMN_CONTROL, COLUMN_DATA = "FTP", "FTP-DATA"
local OFFER_PORT, OFFER_HEURISTIC, OFFER_EXPECTED = 0, 1, 2 -- how a segment reached the script
local CONTROL, DATA = 1, 2                                   -- the core's claims (0: not yet, 3: not FTP)
local TLS_RECORD = 3                                         -- a view kind: TLS's frame, not ftplens's

-- ------------------------------------------------------------------------ registration (the core's)

local PF, EX = {}, {} -- ProtoField and ProtoExpert by registry position, as draw lists name them
do
    local ctrl, data = {}, {}
    local roles = { request = frametype.REQUEST, response = frametype.RESPONSE, plain = frametype.NONE }
    local make = {
        string = function(f) return ProtoField.string(f.abbrev, f.name, base.NONE, f.blurb) end,
        uint = function(f) return ProtoField.uint64(f.abbrev, f.name, base.DEC, nil, nil, f.blurb) end,
        bool = function(f) return ProtoField.bool(f.abbrev, f.name, base.NONE, nil, nil, f.blurb) end,
        frame = function(f) return ProtoField.framenum(f.abbrev, f.name, base.NONE, roles[f.role], nil, f.blurb) end,
        reltime = function(f) return ProtoField.relative_time(f.abbrev, f.name, f.blurb) end,
        ipv4 = function(f) return ProtoField.ipv4(f.abbrev, f.name, f.blurb) end,
        ipv6 = function(f) return ProtoField.ipv6(f.abbrev, f.name, f.blurb) end,
        none = function(f) return ProtoField.none(f.abbrev, f.name, f.blurb) end,
    }
    for i, f in ipairs(core.fields) do
        PF[i] = (make[f.type] or make.none)(f)
        local list = f.data and data or ctrl
        list[#list + 1] = PF[i]
    end
    proto.fields, proto_data.fields = ctrl, data

    local ectrl, edata = {}, {}
    for i, e in ipairs(core.experts) do -- group and severity named as expert.group.* and expert.severity.*
        EX[i] = ProtoExpert.new(e.abbrev, e.summary, expert.group[e.group], expert.severity[e.severity])
        local list = e.abbrev:find("^ftplens%-data%.") and edata or ectrl
        list[#list + 1] = EX[i]
    end
    proto.experts, proto_data.experts = ectrl, edata
end

proto.prefs.heuristic = Pref.bool("Find FTP on any TCP port", true,
    "Let the ftplens core judge the first bytes of each side of TCP connections on other ports, "
    .. "and claim those that are FTP")
proto.prefs.hide_passwords = Pref.bool("Hide passwords", false,
    "Show each password as stars in the tree, the Info column and the statistics, instead of in "
    .. "clear text (the packet bytes still hold it)")
for _, l in ipairs(core.limits) do proto.prefs[l.name] = Pref.uint(l.title, l.default, l.help) end

local tcp_table = DissectorTable.get("tcp.port")
local tls_dissector = registered("tls") and Dissector.get("tls") or nil
local tls_port_table = tls_dissector and select(2, pcall(DissectorTable.get, "tls.port")) or nil
if type(tls_port_table) ~= "userdata" then tls_port_table = nil end
local data_dissector = Dissector.get("data")
local text_dissector = registered("data-text-lines") and Dissector.get("data-text-lines") or data_dissector
-- tcp.stream and tcp.seq where the pass has a tree (not tshark -2's first pass: the core numbers
-- connections by their endpoints and takes segments in order then).
local f_stream, f_seq = Field.new("tcp.stream"), Field.new("tcp.seq")

local G        -- the core's dissector for this file
local ports    -- claimed tcp.port entries: port -> { n = predictions waiting, prev = Dissector or nil }
local tls_ports -- claimed tls.port entries: port -> the Dissector that had it
local finished, in_tls

local function init()
    for port, p in pairs(ports or {}) do
        tcp_table:remove(port, proto_data)
        if p.prev then tcp_table:add(port, p.prev) end
    end
    for port, prev in pairs(tls_ports or {}) do
        tls_port_table:remove(port, proto)
        tls_port_table:add(port, prev)
    end
    local limits = {}
    for _, l in ipairs(core.limits) do limits[l.name] = proto.prefs[l.name] end
    -- TCP keeps out-of-order segments from every subdissector by default: the core then says so of a gap.
    local ok, hides = pcall(get_preference, "tcp.no_subdissector_on_error")
    G = core.new(limits, proto.prefs.hide_passwords, PF, EX, ok and hides == true)
    ports, tls_ports, finished, in_tls = {}, {}, false, 0
end
init()
proto.init = init

local function claim_port(port)
    local p = ports[port]
    if p then p.n = p.n + 1 return end
    ports[port] = { n = 1, prev = tcp_table:get_dissector(port) }
    tcp_table:add(port, proto_data)
end

local function release_port(port)
    local p = ports[port]
    if not p then return end
    p.n = p.n - 1
    if p.n > 0 then return end
    tcp_table:remove(port, proto_data)
    if p.prev then tcp_table:add(port, p.prev) end
    ports[port] = nil
end

-- Reached through the tcp.port table (not through a conversation that names a dissector)?
local function via_port_table(pinfo)
    local m = pinfo.match_uint
    return m == pinfo.src_port or m == pinfo.dst_port
end

-- Wireshark 4.6 and later hand the decrypted payload to the dissector the tls.port table names for the
-- port before they try heuristics: on some 36 ports (465, 990, 2221...) FTP lines would go to another
-- protocol. The C plugin names itself as TLS's application dissector for the one connection
-- (ssl_starttls_ack); Lua cannot, so the port is taken in tls.port for this file and given back by
-- proto.init. Other TLS connections on that port are turned away by proto.dissector.
local function claim_tls_port(port)
    if not tls_port_table or tls_ports[port] then return end
    local prev = tls_port_table:get_dissector(port)
    if prev == nil or tostring(prev) == "ftplens" then return end -- no rival: TLS tries heuristics
    tls_ports[port] = prev
    tls_port_table:add(port, proto)
end

local function value(field)
    local f = field()
    return f and f.value
end

-- Offer this payload to the core; claim the ports its predictions need. Returns the claim, whether the
-- payload is a TLS record of a connection handed to TLS, and whether it is a protected data payload.
-- Without a tree (tshark -2's first pass) field extractors are empty: the core then numbers the stream.
local function offer(tvb, pinfo, how, fresh, decrypted, have_tree)
    local stream, seq
    if have_tree then stream, seq = value(f_stream), value(f_seq) end
    local claim, tls_record, want, tls_started, tls_data = G:segment(pinfo.number, pinfo.abs_ts,
        tostring(pinfo.src), pinfo.src_port, tostring(pinfo.dst), pinfo.dst_port,
        stream, seq, tvb:raw(), how, fresh, decrypted)
    if want then for _, port in ipairs(want) do claim_port(port) end end
    if tls_started then claim_tls_port(pinfo.src_port) end
    return claim, tls_record, tls_data
end

local made = {} -- TreeItems of the item being drawn, by draw-list slot (0: the protocol item)
local add, set_generated, add_expert, set_text -- TreeItem's methods, looked up once (by draw)

-- Add a draw list's items (9 slots each: ProtoField, value or false, parent slot, offset, length,
-- generated, ProtoExpert or false, message, label or false) under root. In a tree nobody sees
-- (tshark -T fields, a display filter's pass) Wireshark adds only the items filters reference,
-- and marking an item generated only changes how it is displayed: those calls are saved.
local function draw(root, tvb, list)
    if not add then add, set_generated, add_expert, set_text = root.add, root.set_generated,
        root.add_proto_expert_info, root.set_text end
    local visible = root.visible
    made[0] = root
    local slot = 0
    for i = 1, #list, 9 do
        local pf, v, parent, len = list[i], list[i + 1], made[list[i + 2]], list[i + 4]
        local ti
        if len > 0 then
            local range = tvb(list[i + 3], len)
            if v == false then ti = add(parent, pf, range) else ti = add(parent, pf, range, v) end
        elseif v == false then
            ti = add(parent, pf)
        else
            ti = add(parent, pf, v)
        end
        if visible then
            if list[i + 8] then set_text(ti, list[i + 8]) end
            if list[i + 5] then set_generated(ti) end
        end
        local pe = list[i + 6]
        if pe then add_expert(ti, pe, list[i + 7]) end
        slot = slot + 1
        made[slot] = ti
    end
end

-- After the first pass (the first call on a visited frame), as the C plugin's post-sequential
-- routine: every connection is over, open transfers get their outcome.
local function visited(pinfo)
    if not pinfo.visited then return false end
    if not finished then
        finished = true
        G:finish()
    end
    return true
end

-- TLS stands where the C plugin's ssl_starttls_ack puts it, right above TCP: give it this level's
-- right to ask TCP for more segments (each dissector call lowers can_desegment by one).
local function call_tls(tvb, pinfo, tree)
    pinfo.can_desegment = pinfo.can_desegment + 1
    in_tls = in_tls + 1
    local ok, r = pcall(tls_dissector.call, tls_dissector, tvb, pinfo, tree)
    in_tls = in_tls - 1
    if not ok then error(r, 0) end
    return r
end

-- Draw the frame's view if it is of kind `want` (CONTROL or DATA); false when it is not.
local function show(tvb, pinfo, tree, want, decrypted)
    local kind, info, title, list, text, tls, own = G:view(pinfo.number, decrypted, tvb:len())
    if kind == TLS_RECORD and tls_dissector then return call_tls(tvb, pinfo, tree) end
    if kind ~= want then return false end
    local cols = pinfo.cols
    cols.protocol = want == CONTROL and COLUMN_CONTROL or COLUMN_DATA
    if info ~= "" then cols.info = info end
    -- The label in the same call: the protocol's name and the view's title.
    local ti = want == CONTROL and tree:add(proto, tvb(), NAME_CONTROL .. title)
        or tree:add(proto_data, tvb(), NAME_DATA .. title)
    draw(ti, tvb, list)
    if own then draw(ti, tvb, own) end -- a data frame's own items (listing entries)
    if want == DATA then
        if tls and tls_dissector then return tls_dissector:call(tvb, pinfo, tree) end
        if text then text_dissector:call(tvb, pinfo, tree) end -- a file's bytes: no Data tree, as the built-in
    end
    return tvb:len()
end

-- ------------------------------------------------------------------------ dissectors
-- Without a tree (tshark -2's first pass, tree.text is nil then) nothing is drawn: the core only
-- learns, and TLS still sees what it must decrypt.

-- Decrypted control lines, from TLS (its heuristics, or the claimed tls.port entry).
local function tls_app_heuristic(tvb, pinfo, tree)
    local have_tree = tree.text ~= nil
    if not visited(pinfo) then
        if offer(tvb, pinfo, OFFER_PORT, false, true, have_tree) ~= CONTROL then return false end
        if not have_tree then return true end
    end
    return show(tvb, pinfo, tree, CONTROL, true) and true or false
end

-- The decrypted payload of a protected data channel: shown as data under ftplens-data.
local function tls_data_heuristic(tvb, pinfo, tree)
    local kind, _, _, _, _, tls = G:view(pinfo.number, false, 0)
    if kind ~= DATA or not tls then return false end
    data_dissector:call(tvb, pinfo, tree)
    return true
end

-- The control dissector, as registered on tcp.port 21 (and set on claimed connections).
function proto.dissector(tvb, pinfo, tree)
    if in_tls > 0 then return tls_app_heuristic(tvb, pinfo, tree) and tvb:len() or 0 end
    if tls_ports[pinfo.match_uint] then return 0 end -- TLS with another connection on a claimed port
    if not visited(pinfo) then
        local fresh, have_tree = via_port_table(pinfo), tree.text ~= nil
        local claim, tls_record = offer(tvb, pinfo, OFFER_PORT, fresh, false, have_tree)
        if tls_record and tls_dissector then return call_tls(tvb, pinfo, tree) end
        if claim ~= CONTROL then return 0 end
        if fresh then pinfo.conversation = proto end
        if not have_tree then return tvb:len() end
    end
    return show(tvb, pinfo, tree, CONTROL, false) or 0
end

-- Not ours after all: the dissector that had the port, else the next candidate of tcp.
local function delegate(tvb, pinfo, tree)
    local p = ports[pinfo.match_uint]
    if p and p.prev then return p.prev:call(tvb, pinfo, tree) end
    return 0
end

-- Every data packet comes here (twice with tshark -2): a claimed port or a bound connection. The
-- second pass only draws; the first reads each pinfo attribute once (each read is a call into C).
function proto_data.dissector(tvb, pinfo, tree)
    if visited(pinfo) then
        return show(tvb, pinfo, tree, DATA, false) or (via_port_table(pinfo) and delegate(tvb, pinfo, tree)) or 0
    end
    local m = pinfo.match_uint
    local via_port = ports[m] ~= nil and via_port_table(pinfo)
    local have_tree = tree.text ~= nil
    local claim, _, tls = offer(tvb, pinfo, OFFER_EXPECTED, via_port, false, have_tree)
    if claim ~= DATA then return delegate(tvb, pinfo, tree) end
    if via_port then
        pinfo.conversation = proto_data
        release_port(m)
    end
    if have_tree then return show(tvb, pinfo, tree, DATA, false) or 0 end
    if tls and tls_dissector then return tls_dissector:call(tvb, pinfo, tree) end
    return tvb:len()
end

-- The heuristic: the core judges the first payload of each side; a verdict claims the connection.
local function heuristic(tvb, pinfo, tree)
    if not proto.prefs.heuristic or pinfo.visited then return false end
    local have_tree = tree.text ~= nil
    local claim = offer(tvb, pinfo, OFFER_HEURISTIC, true, false, have_tree)
    if claim ~= CONTROL and claim ~= DATA then return false end
    pinfo.conversation = claim == CONTROL and proto or proto_data
    return not have_tree or show(tvb, pinfo, tree, claim, false) and true or false
end

tcp_table:add(21, proto)
tcp_table:add_for_decode_as(proto_data)
proto:register_heuristic("tcp", heuristic)
proto:register_heuristic("tls", tls_app_heuristic)
proto_data:register_heuristic("tls", tls_data_heuristic)
