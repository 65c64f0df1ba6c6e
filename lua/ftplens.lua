-- ftplens.lua
-- The Lua fallback of the ftplens Wireshark plugin: FTP control and data connections, analysed by
-- the ftplens core through its native Lua module (ftplens/ftplens_core.so beside this file).
--
-- A C plugin loads only into the Wireshark major.minor it was built for; this script loads into any
-- Wireshark with Lua (4.0 embeds Lua 5.2, 4.4 and later 5.3 or 5.4; build the module to match:
-- `make install-lua LUA_VERSION=5.4`). It registers the same protocols (ftplens, ftplens-data), the
-- same fields and the same expert infos as the C plugin, from the same registry, so display filters
-- work with either. It parses no FTP itself: the core frames lines, parses them and says what to
-- show. It steps aside when the C plugin has registered ftplens (a duplicate protocol is fatal).
--
-- State is computed on the first pass only; re-dissection shows stored results (as the C plugin).
--
-- Data connections: Wireshark 4.0 to 4.4 have no Lua conversation API, so a predicted data channel
-- claims its port in the "tcp.port" table until its connection shows up or its transfer ends; the
-- connection found is then bound to ftplens-data through pinfo.conversation, and the port entry goes
-- (the dissector that had the port before gets it back), so a later, unrelated connection on that
-- port is not mislabelled. Where the Conversation class exists (4.6 and later), the data channel
-- is predicted as the C plugin does it: a conversation with a wildcard port.
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

package.cpath = DIR .. "/ftplens/?.so;" .. package.cpath
local loaded, core = pcall(require, "ftplens_core")

-- One line to Wireshark's log (shown by `tshark --log-level=info`), or stderr without the module.
local function note(level, text)
    if loaded then
        core.log(level, "ftplens.lua: " .. text)
    else
        io.stderr:write("ftplens.lua: ", text, "\n")
    end
end

if registered("ftplens") then
    note("info", "ftplens is already registered (the ftplens C plugin); the Lua fallback steps aside")
    return
end
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

-- Each packet leaves short-lived userdata behind (Tvb, Pinfo, TreeItem, TvbRange): collecting
-- less often (a cycle once the heap has grown tenfold, not twofold) saves about a fifth of the
-- fallback's time on large captures for some tens of MB (scripts/bench-plugin.sh).
collectgarbage("setpause", 1000)

local MAX_DEPTH = 16
-- Seconds (capture time) a predicted channel whose transfer ended keeps its port for a connection
-- that had not shown up yet (captures reorder the data connection and the final reply).
local LATE_GRACE = 5
local HAVE_CONVERSATION = type(Conversation) == "table" and type(Conversation.find) == "function"
    and type(Conversation.find_from_pinfo) == "function" and convtypes ~= nil

