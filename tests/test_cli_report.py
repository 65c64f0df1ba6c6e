"""`ftplens report`: the HTML page opened in a real headless Chromium (Debian's `chromium`).
The DOM Chromium built (--dump-dom) is checked against what is known of the captures without
ftplens: the bundled pyftpdlib session's facts (user, password, file, size, sha256, commands) and
Zeek's ftp.log of ipv4.pcap (its six logged commands). A copy of the bundled session whose file
name was rewritten to markup must show that markup as text. Chromium also takes a screenshot.
Skipped, with the reason, when Chromium is not installed."""
from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import dpkt
import pytest

from test_cli_real import ftplens_bin  # noqa: F401  (the fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium not installed (apt-get install chromium)")


def chromium(*args, timeout=90) -> subprocess.CompletedProcess:
    # --no-sandbox: Chromium refuses to run as root with its sandbox; the page is our own file.
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
           "--user-data-dir=" + os.environ.get("TMPDIR", "/tmp") + "/ftplens-chromium-profile",
           *args]
    if os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class Dom(HTMLParser):
    """The parts of the DOM the checks need: every element with its attributes and text."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict, list[str]]] = []
        self.stack: list[int] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), []))
        if tag not in ("meta", "br", "img", "input", "link"):  # HTML void elements
            self.stack.append(len(self.elements) - 1)

    def handle_endtag(self, tag):
        while self.stack:
            i = self.stack.pop()
            if self.elements[i][0] == tag:
                break

    def handle_data(self, data):
        for i in self.stack:
            self.elements[i][2].append(data)

    def text(self, i) -> str:
        return "".join(self.elements[i][2])

    def find(self, tag, **attrs):
        return [i for i, (t, a, _) in enumerate(self.elements)
                if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def table_rows(self, table_id) -> list[str]:
        """Text of each row of the table with that id (header row first)."""
        (start,) = self.find("table", id=table_id)
        body = self.text(start)
        rows, out = [i for i in self.find("tr") if i > start], []
        for i in rows:
            t = self.text(i)
            if t and t in body:
                out.append(t)
                body = body.replace(t, "", 1)
        return out


def report(binary, out: Path, *args) -> Path:
    p = subprocess.run([binary, "report", "-o", str(out), *args], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    return out


def dom_of(page: Path) -> Dom:
    p = chromium("--dump-dom", page.as_uri())
    assert p.returncode == 0 and "<html" in p.stdout, p.stderr[-2000:]
    return Dom(p.stdout)


def test_report_in_chromium(ftplens_bin, seed_capture, corpus_dir, tmp_path):
    page = report(ftplens_bin, tmp_path / "report.html", seed_capture["path"],
                  str(corpus_dir / "zeek" / "ipv4.pcap"), "--hash", "sha256,md5")
    html = page.read_text()
    # Self-contained: no script, nothing fetched.
    assert "<script" not in html.lower()
    assert " src=" not in html and "@import" not in html and "http-equiv" not in html
    assert all(h.startswith("#") for h in
               (a[1].get("href") for a in Dom(html).elements if "href" in a[1]))

    dom = dom_of(page)
    sessions = dom.table_rows("sessions-table")
    assert len(sessions) == 1 + 2
    logins = dom.table_rows("logins-table")
    assert any(seed_capture["user"] in r for r in logins)
    assert seed_capture["password"] not in "".join(dom.text(i) for i in dom.find("body"))
    transfers = dom.table_rows("transfers-table")
    seed_file = seed_capture["transfers"][0]
    row = [r for r in transfers if seed_file["file"] in r]
    assert len(row) == 1
    assert str(seed_file["size"]) in row[0] and seed_file["sha256"] in row[0]
    # ipv4.pcap: Zeek's ftp.log has two RETRs of robots.txt (77 bytes).
    assert sum("robots.txt" in r and "77" in r for r in transfers) == 2

    # One ladder per session, an arrow per command and per reply.
    ladders = dom.find("section", class_="ladder")
    assert len(ladders) == 2
    svgs = dom.find("svg")
    assert len(svgs) == 2
    requests = [i for i in dom.find("g", class_="request")]
    texts = [dom.text(i) for i in requests]
    for verb in seed_capture["commands"]:
        assert any(t.startswith(verb) for t in texts), (verb, texts)
    assert any(t == "PASS ********" for t in texts)
    # ipv4.pcap's client sent 15 commands (USER PASS SYST PASV LIST TYPE PASV RETR TYPE PORT
    # LIST TYPE PORT RETR QUIT, as tshark lists them); every one was answered.
    assert len(requests) == len(seed_capture["commands"]) + 15
    assert len(dom.find("g", class_="reply")) == len(requests)
    assert len(dom.find("g", class_="data")) == 5

    shot = tmp_path / "report.png"
    p = chromium("--window-size=1300,1800", f"--screenshot={shot}", page.as_uri())
    assert p.returncode == 0, p.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_show_passwords(ftplens_bin, seed_capture, tmp_path):
    page = report(ftplens_bin, tmp_path / "r.html", seed_capture["path"], "--show-passwords")
    dom = dom_of(page)
    assert any(seed_capture["password"] in r for r in dom.table_rows("logins-table"))
    texts = [dom.text(i) for i in dom.find("g", class_="request")]
    assert f"PASS {seed_capture['password']}" in texts


def test_markup_in_a_file_name_is_text(ftplens_bin, seed_capture, tmp_path):
    """The seed session with `seed.txt` rewritten to `<i>x</i>` (same length, so the TCP
    sequence numbers stay right) in every packet: the page shows the name, never an element."""
    src = Path(seed_capture["path"])
    hostile = tmp_path / "markup.pcap"
    with open(src, "rb") as f, open(hostile, "wb") as g:
        r = dpkt.pcap.Reader(f)
        w = dpkt.pcap.Writer(g, linktype=r.datalink())
        for ts, buf in r:
            eth = dpkt.ethernet.Ethernet(buf)
            tcp = eth.data.data
            if isinstance(tcp, dpkt.tcp.TCP) and b"seed.txt" in tcp.data:
                tcp.data = tcp.data.replace(b"seed.txt", b"<i>x</i>")
                tcp.sum = 0
                eth.data.sum = 0
            w.writepkt(bytes(eth), ts=ts)
    page = report(ftplens_bin, tmp_path / "m.html", str(hostile))
    dom = dom_of(page)
    assert not dom.find("i")
    assert any("RETR <i>x</i>" == dom.text(i) for i in dom.find("g", class_="request"))
    assert any("<i>x</i>" in r for r in dom.table_rows("transfers-table"))


def test_report_needs_an_output(ftplens_bin, seed_capture):
    p = subprocess.run([ftplens_bin, "report", seed_capture["path"]], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "--output" in p.stderr
