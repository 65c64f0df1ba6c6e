"""parse_line: every data-channel address form, good and bad, and the plain command/reply fields."""

from __future__ import annotations

import pytest

import ftplens
from ftplens import (
    AddressError,
    CommandLine,
    Direction,
    Endpoint,
    Mode,
    ParseError,
    ReplyLine,
    parse_endpoint,
    parse_line,
)


def test_seed_227() -> None:
    line = parse_line(b"227 Entering Passive Mode (192,168,1,109,104,134).")
    assert isinstance(line, ReplyLine)
    assert line.code == 227
    assert line.mode is Mode.PASV
    assert line.endpoint == ("192.168.1.109", 26758)
    assert line.endpoint == Endpoint("192.168.1.109", 104 * 256 + 134)
    assert line.endpoint is not None and str(line.endpoint.ip) == "192.168.1.109"
    assert line.endpoint.family is ftplens.Family.IPV4
    assert line.arithmetic == "192.168.1.109:26758 (104*256+134)"
    assert line.address_error is None
    assert line.text == "Entering Passive Mode (192,168,1,109,104,134)."
    assert line.require_endpoint() == ("192.168.1.109", 26758)


def test_accepts_str_crlf_and_buffers() -> None:
    for form in (
        "227 Entering Passive Mode (192,168,1,109,104,134).",
        b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
        bytearray(b"227 Entering Passive Mode (192,168,1,109,104,134).\n"),
        memoryview(b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n"),
    ):
        assert parse_line(form).endpoint == ("192.168.1.109", 26758)


@pytest.mark.parametrize(
    "line, mode, endpoint, arithmetic",
    [
        # RFC 959 PORT, and the Windows-client variant with spaces after the commas.
        (b"PORT 192,168,1,106,224,89", Mode.PORT, ("192.168.1.106", 224 * 256 + 89),
         "192.168.1.106:57433 (224*256+89)"),
        (b"PORT 192, 168, 1, 106, 224, 89", Mode.PORT, ("192.168.1.106", 57433), None),
        (b"port 10,0,0,1,4,1", Mode.PORT, ("10.0.0.1", 1025), None),
        # 227 with parentheses, without (RFC 1123 4.1.2.6: scan for the numbers), with odd text.
        (b"227 Entering Passive Mode (192,168,1,109,104,134).", Mode.PASV, ("192.168.1.109", 26758), None),
        (b"227 Entering Passive Mode 10,0,0,5,195,80", Mode.PASV, ("10.0.0.5", 50000),
         "10.0.0.5:50000 (195*256+80)"),
        (b"227 =10,0,0,5,195,80", Mode.PASV, ("10.0.0.5", 50000), None),
        (b"227 Mode 3 ok (127,0,0,1,4,1)", Mode.PASV, ("127.0.0.1", 1025), None),
        # RFC 2428 EPRT, IPv4 and IPv6, the RFC's own examples.
        (b"EPRT |1|132.235.1.2|6275|", Mode.EPRT, ("132.235.1.2", 6275), None),
        (b"EPRT |2|1080::8:800:200C:417A|5282|", Mode.EPRT, ("1080::8:800:200c:417a", 5282), None),
        # EPRT with other delimiters (any of ASCII 33..126 that is not a digit, letter, '.' or ':').
        (b"EPRT !1!10.1.2.3!4000!", Mode.EPRT, ("10.1.2.3", 4000), None),
        (b"EPRT #1#10.1.2.3#4000#", Mode.EPRT, ("10.1.2.3", 4000), None),
        (b"EPRT ~1~10.1.2.3~4000~", Mode.EPRT, ("10.1.2.3", 4000), None),
        (b"EPRT $2$2001:db8::1$4000$", Mode.EPRT, ("2001:db8::1", 4000), None),
        (b"EPRT /1/10.1.2.3/4000/", Mode.EPRT, ("10.1.2.3", 4000), None),
        # RFC 2428 229: a port only (the host is the control connection's server).
        (b"229 Entering Extended Passive Mode (|||6446|)", Mode.EPSV, (None, 6446), None),
        (b"229 Entering Extended Passive Mode (!!!40000!)", Mode.EPSV, (None, 40000), None),
        (b"229 EPSV ok (~~~21~)", Mode.EPSV, (None, 21), None),
        (b"229 Entering Extended Passive Mode (###65535#)", Mode.EPSV, (None, 65535), None),
        # RFC 1639 LPRT and 228.
        (b"LPRT 4,4,132,235,1,2,2,24,131", Mode.LPRT, ("132.235.1.2", 24 * 256 + 131),
         "132.235.1.2:6275 (24*256+131)"),
        (b"LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,4,1", Mode.LPRT, ("2001:db8::1", 1025),
         "[2001:db8::1]:1025 (4*256+1)"),
        (b"228 Entering Long Passive Mode (4,4,192,168,1,109,2,104,134)", Mode.LPSV,
         ("192.168.1.109", 26758), "192.168.1.109:26758 (104*256+134)"),
    ],
)
def test_address_forms(line: bytes, mode: Mode, endpoint: tuple, arithmetic: str) -> None:
    parsed = parse_line(line)
    assert parsed.mode is mode
    assert parsed.address_error is None, parsed.address_error
    assert parsed.endpoint == endpoint
    assert parse_endpoint(line) == endpoint
    assert parsed.arithmetic  # always explained
    if arithmetic is not None:
        assert parsed.arithmetic == arithmetic
    if endpoint[0] is None:
        assert parsed.endpoint is not None and parsed.endpoint.ip is None
        assert str(parsed.endpoint) == "port %d" % endpoint[1]


@pytest.mark.parametrize(
    "line, mode",
    [
        (b"PORT 1,2,3,4,256,1", Mode.PORT),          # port byte out of range
        (b"PORT 300,2,3,4,5,1", Mode.PORT),          # host byte out of range
        (b"PORT 114,115", Mode.PORT),                # too few numbers
        (b"PORT 1,2,3,4,5,6,7", Mode.PORT),          # too many
        (b"PORT 1,2,3,4,5,x", Mode.PORT),            # not a number
        (b"PORT 99999999999999999999,2,3,4,5,6", Mode.PORT),  # would overflow
        (b"PORT -1,2,3,4,5,6", Mode.PORT),
        (b"227 Entering Passive Mode (1,2,3,4,5,999)", Mode.PASV),
        (b"227 Entering Passive Mode", Mode.PASV),
        (b"EPRT |3|1.2.3.4|5|", Mode.EPRT),          # unknown family
        (b"EPRT |1|1.2.3.4|65536|", Mode.EPRT),      # port out of range
        (b"EPRT |1|1.2.3.4|0|", Mode.EPRT),          # port 0
        (b"EPRT |1|1.2.3.400|5|", Mode.EPRT),        # bad IPv4
        (b"EPRT |1|::1|5|", Mode.EPRT),              # IPv6 address under family 1
        (b"EPRT |1|1.2.3.4|5", Mode.EPRT),           # missing closing delimiter
        (b"EPRT 1 1.2.3.4 5 ", Mode.EPRT),           # space is not a delimiter
        (b"EPRT \x7f1\x7f1.2.3.4\x7f5\x7f", Mode.EPRT),  # DEL is outside 33..126
        (b"229 Entering Extended Passive Mode (|||70000|)", Mode.EPSV),
        (b"229 Entering Extended Passive Mode (|||0|)", Mode.EPSV),
        (b"229 Entering Extended Passive Mode (|!|6446|)", Mode.EPSV),  # inconsistent delimiters
        (b"229 Entering Extended Passive Mode", Mode.EPSV),
        (b"LPRT 4,4,1,2,3,4,2,1", Mode.LPRT),        # too short
        (b"LPRT 5,4,1,2,3,4,2,1,1", Mode.LPRT),      # unknown family
        (b"LPRT 4,4,1,2,3,4,3,1,1", Mode.LPRT),      # port length 3
        (b"LPRT 4,4,1,2,3,999,2,1,1", Mode.LPRT),    # host byte out of range
        (b"228 Entering Long Passive Mode (4,4,1,2,3)", Mode.LPSV),
    ],
)
def test_bad_addresses(line: bytes, mode: Mode) -> None:
    parsed = parse_line(line)  # the line itself is valid FTP ...
    assert parsed.endpoint is None  # ... but carries no usable address
    assert parsed.address_error, "expected an address error for %r" % line
    with pytest.raises(AddressError) as e:
        parse_endpoint(line)
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, ftplens.FtplensError)
    del mode  # the mode of a malformed address is reported as the library sees fit