local proto = Proto("ftplens", "File Transfer Protocol (ftplens)")
local proto_data = Proto("ftplens-data", "FTP data channel (ftplens)")
-- The Protocol column names what is on the wire, as the built-in does; the filter names stay ftplens
-- and ftplens-data ("ftp" is the built-in's). Lua 4.0's Proto cannot tell whether the user disabled it
-- (no enabled attribute), so unlike the C plugin this script cannot give port 21 back to the built-in
-- by itself: see the README ("Switching between ftplens and the built-in").
local COLUMN_CONTROL = "FTP"
local COLUMN_DATA = "FTP-DATA"

-- ------------------------------------------------------------------------ fields and experts

local FIELDS = core.fields   -- { abbrev, name, blurb, type, role, data }, 1-based, as items name them
local PF = {}                -- ProtoField per registry position
local EX = {}                -- ProtoExpert per registry position

do
    local ctrl, data = {}, {}
    local frametypes = { request = frametype.REQUEST, response = frametype.RESPONSE, plain = frametype.NONE }
    for i, f in ipairs(FIELDS) do
        local pf
        if f.type == "string" then
            pf = ProtoField.string(f.abbrev, f.name, base.NONE, f.blurb)
        elseif f.type == "uint" then
            pf = ProtoField.uint64(f.abbrev, f.name, base.DEC, nil, nil, f.blurb)
        elseif f.type == "bool" then
            pf = ProtoField.bool(f.abbrev, f.name, base.NONE, nil, nil, f.blurb)
        elseif f.type == "frame" then
            pf = ProtoField.framenum(f.abbrev, f.name, base.NONE, frametypes[f.role], nil, f.blurb)
        elseif f.type == "reltime" then
            pf = ProtoField.relative_time(f.abbrev, f.name, f.blurb)
        elseif f.type == "ipv4" then
            pf = ProtoField.ipv4(f.abbrev, f.name, f.blurb)
        elseif f.type == "ipv6" then
            pf = ProtoField.ipv6(f.abbrev, f.name, f.blurb)
        else
            pf = ProtoField.none(f.abbrev, f.name, f.blurb)
        end
        PF[i] = pf
        if f.data then data[#data + 1] = pf else ctrl[#ctrl + 1] = pf end
    end
    proto.fields = ctrl
    proto_data.fields = data

    local groups = { security = expert.group.SECURITY, protocol = expert.group.PROTOCOL,
                     malformed = expert.group.MALFORMED, sequence = expert.group.SEQUENCE,
                     response_code = expert.group.RESPONSE_CODE }
    local severities = { chat = expert.severity.CHAT, note = expert.severity.NOTE,
                         warn = expert.severity.WARN, error = expert.severity.ERROR }
    local ectrl, edata = {}, {}
    for i, e in ipairs(core.experts) do
        local pe = ProtoExpert.new(e.abbrev, e.summary, groups[e.group] or expert.group.PROTOCOL,
                                   severities[e.severity] or expert.severity.NOTE)
        EX[i] = pe
        if e.abbrev:find("^ftplens%-data%.") then edata[#edata + 1] = pe else ectrl[#ectrl + 1] = pe end
    end
    proto.experts = ectrl
    proto_data.experts = edata
end

proto.prefs.heuristic = Pref.bool("Find FTP on any TCP port", true,
    "Let the ftplens core judge the first bytes of each side of TCP connections on other ports, "
    .. "and claim those that are FTP")

proto.prefs.hide_passwords = Pref.bool("Hide passwords", false,
    "Show each password as stars in the tree, the Info column and the statistics, instead of in "
    .. "clear text (the packet bytes still hold it)")

-- One preference per core limit, named as the core names it (the C plugin registers the same ones).
local LIMITS = core.limits()
for _, l in ipairs(LIMITS) do
    proto.prefs[l.name] = Pref.uint(l.title, l.default, l.help)
end

local function limit_prefs()
    local t = {}
    for _, l in ipairs(LIMITS) do t[l.name] = proto.prefs[l.name] end
    return t
end

-- ------------------------------------------------------------------------ per-file state

local tcp_table = DissectorTable.get("tcp.port")
local tls_dissector = registered("tls") and Dissector.get("tls") or nil
local tls_port_table = tls_dissector and select(2, pcall(DissectorTable.get, "tls.port")) or nil
if type(tls_port_table) ~= "userdata" then tls_port_table = nil end
local data_dissector = Dissector.get("data")

local S   -- reset by proto.init at the start of every file and every full re-dissection

local function release_all_ports()
    if not S then return end
    for port, p in pairs(S.ports) do
        tcp_table:remove(port, proto_data)
        if p.prev then tcp_table:add(port, p.prev) end
    end
    S.ports = {}
    for port, prev in pairs(S.tls_ports) do
        tls_port_table:remove(port, proto)
        tls_port_table:add(port, prev)
    end
    S.tls_ports = {}
end

local function init_state()
    release_all_ports()
    S = {
        conns = {},       -- connection key -> control state (first pass)
        pdus = {},        -- "frame:k" -> stored record of one fed PDU
        earlier = {},     -- frame -> items that later frames added to it (response_in)
        tls_frames = {},  -- frame -> true: the control connection is TLS there
        partial = {},     -- frame -> true: only the start of a line (TCP reassembles it further)
        tls_app = {},     -- frame -> true: decrypted control lines (TLS keys given)
        tls_data = {},    -- frame -> channel: decrypted protected data
        data_conns = {},  -- connection key -> channel (first pass)
        data_frames = {}, -- frame -> channel
        ports = {},       -- port -> { chans = {channel...}, prev = Dissector or nil } (no Conversation API)
        tls_ports = {},   -- port -> the Dissector that tls.port had there before an FTPS control connection
        in_tls = 0,       -- > 0 while TLS dissects a control connection's records for tls_takes_over
        sessions = 0,
        ctrl = {},        -- control states with a core session, finished after the first pass
        finished = false, -- the first pass is over
    }
end
init_state()
proto.init = init_state

-- ------------------------------------------------------------------------ helpers

local function endpoints(pinfo)
    return tostring(pinfo.src), pinfo.src_port, tostring(pinfo.dst), pinfo.dst_port
end

-- The same key for both directions of a TCP connection.
local function conn_key(pinfo)
    local sa, sp, da, dp = endpoints(pinfo)
    local a, b = sa .. "/" .. sp, da .. "/" .. dp
    if a < b then return a .. "|" .. b, 0 end
    return b .. "|" .. a, 1
end

-- Reached through the tcp.port table (a connection that has no conversation dissector yet)?
local function via_port_table(pinfo)
    local m = pinfo.match_uint
    return m == pinfo.src_port or m == pinfo.dst_port
end

local function address(ip)
    if not ip then return nil end
    if ip:find(":", 1, true) then return Address.ipv6(ip) end
    return Address.ip(ip)
end

-- ------------------------------------------------------------------------ rendering

-- Add items to root, nesting by depth, exactly as the C plugin's render_items. own_bytes: offsets
-- point into tvb (else every item is generated and covers no bytes).
local function render_items(root, tvb, items, own_bytes)
    if not items then return end
    local owner = {}
    local valid = 0
    local captured = tvb:len()
    for _, it in ipairs(items) do
        local f, pf = FIELDS[it.field], PF[it.field]
        if f and pf then
            local d = it.depth < MAX_DEPTH and it.depth or MAX_DEPTH - 1
            if d > valid then d = valid end
            local parent = d == 0 and root or owner[d - 1]
            local off, len = 0, 0
            if own_bytes and it.length > 0 and it.offset + it.length <= captured then
                off, len = it.offset, it.length
            end
            local range = tvb(off, len)
            local pi
            if f.type == "string" then
                pi = parent:add(pf, range, it.value or "")
            elseif f.type == "uint" then
                pi = parent:add(pf, range, UInt64.new(it.lo or 0, it.hi or 0))
            elseif f.type == "bool" then
                pi = parent:add(pf, range, it.value and true or false)
            elseif f.type == "frame" then
                pi = parent:add(pf, range, it.value or 0)
            elseif f.type == "reltime" then
                pi = parent:add(pf, range, NSTime.new(it.secs or 0, it.nsecs or 0))
            elseif f.type == "ipv4" or f.type == "ipv6" then
                pi = parent:add(pf, range, address(it.value))
            elseif it.value and it.value ~= "" then
                pi = parent:add(pf, range, it.value)
            else
                pi = parent:add(pf, range)
            end
            if it.generated or len == 0 then pi:set_generated() end
            if it.expert and EX[it.expert] then
                pi:add_proto_expert_info(EX[it.expert], it.message or "")
            end
            owner[d] = pi
            valid = d + 1
        end
    end
end

-- ------------------------------------------------------------------------ data channels

local function get_channel(cs, id)
    local ch = cs.channels[id]
    if not ch then
        ch = { session = cs.id, id = id, items = {}, tls = cs.prot_p, sess = cs.sess }
        cs.channels[id] = ch
    end
    return ch
end

local function release_port(port)
    local p = S.ports[port]
    if not p then return end
    tcp_table:remove(port, proto_data)
    if p.prev then tcp_table:add(port, p.prev) end
    S.ports[port] = nil
end

-- The channel no longer waits for a connection: drop it from its ports, and port entries left empty.
local function unclaim(ch)
    for _, port in ipairs(ch.ports or {}) do
        local p = S.ports[port]
        if p then
            for i, c in ipairs(p.chans) do
                if c == ch then table.remove(p.chans, i) break end
            end
            if #p.chans == 0 then release_port(port) end
        end
    end
    ch.ports = nil
end

-- Channels whose transfer ended without their connection showing up give their ports back.
local function sweep(now)
    for port, p in pairs(S.ports) do
        for i = #p.chans, 1, -1 do
            local ch = p.chans[i]
            if ch.ended_ts and now - ch.ended_ts > LATE_GRACE then table.remove(p.chans, i) end
        end
        if #p.chans == 0 then release_port(port) end
    end
end

local function claim_port(ch, port)
    ch.ports = ch.ports or {}
    ch.ports[#ch.ports + 1] = port
    local p = S.ports[port]
    if not p then
        p = { chans = {}, prev = tcp_table:get_dissector(port) }
        tcp_table:add(port, proto_data)
        S.ports[port] = p
    end
    p.chans[#p.chans + 1] = ch
end

-- A DATA_EXPECTED event: the C plugin's expect_data.
local function expect_data(cs, pinfo, ev)
    local ch = get_channel(cs, ev.channel)
    ch.sess = cs.sess
    if HAVE_CONVERSATION then
        local listeners = { ev.listener or cs.server_ip, ev.alt_listener }
        for i = 1, 2 do
            local ip = listeners[i]
            if ip then
                local conv = Conversation.find(pinfo.number, convtypes.TCP, address(ip), address(ev.peer),
                                               ev.port, 0, true)
                if conv then
                    conv.dissector = proto_data
                    conv[proto_data] = ch
                end
            end
        end
        return
    end
    -- The core names the ports (a connection without its SYN is offered to its lower port first).
    for _, port in ipairs(ev.ports) do claim_port(ch, port) end
end

-- Which predicted channel a new connection on a claimed port carries (the newest that matches).
local function bind(pinfo, key, port)
    local p = S.ports[port]
    if not p then return nil end
    local sa, sp, da, dp = endpoints(pinfo)
    for i = #p.chans, 1, -1 do
        local ch = p.chans[i]
        if not ch.bound and ch.sess:matches(ch.id, sa, sp, da, dp) then
            ch.bound = true
            S.data_conns[key] = ch
            pinfo.conversation = proto_data
            unclaim(ch)
            return ch
        end
    end
    return nil
end

-- Not ours after all: the dissector that had the port before, else the next candidate of tcp.
local function delegate(port, tvb, pinfo, tree)
    local p = S.ports[port]
    if p and p.prev then return p.prev:call(tvb, pinfo, tree) end
    return 0
end

local finish_sessions -- defined with the control connections, below
-- Whether the native module may add a data packet's items itself (checked once: the tree is a
-- Wireshark TreeItem); it is many times faster than one Lua call per item.
local native_draw

-- Decimal text of a byte count (Lua 5.2 formats every number through printf; most counts repeat).
local DEC = setmetatable({}, { __index = function(t, n)
    local s = string.format("%d", n)
    t[n] = s
    return s
end })

-- Every data packet comes here (twice with tshark -2): the work per packet is kept to table
-- lookups, and the channel's items are drawn by the native module.
function proto_data.dissector(tvb, pinfo, tree)
    local visited, frame = pinfo.visited, pinfo.number
    if visited and not S.finished then finish_sessions() end
    local ch
    if HAVE_CONVERSATION then
        local conv = Conversation.find_from_pinfo(pinfo, false)
        ch = conv and conv[proto_data]
        if ch then S.data_frames[frame] = ch end
    elseif not visited then
        local key = conn_key(pinfo)
        if via_port_table(pinfo) and S.ports[pinfo.match_uint] then
            sweep(pinfo.abs_ts)
            ch = bind(pinfo, key, pinfo.match_uint)
            if not ch then return delegate(pinfo.match_uint, tvb, pinfo, tree) end
        else
            ch = S.data_conns[key]
        end
        if ch then S.data_frames[frame] = ch end
    else
        ch = S.data_frames[frame]
        if not ch and via_port_table(pinfo) then return delegate(pinfo.match_uint, tvb, pinfo, tree) end
    end
    if not ch then return 0 end

    local n = DEC[tvb:reported_len()]
    local cols = pinfo.cols
    cols.protocol = COLUMN_DATA
    cols.info = "FTP data, " .. n .. " bytes" .. (ch.info_suffix or "")
    local ti = tree:add(proto_data, tvb())
    ti:append_text(" (" .. n .. " bytes)")
    if native_draw == nil then native_draw = debug.getmetatable(ti) == debug.getregistry().TreeItem end
    if not (native_draw and ch.sess and ch.sess:draw_channel(ti, ch.id)) then
        render_items(ti, tvb, ch.items, false)
    end

    if ch.tls and tls_dissector then return tls_dissector:call(tvb, pinfo, tree) end
    data_dissector:call(tvb, pinfo, tree)
    return tvb:len()
end

-- ------------------------------------------------------------------------ control connections

local function start_session(cs, pinfo, src_is_server)
    local sa, sp, da, dp = endpoints(pinfo)
    local client_ip, client_port
    if src_is_server then
        cs.server_ip, cs.server_port, client_ip, client_port = sa, sp, da, dp
    else
        cs.server_ip, cs.server_port, client_ip, client_port = da, dp, sa, sp
    end
    cs.sess = core.new_session(client_ip, client_port, cs.server_ip, cs.server_port, limit_prefs())
    cs.sess:hide_passwords(proto.prefs.hide_passwords)
    S.ctrl[#S.ctrl + 1] = cs
    S.sessions = S.sessions + 1
    cs.id = S.sessions
end

local function sent_to_server(cs, pinfo)
    return pinfo.dst_port == cs.server_port and tostring(pinfo.dst) == cs.server_ip
end

-- A transfer's command and file for the data packets' Info column; ended channels free their port.
local function note_transfer(cs, ts, ev)
    local ch = get_channel(cs, ev.channel)
    ch.tls = ev.tls
    if ev.kind == "transfer_ended" then
        if ev.channel ~= 0 and not ch.ended_ts then
            ch.ended_ts = ts
            if ch.bound then unclaim(ch) end
        end
        return
    end
    if ch.command then return end
    ch.command = ev.command
    ch.file = ev.arg
    ch.info_suffix = " (" .. ev.command .. (ev.arg ~= "" and " " or "") .. ev.arg .. ")"
end

-- The items a later frame added to frame f (such as response_in on a request).
local function earlier_list(f)
    local l = S.earlier[f]
    if not l then l = {}; S.earlier[f] = l end
    return l
end

-- Keep a feed's (or finish's) items, each with its destination: this frame (frame_items, or when
-- that is nil among the items later frames add to `frame`), an earlier frame, or a data channel.
local function keep_items(cs, r, frame, frame_items)
    for _, it in ipairs(r.items) do
        local l
        if it.target == "earlier" and it.frame ~= frame then
            l = earlier_list(it.frame)
        elseif it.target == "channel" then
            l = get_channel(cs, it.channel).items
        else
            l = frame_items or earlier_list(frame)
        end
        l[#l + 1] = it
    end
end

-- After the first pass (the first call on a visited frame), as the C plugin does in its
-- post-sequential routine: every connection is over, so transfers still open get their outcome.
function finish_sessions()
    S.finished = true
    for _, cs in ipairs(S.ctrl) do
        local ok, r = pcall(cs.sess.finish, cs.sess, cs.last_frame or 0, cs.last_ts or 0)
        if ok then
            for _, ev in ipairs(r.events) do
                if ev.kind == "transfer_ended" then note_transfer(cs, cs.last_ts or 0, ev) end
            end
            keep_items(cs, r, cs.last_frame or 0, nil)
        end
        cs.sess = nil
        cs.finished = true
    end
    S.ctrl = {}
end

-- First pass: feed whole lines to the session; keep what it says.
local function feed_pdu(cs, pinfo, bytes, to_server)
    local rec = { items = {}, summary = "", to_server = to_server }
    if not cs.sess then
        rec.summary = "(ftplens: no session)"
        return rec
    end
    local ok, r = pcall(cs.sess.feed, cs.sess, to_server, bytes, pinfo.number, pinfo.abs_ts)
    if not ok then
        rec.summary = "(ftplens core error)"
        return rec
    end
    for _, ev in ipairs(r.events) do
        if ev.kind == "data_expected" then
            expect_data(cs, pinfo, ev)
        elseif ev.kind == "transfer_started" or ev.kind == "transfer_ended" then
            note_transfer(cs, pinfo.abs_ts, ev)
        elseif ev.kind == "tls_upgrade" then
            rec.tls_upgrade = true
        elseif ev.kind == "data_protected" then
            cs.prot_p = true
        end
    end
    keep_items(cs, r, pinfo.number, rec.items)
    cs.last_frame, cs.last_ts = pinfo.number, pinfo.abs_ts
    rec.summary = r.summary
    if not HAVE_CONVERSATION then sweep(pinfo.abs_ts) end
    return rec
end

-- The how-many-th PDU of this frame the current call is (0-based), counted afresh on each pass.
local function next_pdu_key(pinfo)
    local priv = pinfo.private
    local k = tonumber(priv["ftplens_pdu"]) or 0
    priv["ftplens_pdu"] = tostring(k + 1)
    return k
end

-- Wireshark 4.6 and later give the decrypted payload on a port that the tls.port table names to that
-- dissector before they try heuristics (preference tls.try_heuristic_first, 443 only by default): on
-- 465, 636, 853, 993, 995, 2221 and some 30 other ports the FTP lines would go to SMTP, LDAP, DNS, IMAP,
-- POP3, EtherNet/IP..., never to tls_app_heuristic. The C plugin names itself as TLS's app-data dissector for
-- the one connection (ssl_starttls_ack); Lua cannot, so the port is taken in tls.port for this file,
-- as Decode As would, and given back by proto.init. TLS connections on that port that are not FTP
-- are turned away by proto.dissector (and then shown as data).
local function claim_tls_port(port)
    if not tls_port_table or S.tls_ports[port] then return end
    local prev = tls_port_table:get_dissector(port)
    if prev == nil or tostring(prev) == "ftplens" then return end -- no rival: TLS tries heuristics
    S.tls_ports[port] = prev
    tls_port_table:add(port, proto)
end

-- Dissect whole lines of a claimed control connection.
local function dissect_ctrl_lines(tvb, pinfo, tree, cs)
    local len = tvb:len()
    local rec, k
    if not pinfo.visited then
        -- The core says how much is whole lines; an unfinished line waits for TCP to bring the rest
        -- (except while the core skips an over-long line: those bytes are fed as they come).
        local buf = tvb:raw(0, len)
        local to_server = sent_to_server(cs, pinfo)
        local prefix = len
        if cs.sess and pinfo.can_desegment > 0 then
            prefix = cs.sess:complete_prefix(to_server, buf)
        end
        if prefix == 0 then
            pinfo.desegment_offset = 0
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            S.partial[pinfo.number] = true
            return len
        end
        k = next_pdu_key(pinfo)
        rec = feed_pdu(cs, pinfo, prefix < len and buf:sub(1, prefix) or buf, to_server)
        rec.prefix = prefix
        if #rec.items > 0 or rec.summary ~= "" or rec.tls_upgrade or prefix < len then
            S.pdus[pinfo.number .. ":" .. k] = rec
        else
            -- Bytes of an over-long line being skipped: nothing to keep but the mark.
            S.partial[pinfo.number] = true
            rec = nil
        end
        if rec and rec.tls_upgrade then
            cs.tls_after = pinfo.number
            claim_tls_port(cs.server_port)
        end
    else
        k = next_pdu_key(pinfo)
        rec = S.pdus[pinfo.number .. ":" .. k]
    end
    local prefix = rec and rec.prefix or len
    if prefix < len and pinfo.can_desegment > 0 then
        pinfo.desegment_offset = prefix
        pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
    end

    pinfo.cols.protocol = COLUMN_CONTROL
    local ti = tree:add(proto, tvb(0, prefix))
    if not rec then
        ti:append_text(" (inside an over-long line: skipped)")
        return len
    end
    if rec.summary ~= "" then -- a feed that completes no line (a long line's middle) leaves TCP's Info
        if k == 0 then pinfo.cols.info:clear() end -- keeps what TCP fenced ("[TCP ACKed unseen segment]")
        if tostring(pinfo.cols.info) ~= "" then
            pinfo.cols.info:append(" | " .. rec.summary)
        else
            pinfo.cols.info:append(rec.summary)
        end
    end
    ti:append_text(rec.to_server and ", to server" or ", to client")

    render_items(ti, tvb, rec.items, true)
    if k == 0 then render_items(ti, tvb, S.earlier[pinfo.number], false) end
    return len
end

-- After the TLS upgrade the core reported, the control connection carries TLS records, and whole clear lines
-- again once the TLS session is closed (RFC 2228 section 3). TLS gets the records (the C plugin hands the
-- connection to TLS with ssl_starttls_ack, which Lua lacks); the clear lines go to the core as before.
local function tls_takes_over(tvb, pinfo, tree, cs)
    if not tls_dissector then return nil end
    if pinfo.visited then
        if not S.tls_frames[pinfo.number] then return nil end
    else
        if not (cs and cs.tls_after and pinfo.number > cs.tls_after) then return nil end
        if core.clear_lines(tvb:raw()) then return nil end
        S.tls_frames[pinfo.number] = true
    end
    -- TLS stands where the C plugin's ssl_starttls_ack puts it, right above TCP: give it this level's
    -- right to ask TCP for more segments (each dissector call lowers can_desegment by one).
    pinfo.can_desegment = pinfo.can_desegment + 1
    S.in_tls = S.in_tls + 1
    local ok, r = pcall(tls_dissector.call, tls_dissector, tvb, pinfo, tree)
    S.in_tls = S.in_tls - 1
    if not ok then error(r, 0) end
    return r
end

-- With the TLS keys, TLS offers the decrypted payload to its heuristics: the control connection's
-- lines go on to the core (as the C plugin gets them through ssl_starttls_ack's app handle).
local function tls_app_heuristic(tvb, pinfo, tree)
    if pinfo.visited then
        if not S.tls_app[pinfo.number] then return false end
        dissect_ctrl_lines(tvb, pinfo, tree, nil)
        return true
    end
    local cs = S.conns[conn_key(pinfo)]
    if not (cs and cs.sess and cs.tls_after and pinfo.number > cs.tls_after) then return false end
    S.tls_app[pinfo.number] = true
    dissect_ctrl_lines(tvb, pinfo, tree, cs)
    return true
end

-- The decrypted payload of a protected data channel: shown as data under ftplens-data (the C plugin's
-- ftplens-data.tls).
local function tls_data_heuristic(tvb, pinfo, tree)
    local ch
    if pinfo.visited then
        ch = S.tls_data[pinfo.number]
    else
        ch = S.data_frames[pinfo.number]
        if ch and ch.tls then S.tls_data[pinfo.number] = ch else ch = nil end
    end
    if not ch then return false end
    data_dissector:call(tvb, pinfo, tree)
    return true
end

local function new_conn_state()
    return { channels = {}, heur_checked = {}, prot_p = false }
end

-- The control dissector, as registered on tcp.port 21 (and set on claimed connections).
function proto.dissector(tvb, pinfo, tree)
    if S.in_tls > 0 then -- TLS hands back decrypted lines through the tls.port entry (claim_tls_port)
        return tls_app_heuristic(tvb, pinfo, tree) and tvb:len() or 0
    end
    if S.tls_ports[pinfo.match_uint] then
        -- Only TLS calls ftplens with a claimed port as match_uint: another TLS connection on it.
        local cs = S.conns[conn_key(pinfo)]
        if not (cs and cs.sess) then return 0 end
    end
    if pinfo.visited then
        if not S.finished then finish_sessions() end
        local t = tls_takes_over(tvb, pinfo, tree, nil)
        if t then return t end
        -- A claimed connection's earlier frames are not ftplens (the C plugin sets its conversation
        -- dissector from the claiming frame on; pinfo.conversation covers the whole conversation).
        local n = pinfo.number
        if not S.pdus[n .. ":0"] and not S.partial[n] and not via_port_table(pinfo) then return 0 end
        return dissect_ctrl_lines(tvb, pinfo, tree, nil)
    end

    local key = conn_key(pinfo)
    local cs = S.conns[key]
    if cs and cs.sess and via_port_table(pinfo) then
        -- Claimed connections come through their conversation; through the port table comes a new
        -- TCP connection that reuses the endpoints of an old one.
        cs = nil
    end
    if not cs then
        cs = new_conn_state()
        S.conns[key] = cs
    end
    local t = tls_takes_over(tvb, pinfo, tree, cs)
    if t then return t end
    if not cs.sess and not cs.finished then
        -- Who is the server? The core's verdict on these bytes, else the registered port.
        local v = core.classify(tvb:raw())
        local src_is_server
        if v == "server" then
            src_is_server = true
        elseif v == "client" then
            src_is_server = false
        elseif pinfo.match_uint == pinfo.dst_port then
            src_is_server = false
        elseif pinfo.match_uint == pinfo.src_port then
            src_is_server = true
        else
            src_is_server = pinfo.src_port < pinfo.dst_port
        end
        start_session(cs, pinfo, src_is_server)
        pinfo.conversation = proto
    end
    return dissect_ctrl_lines(tvb, pinfo, tree, cs)
end

-- The heuristic: the core judges the first payload of each side; a verdict claims the connection.
local function heuristic(tvb, pinfo, tree)
    if not proto.prefs.heuristic or pinfo.visited then return false end
    local key, side = conn_key(pinfo)
    local cs = S.conns[key]
    if cs and cs.sess then
        -- A claimed connection comes through its conversation: this is a new one on the same endpoints.
        cs = nil
    end
    if cs and cs.heur_rejected then return false end
    if cs and cs.heur_checked[side] then return false end

    local v = core.classify(tvb:raw())
    if v == "unsure" then return false end -- look again at the next payload of this side

    if not cs then
        cs = new_conn_state()
        S.conns[key] = cs
    end
    cs.heur_checked[side] = true
    if v ~= "server" and v ~= "client" then
        if v == "not_ftp" and cs.heur_checked[1 - side] then cs.heur_rejected = true end
        return false
    end
    start_session(cs, pinfo, v == "server")
    pinfo.conversation = proto
    dissect_ctrl_lines(tvb, pinfo, tree, cs)
    return true
end

tcp_table:add(21, proto)
tcp_table:add_for_decode_as(proto_data)
proto:register_heuristic("tcp", heuristic)
proto:register_heuristic("tls", tls_app_heuristic)
proto_data:register_heuristic("tls", tls_data_heuristic)
