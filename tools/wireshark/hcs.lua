-- hcs.lua: a Wireshark dissector for hcs, the online medical appointment system.
--
-- Two protocols:
--   TCP, patient <-> center: one line per message ending in "\n" (a "\r\n"
--     from the patient is accepted): commands, replies, the counted
--     "slots <n>" block, pushes starting with "*", "error <reason>".
--     A line split over several segments is reassembled.
--   UDP, patient <-> doctor: one datagram each way, the insurance plan and
--     the answer (a cost, or "error <reason>").
--
-- Use:   wireshark -X lua_script:tools/wireshark/hcs.lua capture.pcap
--        tshark -X lua_script:tools/wireshark/hcs.lua -r capture.pcap -Y hcs
-- or copy it into ~/.local/lib/wireshark/plugins/.
-- Preferences (Edit > Preferences > Protocols > HCS, or tshark -o):
--   hcs.tcp_port       the center's TCP port (21000, as config/center.conf)
--   hcs.tls_port       the center's port when it speaks TLS (21443, as
--                      config/tls/center.conf; 0: none)
--   hcs.udp_ports      the doctors' UDP ports (41000,42000, as config/doctor*.conf)
--   hcs.show_password  show the password of "authenticate" (off: "********")
-- Over TLS: the records go to Wireshark's TLS dissector (on the TLS port, and
-- on the TCP port when a connection starts with a TLS record), and whatever it
-- can decrypt comes back here as lines. It decrypts with the session's keys:
-- a key log file (NSS format, e.g. `openssl s_client -keylogfile F`) named in
-- Preferences > Protocols > TLS, or tshark -o tls.keylog_file:F.
-- Filter fields: hcs.line, hcs.command, hcs.user, hcs.password, hcs.index,
-- hcs.reply, hcs.slots.count, hcs.slot.index, hcs.slot.day, hcs.slot.time,
-- hcs.doctor, hcs.doctor.port, hcs.push, hcs.error, hcs.insurance, hcs.price.

local hcs = Proto("hcs", "hcs appointment protocol")

local MASK = "********"
local COMMANDS = {
    authenticate = 2, -- arguments
    available = 0,
    selection = 1,
    appointment = 0,
    cancel = 0,
}

local f = {
    line = ProtoField.string("hcs.line", "Line"),
    command = ProtoField.string("hcs.command", "Command"),
    user = ProtoField.string("hcs.user", "User"),
    password = ProtoField.string("hcs.password", "Password"),
    index = ProtoField.uint32("hcs.index", "Appointment index"),
    reply = ProtoField.string("hcs.reply", "Reply"),
    count = ProtoField.uint32("hcs.slots.count", "Free slots that follow"),
    slot_index = ProtoField.uint32("hcs.slot.index", "Slot index"),
    slot_day = ProtoField.string("hcs.slot.day", "Day"),
    slot_time = ProtoField.string("hcs.slot.time", "Time"),
    doctor = ProtoField.string("hcs.doctor", "Doctor"),
    doctor_port = ProtoField.uint16("hcs.doctor.port", "Doctor's UDP port"),
    push = ProtoField.string("hcs.push", "Push (schedule change)"),
    error = ProtoField.string("hcs.error", "Error reason"),
    insurance = ProtoField.string("hcs.insurance", "Insurance plan"),
    price = ProtoField.uint32("hcs.price", "Estimated cost"),
}
hcs.fields = f

local e_malformed = ProtoExpert.new("hcs.malformed", "Not a line of the hcs protocol",
    expert.group.MALFORMED, expert.severity.WARN)
local e_error = ProtoExpert.new("hcs.error.expert", "Error reply", expert.group.RESPONSE_CODE,
    expert.severity.NOTE)
local e_short = ProtoExpert.new("hcs.slots.short", "The slots block holds fewer lines than it counts",
    expert.group.MALFORMED, expert.severity.WARN)
hcs.experts = { e_malformed, e_error, e_short }

hcs.prefs.tcp_port = Pref.uint("Center TCP port", 21000, "The health center's TCP port")
hcs.prefs.tls_port = Pref.uint("Center TLS port", 21443,
    "The health center's port when it speaks TLS (tls_cert in center.conf); 0: none")
