#!/usr/bin/env python3
"""Captures of the real-world defect classes: gaps, cut-offs, missing SYNs, odd servers.

    python3 tests/captures/defects.py [OUTDIR]     (default: tests/captures/defects/)

Each case reproduces one class of defect found by running ftplens over public captures (the
class number is in the case's facts, `defect.class`).  They are hand-made because the
conditions are those of a capture point, not of a server: bytes the capture missed, a
capture that starts after the handshake or stops in the middle of a line, a reply that
overtakes the last data segment.  They use the same writer as handmade.py (same addresses,
same deterministic clock) and the same facts.json schema, plus, per capture:

  defect      {"class": N, "title": str}
  exchanges   every reply in order: {"command", "arg", "command_frame", "code",
              "reply_frame", "lines", "incomplete"}; "command" is null for the greeting and
              for a reply no command asked for; "lines" are the reply's lines without their
              code prefix ("230-Welcome" -> "Welcome", an inner " EPSV" kept as sent);
              "incomplete" is true when the capture lost part of the reply
  incomplete_commands  commands whose line end is not in the capture
  gaps        bytes the capture lost: {"direction": "to_server" | "to_client" | "data",
              "bytes", "after_frame", "before_frame"}
and class-specific keys described in each case's docstring and in tests/captures/README.md.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import handmade  # noqa: E402  (the shared writer)
from handmade import (CLIENT, SERVER, Session, TcpConn, _port_args, payload_text,  # noqa: E402
                      sha256)


def reply_lines(code: int, text: str):
    """The lines of a reply without their code prefix (the facts' definition of "lines")."""
    out = []
    for line in text.split("\r\n"):
        if line[:3] == str(code) and line[3:4] in ("-", " "):
            line = line[4:]
        out.append(line)
    return out


class DefectSession(Session):
    """A Session that also writes down, as it goes, which command each reply answers."""

    def __init__(self, name, path, cls, title, client_port, description, server=(SERVER, 21)):
        super().__init__(name, path, (CLIENT, client_port), server, description)
        self.facts["defect"] = {"class": cls, "title": title}
        self.facts["exchanges"] = self.exchanges = []
        self.facts["incomplete_commands"] = []
        self.facts["gaps"] = []
        self.waiting = []     # commands sent and not yet answered by a final reply
        self.holes = []
        write_out = self.w.close

        def close():
            for g, conn, side in self.holes:
                g["before_frame"] = min(f for f in conn.frames[side] if f > g["after_frame"])
            write_out()
        self.w.close = close

    def open(self, banner="220 ftplens handmade server ready", handshake=True):
        if handshake:
            self.ctrl.open()
        else:
            self.ctrl.assume_open()
        return self.reply(banner, to=None)

    def cmd(self, line, **kw):
        frame = super().cmd(line, **kw)
        verb, _, arg = line.partition(" ")
        self.waiting.append({"command": verb.upper(), "arg": arg or None, "command_frame": frame})
        return frame

    def reply(self, text, to="oldest", incomplete=False, eol=True, **kw):
        """Send a reply; record it as answering the oldest waiting command (a preliminary 1xx
        leaves it waiting), or nothing (to=None: the greeting, an unsolicited reply)."""
        frame = self.ctrl.b(text + ("\r\n" if eol else ""), **kw)[0]
        self.record(text, frame, to, incomplete)
        return frame

    def record(self, text, frame, to="oldest", incomplete=False):
        code = int(text[:3])
        asked = {"command": None, "arg": None, "command_frame": None}
        if to == "oldest" and self.waiting:
            asked = self.waiting[0] if code < 200 else self.waiting.pop(0)
        self.exchanges.append(dict(asked, code=code, reply_frame=frame,
                                   lines=reply_lines(code, text), incomplete=incomplete))

    def gap(self, direction, nbytes, after_frame, conn=None, side="b"):
        """Note a hole of nbytes in conn's side (the control connection by default); its
        `before_frame` (the first frame of that side after the hole) is filled in at the end."""
        self.facts["gaps"].append({"direction": direction, "bytes": nbytes,
                                   "after_frame": after_frame})
        self.holes.append((self.facts["gaps"][-1], conn or self.ctrl, side))
        if "capture_gap" not in self.facts["anomalies"]:
            self.facts["anomalies"].append("capture_gap")

    def pasv_setup(self, port):
        c = self.cmd("PASV")
        r = self.reply("227 Entering Passive Mode (%s)." % _port_args(SERVER, port))
        return c, r



CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def _start(d, fn, cls, title, client_port, **kw):
    return DefectSession(fn.__name__, d, cls, title, client_port, fn.__doc__, **kw)


# ----------------------------------------------------------------------------- class 1

@case
def c01_gap_in_multiline(d):
    """A multi-line 230 in three segments; the capture lost the last two (the rest of the reply,
    closing line included). Every later reply still answers its own command and the login
    succeeded: the 230 is on the reply's first line."""
    s = _start(d, c01_gap_in_multiline, 1, "capture gap inside a multi-line reply", 41001)
    s.open()
    s.cmd("USER alice")
    s.reply("331 Username ok, send password.")
    s.cmd("PASS s3cret")
    head = "230-Welcome to the ftplens test server.\r\n"
    lost = "230-Usage of this server is logged.\r\n230 Login successful.\r\n"
    first = s.ctrl.b(head)[0]
    s.record("230-Welcome to the ftplens test server.", first, incomplete=True)
    s.ctrl.lose("b", lost)
    s.gap("to_client", len(lost), first)
    s.facts.update(user="alice", password="s3cret", login_ok=True)
    s.cmd("SYST")
    s.reply("215 UNIX Type: L8")
    s.cmd("PWD")
    s.reply('257 "/" is the current directory.')
    s.pasv(SERVER, 40101, client_port=51101, fname="after-gap.txt")
    return s.quit()


# ----------------------------------------------------------------------------- class 2

@case
def c02_no_line_end_before_fin(d):
    """The server's last reply, '221 Goodbye.', has no line end; the server's FIN follows."""
    s = _start(d, c02_no_line_end_before_fin, 2, "last line with no line end before FIN", 41021)
    s.open()
    s.login()
    s.cmd("QUIT")
    s.reply("221 Goodbye.", eol=False, incomplete=True)
    s.ctrl.close(first="b")
    s.w.close()
    return s.facts


@case
def c02_multiline_open_at_rst(d):
    """HELP is answered by a multi-line 214 whose closing line never comes: the server resets
    the connection after two lines."""
    s = _start(d, c02_multiline_open_at_rst, 2, "multi-line reply still open at close", 41022)
    s.open()
    s.login()
    s.cmd("HELP")
    text = "214-The following commands are recognized:\r\n USER PASS QUIT HELP NOOP"
    s.reply(text, incomplete=True)
    s.facts["reset_frame"] = s.ctrl.reset("b")
    s.w.close()
    return s.facts


@case
def c02_cut_at_end_of_capture(d):
    """The capture stops in the middle of a command: 'RETR report' without a line end, no FIN."""
    s = _start(d, c02_cut_at_end_of_capture, 2, "last line with no line end at end of capture",
               41023)
    s.open()
    s.login()
    s.commands.append("RETR")
    frame = s.ctrl.a("RETR report", ack=False)[0]
    s.facts["incomplete_commands"].append({"command": "RETR", "arg": "report",
                                           "command_frame": frame})
    s.w.close()
    return s.facts


# ----------------------------------------------------------------------------- class 3

@case
def c03_multiline_over_segments(d):
    """FEAT is answered by a multi-line 211 in four segments, each carrying some of its lines
    (no line is long). `multiline_frames`: each frame and the reply lines it carries."""
    s = _start(d, c03_multiline_over_segments, 3, "frames carrying first or middle lines of a "
               "multi-line reply", 41031)
    s.open()
    s.login()
    s.cmd("FEAT")
    parts = ["211-Features:\r\n", " EPRT\r\n EPSV\r\n", " MDTM\r\n PASV\r\n",
             " REST STREAM\r\n SIZE\r\n211 End\r\n"]
    frames = s.ctrl.b("".join(parts), split=[len(p) for p in parts])
    text = "".join(parts)[:-2]
    s.record(text, frames[0])
    s.facts["multiline_frames"] = [
        {"frame": f, "lines": reply_lines(211, p[:-2])} for f, p in zip(frames, parts)]
    return s.quit()


# ----------------------------------------------------------------------------- class 4

@case
def c04_data_gap(d):
    """RETR of 4,000 bytes over PASV; the capture lost the data connection's second segment
    (bytes 1460 to 2919). The transfer is partial; an exported file keeps every captured byte
    at its offset. `data_gaps`: {offset, bytes} of each hole in the file."""
    s = _start(d, c04_data_gap, 4, "data connection with a gap", 41041)
    s.open()
    s.login()
    c, r = s.pasv_setup(40401)
    content = bytes((i * 13 + 7) & 0xFF for i in range(4000))
    cf = s.cmd("RETR holes.bin")
    dconn = TcpConn(s.w, (CLIENT, 51401), (SERVER, 40401))
    syn = s.w.frames + 1
    dconn.open()
    s.reply("150 Opening BINARY mode data connection for holes.bin (4000 bytes).")
    first = dconn.b(content[:1460])[0]
    dconn.lose("b", content[1460:2920])
    s.gap("data", 1460, first, conn=dconn)
    dconn.b(content[2920:])
    dconn.close(first="b")
    s.reply("226 Transfer complete.")
    s.note_transfer(command="RETR", fname="holes.bin", mode="PASV", content=content,
                    data_client=(CLIENT, 51401), data_server=(SERVER, 40401), passive=True,
                    advertised=(SERVER, 40401), command_frame=cf, setup_command_frame=c,
                    setup_reply_frame=r, syn_frame=syn, first_frame=first,
                    captured_bytes=4000 - 1460, data_gaps=[{"offset": 1460, "bytes": 1460}],
                    partial=True)
    return s.quit()


# ----------------------------------------------------------------------------- class 5

@case
def c05_226_before_last_data(d):
    """RETR over PASV: the 226 reaches the capture point before the data connection's last
    segment and its FIN. All 3,000 bytes belong to the transfer."""
    s = _start(d, c05_226_before_last_data, 5, "data after the final reply", 41051)
    s.open()
    s.login()
    c, r = s.pasv_setup(40501)
    content = payload_text(s.name, 60)[:3000]
    cf = s.cmd("RETR late.txt")
    dconn = TcpConn(s.w, (CLIENT, 51501), (SERVER, 40501))
    syn = s.w.frames + 1
    dconn.open()
    s.reply("150 File status okay. About to open data connection.")
    first = dconn.b(content[:2920])[0]
    final = s.reply("226 Transfer complete.")
    late = dconn.b(content[2920:])[0]
    dconn.close(first="b")
    s.note_transfer(command="RETR", fname="late.txt", mode="PASV", content=content,
                    data_client=(CLIENT, 51501), data_server=(SERVER, 40501), passive=True,
                    advertised=(SERVER, 40501), command_frame=cf, setup_command_frame=c,
                    setup_reply_frame=r, syn_frame=syn, first_frame=first, final_reply_frame=final,
                    late_data_frames=[late])
    return s.quit()


@case
def c05_226_before_any_data(d):
    """RETR over PASV: the 150 and the 226 reach the capture point before the whole data
    connection (handshake, data, FIN), as at a capture point where the data path is slower.
    All 2,000 bytes belong to the transfer."""
    s = _start(d, c05_226_before_any_data, 5, "data after the final reply", 41052)
    s.open()
    s.login()
    c, r = s.pasv_setup(40502)
    content = payload_text(s.name, 40)[:2000]
    cf = s.cmd("RETR overtaken.txt")
    dconn = TcpConn(s.w, (CLIENT, 51502), (SERVER, 40502))
    s.reply("150 File status okay. About to open data connection.")
    final = s.reply("226 Transfer complete.")
    syn = s.w.frames + 1
    dconn.open()
    first = dconn.b(content)[0]
    dconn.close(first="b")
    s.note_transfer(command="RETR", fname="overtaken.txt", mode="PASV", content=content,
                    data_client=(CLIENT, 51502), data_server=(SERVER, 40502), passive=True,
                    advertised=(SERVER, 40502), command_frame=cf, setup_command_frame=c,
                    setup_reply_frame=r, syn_frame=syn, first_frame=first, final_reply_frame=final,
                    late_data_frames=[first, first + 1])
    return s.quit()


# ----------------------------------------------------------------------------- class 6

@case
def c06_no_syn_control(d):
    """The capture starts after the control connection was set up: its first frame is the 220
    greeting, no SYN. Then login, PASV, RETR (that data connection has its handshake)."""
    s = _start(d, c06_no_syn_control, 6, "no SYN for the control connection", 41061)
    s.open(handshake=False)
    s.login()
    s.pasv(SERVER, 40601, client_port=51601, fname="nosyn.txt")
    return s.quit()


@case
def c06_server_side_only(d):
    """A capture point that saw only the server's side of the control connection (no SYN, no
    command): greeting, 331, 230, 227, 150, 226, 221. The data connection is complete.
    `commands` is empty; each exchange's command is null, as nothing in the capture says it."""
    s = _start(d, c06_server_side_only, 6, "no SYN, one direction only", 41062)
    s.ctrl.unseen.add("a")
    s.open(handshake=False)
    s.commands_hidden = True
    for line, rep in (("USER alice", "331 Username ok, send password."),
                      ("PASS s3cret", "230 Login successful.")):
        s.ctrl.a(line + "\r\n")
        s.reply(rep, to=None)
    s.facts.update(login_ok=True)
    s.ctrl.a("PASV\r\n")
    r = s.reply("227 Entering Passive Mode (%s)." % _port_args(SERVER, 40602), to=None)
    s.ctrl.a("RETR oneway.txt\r\n")
    content = payload_text(s.name)
    dconn = TcpConn(s.w, (CLIENT, 51602), (SERVER, 40602))
    syn = s.w.frames + 1
    dconn.open()
    s.reply("150 File status okay. About to open data connection.", to=None)
    first = dconn.b(content)[0]
    dconn.close(first="b")
    s.reply("226 Transfer complete.", to=None)
    s.note_transfer(command=None, fname=None, mode="PASV", content=content,
                    data_client=(CLIENT, 51602), data_server=(SERVER, 40602), passive=True,
                    advertised=(SERVER, 40602), command_frame=None, setup_command_frame=None,
                    setup_reply_frame=r, syn_frame=syn, first_frame=first)
    s.ctrl.a("QUIT\r\n")
    s.reply("221 Goodbye.", to=None)
    s.ctrl.close(first="b")
    s.w.close()
    return s.facts


# ----------------------------------------------------------------------------- class 7

@case
def c07_425_and_221_in_one_segment(d):
    """RETR is refused with 425, and the server, giving up, sends an unsolicited 221 in the same
    segment, then closes. Both replies are there: the 221 answers no command."""
    s = _start(d, c07_425_and_221_in_one_segment, 7, "unmatched reply in the same segment as "
               "another", 41071)
    s.open()
    s.login()
    s.pasv_setup(40701)
    s.cmd("RETR missing.txt")
    text = "425 Can't open data connection.\r\n221 Goodbye, closing the control connection.\r\n"
    frame = s.ctrl.b(text)[0]
    s.record("425 Can't open data connection.", frame)
    s.record("221 Goodbye, closing the control connection.", frame, to=None)
    s.facts["unmatched_replies"] = [{"code": 221, "reply_frame": frame}]
    s.facts["failed_transfers"] = [{"command": "RETR", "file": "missing.txt", "code": 425}]
    s.facts["modes"].append("PASV")
    s.ctrl.close(first="b")
    s.w.close()
    return s.facts


# ----------------------------------------------------------------------------- class 8

@case
def c08_unknown_fields(d):
    """Two transfers whose facts are partly unknown: a RETR whose data connection is not in the
    capture (150 and 226 are), and a data connection whose command the capture lost (a gap in
    the client's stream where 'NLST' was). `uncaptured_transfers` and
    `data_without_command` describe them; nothing else about them is known."""
    s = _start(d, c08_unknown_fields, 8, "placeholders that look like data", 41081)
    s.open()
    s.login()
    c, r = s.pasv_setup(40801)
    cf = s.cmd("RETR elsewhere.txt")
    s.reply("150 File status okay. About to open data connection.")
    s.reply("226 Transfer complete.")
    s.facts["modes"].append("PASV")
    s.facts["uncaptured_transfers"] = [{"command": "RETR", "file": "elsewhere.txt",
                                        "command_frame": cf, "setup_command_frame": c,
                                        "setup_reply_frame": r}]
    c2, r2 = s.pasv_setup(40802)
    s.waiting.append({"command": "NLST", "arg": None, "command_frame": None})
    before = s.w.frames
    s.ctrl.lose("a", "NLST\r\n")
    s.gap("to_server", 6, before, side="a")
    names = b"elsewhere.txt\r\nnames.txt\r\n"
    dconn = TcpConn(s.w, (CLIENT, 51802), (SERVER, 40802))
    syn = s.w.frames + 1
    dconn.open()
    s.reply("150 Here comes the directory listing.")
    first = dconn.b(names)[0]
    dconn.close(first="b")
    s.reply("226 Directory send OK.")
    s.facts["data_without_command"] = [{
        "data": {"client_ip": CLIENT, "client_port": 51802, "server_ip": SERVER,
                 "server_port": 40802},
        "setup_command_frame": c2, "setup_reply_frame": r2, "data_syn_frame": syn,
        "data_first_frame": first, "size": len(names), "sha256": sha256(names)}]
    return s.quit()


# ----------------------------------------------------------------------------- class 9

@case
def c09_multiline_text(d):
    """A three-line 220 banner, a FEAT answer of six lines, a 150 with text and a 125 with
    text: every line of every reply is in `exchanges` without its code prefix."""
    s = _start(d, c09_multiline_text, 9, "multi-line text", 41091)
    s.open("220-ftplens handmade server\r\n220-Only authorised users.\r\n220 Ready.")
    s.login()
    s.cmd("FEAT")
    s.reply("211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n211 End")
    text = payload_text(s.name)
    s.pasv(SERVER, 40901, client_port=51901, fname="text.txt", content=text,
           reply150="150 Opening BINARY mode data connection for text.txt (%d bytes)." % len(text))
    s.pasv(SERVER, 40902, client_port=51902, fname="second.txt", content=payload_text("second"),
           reply150="125 Data connection already open; transfer starting.")
    return s.quit()


# ----------------------------------------------------------------------------- class 10

@case
def c10_stou(d):
    """In /incoming, two STOU uploads: the server names the files in its preliminary reply,
    '150 FILE: ftplens-0001.txt' and '125 FILE: ftplens-0002.txt' (RFC 1123 4.1.2.9).
    The transfers' `path` is the server's name resolved against /incoming."""
    s = _start(d, c10_stou, 10, "STOU names", 41101)
    s.open()
    s.login()
    s.cmd("CWD /incoming")
    s.reply('250 "/incoming" is the current directory.')
    for n, (port, prelim) in enumerate(((43101, "150"), (43102, "125")), 1):
        name = "ftplens-%04d.txt" % n
        s.pasv(SERVER, port, client_port=52100 + n, command="STOU", fname=None,
               content=payload_text("%s upload %d" % (s.name, n)), direction="upload",
               reply150="%s FILE: %s" % (prelim, name))
        t = s.transfers[-1]
        t.update(server_name=name, path="/incoming/" + name)
        s.facts["files"]["/incoming/" + name] = {"size": t["size"], "sha256": t["sha256"]}
    return s.quit()


# ----------------------------------------------------------------------------- class 11

@case
def c11_direction_reversed(d):
    """A RETR whose bytes flow from the client to the server, then a STOR whose bytes flow from
    the server to the client. `direction_seen` in each transfer says which way they went."""
    s = _start(d, c11_direction_reversed, 11, "transfer direction against the command", 43111)
    s.open()
    s.login()
    s.pasv(SERVER, 43111, client_port=52111, fname="backwards.txt",
           content=payload_text(s.name + " retr"), direction="upload")
    s.transfers[-1].update(direction_seen="to_server", expected_direction="download")
    s.pasv(SERVER, 43112, client_port=52112, command="STOR", fname="forwards.txt",
           content=payload_text(s.name + " stor"), direction="download")
    s.transfers[-1].update(direction_seen="to_client", expected_direction="upload")
    s.facts["anomalies"].append("direction_mismatch")
    return s.quit()


# ----------------------------------------------------------------------------- class 12

@case
def c12_list_then_cwd(d):
    """LIST of the directory 'pub', then CWD pub and RETR readme.txt from it. The listing is of
    /pub (a directory); /pub/readme.txt is a file inside it."""
    s = _start(d, c12_list_then_cwd, 12, "listing saved under a directory's name", 41121)
    s.open()
    s.login()
    readme = payload_text(s.name, 11)
    listing = (b"-rw-r--r--    1 ftp      ftp      %8d Nov 14 22:13 readme.txt\r\n"
               b"drwxr-xr-x    2 ftp      ftp          4096 Nov 14 22:13 old\r\n" % len(readme))
    s.pasv(SERVER, 43121, client_port=52121, command="LIST", fname="pub", content=listing,
           direction="listing", reply150="150 Here comes the directory listing.")
    del s.facts["files"]["pub"]
    s.transfers[-1].update(path="/pub")
    s.cmd("CWD pub")
    s.reply('250 Directory successfully changed.')
    s.pasv(SERVER, 43122, client_port=52122, fname="readme.txt", content=readme)
    s.transfers[-1].update(path="/pub/readme.txt")
    s.facts["directories"] = ["/pub"]
    return s.quit()


# ----------------------------------------------------------------------------- class 13

@case
def c13_data_no_syn_port20(d):
    """PORT, then RETR: the server's data connection from port 20 is in the capture without its
    handshake (the first data frame is the first frame of that connection)."""
    s = _start(d, c13_data_no_syn_port20, 13, "data connection without SYN", 41131)
    s.open()
    s.login()
    c = s.cmd("PORT " + _port_args(CLIENT, 50131))
    r = s.reply("200 PORT command successful.")
    content = payload_text(s.name, 30)
    cf = s.cmd("RETR nosyn-data.txt")
    dconn = TcpConn(s.w, (SERVER, 20), (CLIENT, 50131))
    dconn.assume_open()
    s.reply("150 File status okay. About to open data connection.")
    first = dconn.a(content)[0]
    dconn.close(first="a")
    s.reply("226 Transfer complete.")
    s.note_transfer(command="RETR", fname="nosyn-data.txt", mode="PORT", content=content,
                    data_client=(CLIENT, 50131), data_server=(SERVER, 20), passive=False,
                    advertised=(CLIENT, 50131), command_frame=cf, setup_command_frame=c,
                    setup_reply_frame=r, syn_frame=None, first_frame=first)
    return s.quit()


if __name__ == "__main__":
    sys.exit(handmade.main(cases=CASES, default_dir="defects",
                           generator="tests/captures/defects.py",
                           line=lambda c: "%-32s class %-2d %s" % (
                               c["name"], c["defect"]["class"], c["defect"]["title"])))