def test_lines_without_address() -> None:
    for line in (b"USER anonymous", b"220 Welcome", b"PASV", b"RETR file.txt"):
        parsed = parse_line(line)
        assert parsed.mode is Mode.NONE
        assert parsed.endpoint is None and parsed.address_error is None
        with pytest.raises(AddressError):
            parsed.require_endpoint()


def test_command_fields() -> None:
    cmd = parse_line(b"retr /pub/file name.txt\r\n")
    assert isinstance(cmd, CommandLine)
    assert cmd.kind is ftplens.LineKind.COMMAND
    assert cmd.verb == "retr"  # case preserved
    assert cmd.arg == "/pub/file name.txt"
    assert cmd.verb_known
    bare = parse_line(b"PASV")
    assert isinstance(bare, CommandLine) and bare.arg is None
    odd = parse_line(b"XYZZY plugh", Direction.TO_SERVER)
    assert isinstance(odd, CommandLine) and not odd.verb_known


def test_reply_fields() -> None:
    r = parse_line(b"530 Login incorrect.\r\n")
    assert isinstance(r, ReplyLine)
    assert r.kind is ftplens.LineKind.REPLY
    assert (r.code, r.continued, r.text) == (530, False, "Login incorrect.")
    assert r.reply_class and r.reply_category  # meanings of the first and second digit
    first = parse_line(b"211-Features:\r\n")
    assert isinstance(first, ReplyLine) and first.continued and first.code == 211