hcs.prefs.udp_ports = Pref.range("Doctor UDP ports", "41000,42000", "The doctors' UDP ports", 65535)
hcs.prefs.show_password = Pref.bool("Show passwords", false,
    "Show the password of an authenticate line instead of " .. MASK)

-- Split s at single spaces into words and their offsets in s (0-based);
-- nil when the spacing is not the protocol's (empty line, spaces at an end, two in a row).
local function split(s)
    local words, offs = {}, {}
    if #s == 0 or s:sub(1, 1) == " " or s:sub(-1) == " " or s:find("  ", 1, true) then
        return nil
    end
    local pos = 1
    for w in s:gmatch("[^ ]+") do
        local at = s:find(w, pos, true)
        words[#words + 1], offs[#offs + 1] = w, at - 1
        pos = at + #w
    end
    return words, offs
end

-- A patient's line as it may be shown: a login (any case, any spacing) keeps its word
-- and the user, and the rest becomes the mask, unless the preference shows passwords.
local function masked(s)
    local word, user, rest = s:match("^(%a+)( +[^ ]*)(.*)$")
    if hcs.prefs.show_password or word == nil or word:lower() ~= "authenticate" or rest == "" then
        return s
    end
    return word .. user .. " " .. MASK
end

-- A plain decimal (what the center accepts as an index or a count), or nil.
local function number(w)
    if w and w:match("^%d+$") and #w <= 10 then
        return tonumber(w)
    end
    return nil
end

-- Add word i of a line (tvb range r, words and offsets) as field fld.
local function add_word(tree, fld, r, words, offs, i, value)
    return tree:add(fld, r(offs[i], #words[i]), value or words[i])
end

-- A line from the patient: a command and its arguments.
local function command_line(t, r, s, words, offs)
    local cmd = words[1]
    add_word(t, f.command, r, words, offs, 1)
    if COMMANDS[cmd] == nil then
        t:add_proto_expert_info(e_malformed, "Unknown command (the center answers error unknown-command)")
        return masked(s)
    end
    if #words - 1 ~= COMMANDS[cmd] then
        t:add_proto_expert_info(e_malformed, "Wrong arguments (the center answers error wrong-arguments)")
    end
    if cmd == "authenticate" and #words >= 3 then
        local plen = #s - offs[3]
        add_word(t, f.user, r, words, offs, 2)
        local shown = hcs.prefs.show_password and s:sub(offs[3] + 1) or MASK
        t:add(f.password, r(offs[3], plen), shown)
        return "authenticate " .. words[2] .. " " .. shown
    end
    if cmd == "selection" and #words == 2 and number(words[2]) then
        add_word(t, f.index, r, words, offs, 2, number(words[2]))
    end
    return s
end

-- Add "<index> <day> <time>" starting at word i.
local function slot_fields(t, r, words, offs, i)
    add_word(t, f.slot_index, r, words, offs, i, number(words[i]))
    add_word(t, f.slot_day, r, words, offs, i + 1)
    add_word(t, f.slot_time, r, words, offs, i + 2)
end

-- A line from the center: a reply, a slot of the list, a push or an error.
-- Returns the text for the Info column and what the line is (hcs.reply), or nil.
local function reply_line(t, r, s, words, offs)
    local n, w1 = #words, words[1]
    local got
    local function kind(k)
        t:add(f.reply, k):set_generated()
        got = k
    end
    if w1 == "*" and n >= 3 then
        kind("push")
        add_word(t, f.push, r, words, offs, 2)
        if (words[2] == "reserved" or words[2] == "removed") and n == 3 and number(words[3]) then
            add_word(t, f.slot_index, r, words, offs, 3, number(words[3]))
        elseif (words[2] == "released" or words[2] == "added") and n == 5 and number(words[3]) then
            slot_fields(t, r, words, offs, 3)
        else
            return nil
        end
        return s, got
    end
    if w1 == "error" and n >= 2 then
        kind("error")
        local item = t:add(f.error, r(offs[2], #s - offs[2]), s:sub(offs[2] + 1))
        item:add_proto_expert_info(e_error, "error " .. s:sub(offs[2] + 1))
        return s, got
    end
    if n == 1 and (w1 == "success" or w1 == "failure" or w1 == "notavailable") then
        kind(w1)
        return s, got
    end
    if n == 2 and w1 == "slots" and number(words[2]) then
        kind("slots")
        add_word(t, f.count, r, words, offs, 2, number(words[2]))
        return s, got
    end
    if n == 2 and w1 == "cancelled" and number(words[2]) then
        kind("cancelled")
        add_word(t, f.index, r, words, offs, 2, number(words[2]))
        return s, got
    end
    if w1 == "appointment" and n == 2 and words[2] == "none" then
        kind("appointment")
        return s, got
    end
    if w1 == "appointment" and n == 6 and number(words[2]) and number(words[6]) then
        kind("appointment")
        add_word(t, f.index, r, words, offs, 2, number(words[2]))
        add_word(t, f.slot_day, r, words, offs, 3)
        add_word(t, f.slot_time, r, words, offs, 4)
        add_word(t, f.doctor, r, words, offs, 5)
        add_word(t, f.doctor_port, r, words, offs, 6, number(words[6]))
        return s, got
    end
    if n == 3 and number(w1) then
        kind("slot")
        slot_fields(t, r, words, offs, 1)
        return s, got
    end
    if n == 2 and number(words[2]) and number(words[2]) <= 65535 then
        kind("booked")
        add_word(t, f.doctor, r, words, offs, 1)
        add_word(t, f.doctor_port, r, words, offs, 2, number(words[2]))
        return s, got
    end
    return nil
end

-- One line at tvb range r (its line ending excluded), added to tree; returns its Info
-- text, what it is (hcs.reply of a center's line) and its tree item.
local function dissect_line(r, tree, from_patient)
    local s = r:len() > 0 and r:string() or ""
    local t = tree:add(hcs, r)
    local words, offs = split(s)
    local info, kind
    if words ~= nil and from_patient then
        info = command_line(t, r, s, words, offs)
    elseif words ~= nil then
        info, kind = reply_line(t, r, s, words, offs)
    end
    if info == nil then
        t:add_proto_expert_info(e_malformed)
        info = from_patient and masked(s) or s
    end
    t:add(f.line, r, info)
    t:set_text((from_patient and "Patient: " or "Center: ") .. info)
    return info, kind, t
end

-- TCP: every complete line of the segment; a partial last line waits for more. The
-- slot lines that follow "slots <n>" in the same segment are shown under it.
local function dissect_tcp(tvb, pinfo, tree)
    local len, offset, infos = tvb:len(), 0, {}
    local raw = tvb:raw()
    local from_patient = pinfo.dst_port == hcs.prefs.tcp_port or
        (hcs.prefs.tls_port ~= 0 and pinfo.dst_port == hcs.prefs.tls_port)
    local block, left = nil, 0 -- the "slots <n>" item and the lines it still counts
    while offset < len do
        local nl = raw:find("\n", offset + 1, true)
        if nl == nil then
            -- A line split over segments: ask TCP for the rest of it.
            pinfo.desegment_offset = offset
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        local linelen = nl - 1 - offset
        if linelen > 0 and raw:byte(offset + linelen) == 13 then -- "\r"
            linelen = linelen - 1
        end
        local parent = tree
        if left > 0 and raw:sub(offset + 1, offset + linelen):match("^%d+ [^ ]+ [^ ]+$") then
            parent, left = block, left - 1
        elseif left > 0 then
            block:add_proto_expert_info(e_short, left .. " slot lines missing")
            left = 0
        end
        local info, kind, item = dissect_line(tvb(offset, linelen), parent, from_patient)
        if kind == "slots" then
            block, left = item, tonumber(info:match("%d+$"))
        end
        infos[#infos + 1] = info
        offset = nl
    end
    if #infos > 0 then
        pinfo.cols.protocol = "HCS"
        pinfo.cols.info = table.concat(infos, " | ")
    end
    return len
end

-- Whether port is in a range preference such as "41000,42000" or "41000-41010".
local function in_range(port, range)
    for part in range:gmatch("[^,%s]+") do
        local lo, hi = part:match("^(%d+)-(%d+)$")
        lo, hi = tonumber(lo or part), tonumber(hi or part)
        if lo ~= nil and hi ~= nil and port >= lo and port <= hi then
            return true
        end
    end
    return false
end

-- UDP: one datagram, a plan to a doctor or its answer.
local function dissect_udp(tvb, pinfo, tree)
    local s = tvb:len() > 0 and tvb:raw() or ""
    local t = tree:add(hcs, tvb(), "hcs price exchange")
    local to_doctor = in_range(pinfo.dst_port, tostring(hcs.prefs.udp_ports))
    pinfo.cols.protocol = "HCS"
    if to_doctor then
        local plan = s:gsub("[ \r\n]+$", "") -- the line end and the padding (PROTO_PRICE_PAD)
        t:add(f.insurance, tvb(0, #plan), plan)
        t:set_text("Patient to doctor: " .. plan)
        pinfo.cols.info = "price of " .. plan .. "?"
    elseif s:match("^error ") then
        t:add(f.error, tvb(6, #s - 6), s:sub(7)):add_proto_expert_info(e_error, s)
        t:set_text("Doctor: " .. s)
        pinfo.cols.info = s
    elseif s:match("^%d+$") then
        t:add(f.price, tvb(), tonumber(s))
        t:set_text("Doctor: cost " .. s)
        pinfo.cols.info = "cost " .. s
    else
        t:add_proto_expert_info(e_malformed)
        pinfo.cols.info = s
    end
    return tvb:len()
end

local tls = Dissector.get("tls")

-- Whether the segment starts with a TLS record header (change_cipher_spec,
-- alert, handshake or application_data, then version 3.x): bytes that no
-- line of the protocol starts with.
local function is_tls(tvb)
    return tvb:len() >= 5 and tvb(0, 1):uint() >= 20 and tvb(0, 1):uint() <= 23 and
        tvb(1, 1):uint() == 3
end

-- The TCP streams on hcs.tcp_port that began with a TLS record (true) or
-- with lines (false), by tcp.stream: every later segment of a TLS stream,
-- the middle of a record split over segments too, goes to TLS.
local f_stream = Field.new("tcp.stream")
local tls_streams = {}

function hcs.init()
    tls_streams = {}
end

-- Both transports come here, and the lines TLS decrypted; the packet's port
-- type tells which transport.
function hcs.dissector(tvb, pinfo, tree)
    if pinfo.port_type == 3 then -- PT_UDP
        return dissect_udp(tvb, pinfo, tree)
    end
    if pinfo.private["hcs.in_tls"] then -- what TLS hands back is lines, even if it looks alike
        return dissect_tcp(tvb, pinfo, tree)
    end
    local stream = f_stream()
    local key = stream ~= nil and stream.value or nil
    local in_tls
    if key ~= nil then
        if tls_streams[key] == nil then
            tls_streams[key] = is_tls(tvb)
        end
        in_tls = tls_streams[key]
    else
        in_tls = is_tls(tvb)
    end
    if in_tls then
        pinfo.private["hcs.in_tls"] = "1"
        -- Each call down a level takes one from can_desegment: give TLS what TCP gave us,
        -- so that it can ask for the rest of a record split over segments.
        if pinfo.can_desegment > 0 then
            pinfo.can_desegment = pinfo.can_desegment + 1
        end
        local n = tls:call(tvb, pinfo, tree)
        pinfo.private["hcs.in_tls"] = nil
        return n
    end
    return dissect_tcp(tvb, pinfo, tree)
end

local tcp_table = DissectorTable.get("tcp.port")
local udp_table = DissectorTable.get("udp.port")
local tls_table = DissectorTable.get("tls.port")
local tcp_now, udp_now, tls_now

-- Register on the ports the preferences name (again whenever they change).
local function register_ports()
    if tcp_now ~= nil then
        tcp_table:remove(tcp_now, hcs)
        tls_table:remove(tcp_now, hcs)
    end
    if udp_now ~= nil then
        udp_table:remove(udp_now, hcs)
    end
    if tls_now ~= nil then
        tcp_table:remove(tls_now, tls)
        tls_table:remove(tls_now, hcs)
    end
    tcp_now, udp_now, tls_now = hcs.prefs.tcp_port, tostring(hcs.prefs.udp_ports), nil
    tcp_table:add(tcp_now, hcs)
    tls_table:add(tcp_now, hcs) -- what TLS decrypts there, should a connection start with TLS
    if udp_now ~= "" then
        udp_table:add(udp_now, hcs)
    end
    if hcs.prefs.tls_port ~= 0 and hcs.prefs.tls_port ~= tcp_now then
        tls_now = hcs.prefs.tls_port
        tcp_table:add(tls_now, tls)
        tls_table:add(tls_now, hcs)
    end
end

hcs.prefs_changed = register_ports
register_ports()