def test_direction_is_honoured() -> None:
    # Forced to be a command, a 227 line is not one.
    with pytest.raises(ParseError):
        parse_line(b"227 Entering Passive Mode (192,168,1,109,104,134).", Direction.TO_SERVER)
    with pytest.raises(ftplens.InvalidArgumentError):
        parse_line(b"USER x", 7)  # type: ignore[arg-type]


@pytest.mark.parametrize("junk", [b"", b"\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"\x00\xff\xfe\xfd"])
def test_not_ftp(junk: bytes) -> None:
    with pytest.raises(ParseError) as e:
        parse_line(junk)
    assert isinstance(e.value, ValueError)
    assert e.value.code == ftplens.Result.ERR_PARSE


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        parse_line(12345)  # type: ignore[arg-type]


def test_heuristic_and_complete_prefix() -> None:
    assert ftplens.heuristic(b"220 ProFTPD Server ready.\r\n") is ftplens.Verdict.SERVER
    assert ftplens.heuristic(b"FEAT\r\n") is ftplens.Verdict.CLIENT
    assert ftplens.heuristic(b"USER anonymous\r\n") is ftplens.Verdict.UNSURE  # POP3 sends USER too
    assert ftplens.heuristic(b"220 mail.example.com ESMTP Postfix\r\n") is ftplens.Verdict.NOT_FTP
    assert ftplens.heuristic(b"\x16\x03\x01\x02\x00\x01") is ftplens.Verdict.NOT_FTP  # TLS
    assert ftplens.complete_prefix(b"USER a\r\nPASS b") == len(b"USER a\r\n")
    assert ftplens.complete_prefix(b"no newline") == 0
