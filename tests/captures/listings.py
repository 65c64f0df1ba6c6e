#!/usr/bin/env python3
"""Real directory listings: LIST, NLST, MLSD and MLST from real FTP servers on loopback.

    python3 tests/captures/listings.py [OUTDIR]     (default src/parse/listing/testdata/)

Builds one directory tree with known names, sizes, owners and times (below), serves it with each
server it can start, and asks for it with Python's ftplib: TYPE A, PASV, then LIST, NLST and MLSD
on the tree and MLST on one file. The bytes the data connection carried are written unchanged to
OUTDIR/<server>/<command>.txt (MLST: the control reply). A server that refuses a command (vsftpd
has no MLSD/MLST) gets <command>.refused with the reply text. tcpdump records each session to
OUTDIR/<server>/session.pcap when it is available. OUTDIR/SOURCES.md says which server versions
answered and when.

Servers: vsftpd (the Debian package), pyftpdlib (pip), pure-ftpd and proftpd unpacked from their
Debian packages with `apt-get download` + `dpkg-deb -x` into a work directory (only one FTP server
package can be installed at a time). Needs root (device node, file owners, servers binding and
dropping privileges). Traffic: 127.0.0.1 inside a private network namespace (`unshare -n`).

The tree (times are UTC; the servers run with TZ=UTC, so their local time is UTC too):

    hello.txt              512 bytes, root:root, 0644, modified an hour before the run
    old.bin             123456 bytes, root:root, 0600, modified 2019-03-14 15:09:26
    name with spaces.txt    42 bytes, root:root, 0644, modified 2021-11-30 08:00:00
    numeric.dat              7 bytes, 4242:4242 (no such user), 0640, 2020-02-29 23:59:00
    sub/                   directory, root:root, 0755, 2022-06-01 12:00:00
    link -> hello.txt      symbolic link
    null                   character device 1,3, 0666
"""
from __future__ import annotations

import datetime
import ftplib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
USER, PASSWORD = "alice", "s3cret"


def utc(*a) -> float:
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc).timestamp()


# The regular files of the tree: (name, size, mode, modification time or None for "an hour before
# the run", owner and group id). Tests compare parsed listings with these facts.
FILES = [("hello.txt", 512, 0o644, None, 0),
         ("old.bin", 123456, 0o600, utc(2019, 3, 14, 15, 9, 26), 0),
         ("name with spaces.txt", 42, 0o644, utc(2021, 11, 30, 8, 0, 0), 0),
         ("numeric.dat", 7, 0o640, utc(2020, 2, 29, 23, 59, 0), 4242)]
SUB_MTIME = utc(2022, 6, 1, 12)


def make_tree(top: str) -> float:
    """Create the tree of the module docstring; return the run's 'now'."""
    now = time.time()
    os.makedirs(top)
    os.chmod(top, 0o755)
    for name, size, mode, mtime, uid in FILES:
        mtime = now - 3600 if mtime is None else mtime
        p = os.path.join(top, name)
        with open(p, "wb") as f:
            f.write(bytes((i * 31 + 7) & 0xFF for i in range(size)))
        os.chmod(p, mode)
        os.chown(p, uid, uid)
        os.utime(p, (mtime, mtime))
    sub = os.path.join(top, "sub")
    os.mkdir(sub)
    os.chmod(sub, 0o755)
    os.utime(sub, (SUB_MTIME, SUB_MTIME))
    os.symlink("hello.txt", os.path.join(top, "link"))
    os.mknod(os.path.join(top, "null"), 0o20666, os.makedev(1, 3))
    os.chmod(os.path.join(top, "null"), 0o666)
    os.utime(top, (now, now))
    return now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %s" % (proc.stderr.read() if proc.stderr else ""))
        out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True,
                             text=True).stdout
        if "LISTEN" in out:
            return
        time.sleep(0.05)
    raise RuntimeError("server not listening on %d" % port)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------ servers
# Each starter returns (process, user, password, version text).

def start_vsftpd(work, tree, port):
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    conf = os.path.join(work, "vsftpd.conf")
    with open(conf, "w") as f:
        f.write("listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port=%d\n"
                "background=NO\nanonymous_enable=YES\nlocal_enable=NO\nwrite_enable=NO\n"
                "anon_root=%s\nno_anon_password=YES\nsecure_chroot_dir=%s\n"
                "seccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n" % (port, tree, empty))
    proc = subprocess.Popen(["vsftpd", conf], stderr=subprocess.PIPE, text=True)
    ver = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "vsftpd"],
                         capture_output=True, text=True).stdout
    return proc, "anonymous", "", "vsftpd %s (Debian package)" % ver


def start_pyftpdlib(work, tree, port):
    code = ("import sys\nfrom pyftpdlib.authorizers import DummyAuthorizer\n"
            "from pyftpdlib.handlers import FTPHandler\nfrom pyftpdlib.servers import FTPServer\n"
            "a = DummyAuthorizer(); a.add_user(%r, %r, %r, perm='elr')\n"
            "FTPHandler.authorizer = a\n"
            "FTPServer(('127.0.0.1', %d), FTPHandler).serve_forever()\n"
            % (USER, PASSWORD, tree, port))
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    import pyftpdlib
    return proc, USER, PASSWORD, "pyftpdlib %s (pip)" % pyftpdlib.__ver__


UNPACKED = {"pure-ftpd": ["pure-ftpd"],
            "proftpd": ["proftpd-core", "libhiredis0.14", "libmemcached11", "libmemcachedutil2",
                        "libhashkit2"]}


def unpack_all(cache: str) -> None:
    """apt-get download + dpkg-deb -x each unpacked server into cache/<server>/root (before
    entering the namespace, which has no route to the mirror). A failure leaves that server out."""
    for name, packages in UNPACKED.items():
        debs = os.path.join(cache, name, "debs")
        if os.path.isdir(os.path.join(cache, name, "root")):
            continue
        os.makedirs(debs, exist_ok=True)
        r = subprocess.run(["apt-get", "download"] + packages, cwd=debs, capture_output=True,
                           text=True)
        if r.returncode != 0:
            print("%s: apt-get download failed: %s" % (name, r.stderr.strip()), file=sys.stderr)
            continue
        for d in sorted(os.listdir(debs)):
            subprocess.run(["dpkg-deb", "-x", os.path.join(debs, d),
                            os.path.join(cache, name, "root")], check=True)


def unpacked(name):
    """(root, version) of an unpacked server."""
    base = os.path.join(os.environ["FTPLENS_LISTINGS_DEBS"], name)
    root = os.path.join(base, "root")
    if not os.path.isdir(root):
        raise OSError("%s was not unpacked" % name)
    for d in os.listdir(os.path.join(base, "debs")):
        if d.startswith(UNPACKED[name][0] + "_"):
            return root, d.split("_")[1].replace("%3a", ":")
    return root, "?"


def start_pureftpd(work, tree, port):
    root, version = unpacked("pure-ftpd")
    pw, pdb = os.path.join(work, "pureftpd.passwd"), os.path.join(work, "pureftpd.pdb")
    subprocess.run([os.path.join(root, "usr/bin/pure-pw"), "useradd", USER, "-u", "65534",
                    "-g", "65534", "-d", tree, "-f", pw, "-m", "-F", pdb],
                   input="%s\n%s\n" % (PASSWORD, PASSWORD), text=True, check=True,
                   capture_output=True)
    proc = subprocess.Popen([os.path.join(root, "usr/sbin/pure-ftpd"), "-S",
                             "127.0.0.1,%d" % port, "-l", "puredb:" + pdb, "-E", "-4"],
                            stderr=subprocess.PIPE, text=True)
    return proc, USER, PASSWORD, "pure-ftpd %s (Debian package, unpacked)" % version


def start_proftpd(work, tree, port):
    root, version = unpacked("proftpd")
    conf = os.path.join(work, "proftpd.conf")
    with open(conf, "w") as f:
        f.write('ServerName "ftplens listing capture"\nServerType standalone\n'
                "DefaultServer on\nPort %d\nDefaultAddress 127.0.0.1\nUseIPv6 off\n"
                "User nobody\nGroup nogroup\nPidFile %s/proftpd.pid\n"
                "ScoreboardFile %s/proftpd.scoreboard\nDelayTable none\nWtmpLog off\n"
                "UseReverseDNS off\nRequireValidShell off\nUseFtpUsers off\n"
                "<Anonymous %s>\n  User nobody\n  Group nogroup\n  UserAlias anonymous nobody\n"
                "</Anonymous>\n" % (port, work, work, tree))
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(root, "usr/lib/x86_64-linux-gnu"))
    proc = subprocess.Popen([os.path.join(root, "usr/sbin/proftpd"), "-n", "-q", "-c", conf],
                            stderr=subprocess.PIPE, text=True, env=env)
    return proc, "anonymous", "guest@", "proftpd %s (Debian package proftpd-core, unpacked)" % version


# SOURCES.md's note on the fixtures this script does not make (no local server sends these forms).
OTHER_FORMS = """
## Forms no local server produces

`dos/list.txt` (the MS-DOS style of IIS and other Windows servers) and `eplf/list.txt` (EPLF) hold
sample lines from the LIST parser test table of FileZilla's `FtpListResult.cpp` (the `LISTDEBUG`
block; public in the winscp/winscp repository as `filezilla/FtpListResult.cpp`), which takes its
samples from D. J. Bernstein's ftpparse.c (http://cr.yp.to/ftpparse.html). The names are theirs
(`16-dos-dateambigious dir`...). They were written here by hand with CRLF line ends, as TYPE A
transfers carry them.
"""

SERVERS = [("vsftpd", start_vsftpd), ("pyftpdlib", start_pyftpdlib),
           ("pure-ftpd", start_pureftpd), ("proftpd", start_proftpd)]


# ------------------------------------------------------------------------------ client

def data_bytes(ftp: ftplib.FTP, cmd: str) -> bytes:
    """The raw bytes of one listing transfer, as the data connection carried them."""
    conn = ftp.transfercmd(cmd)
    chunks = []
    with conn:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            chunks.append(b)
    ftp.voidresp()
    return b"".join(chunks)


def session(port, user, password, outdir) -> list[str]:
    got = []
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login(user, password)
    ftp.sendcmd("TYPE A")
    for cmd, fname in (("LIST", "list.txt"), ("NLST", "nlst.txt"), ("MLSD", "mlsd.txt")):
        try:
            data = data_bytes(ftp, cmd)
        except ftplib.error_perm as e:
            with open(os.path.join(outdir, cmd.lower() + ".refused"), "w") as f:
                f.write(str(e) + "\n")
            continue
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(data)
        got.append(cmd)
    try:
        ftp.putcmd("MLST hello.txt")
        reply = ftp.getmultiline()
        if reply.startswith("2"):
            with open(os.path.join(outdir, "mlst.txt"), "wb") as f:
                f.write(reply.replace("\n", "\r\n").encode() + b"\r\n")
            got.append("MLST")
        else:
            with open(os.path.join(outdir, "mlst.refused"), "w") as f:
                f.write(reply + "\n")
    except ftplib.Error as e:
        with open(os.path.join(outdir, "mlst.refused"), "w") as f:
            f.write(str(e) + "\n")
    ftp.quit()
    return got


def main() -> int:
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(ROOT, "src/parse/listing/testdata"))
    os.environ["TZ"] = "UTC"  # the servers list in local time: make it the tree's UTC
    if os.geteuid() != 0:
        print("listings.py needs root (device node, file owners, servers)", file=sys.stderr)
        return 2
    if os.environ.get("FTPLENS_LISTINGS_NETNS") != "1":
        # A private network namespace: tcpdump sees only these sessions, nothing else on lo.
        cache = os.environ.get("FTPLENS_LISTINGS_DEBS") or os.path.join(
            tempfile.gettempdir(), "ftplens-listings-debs")
        unpack_all(cache)
        env = dict(os.environ, FTPLENS_LISTINGS_NETNS="1", FTPLENS_LISTINGS_DEBS=cache)
        return subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), out],
                              env=env).returncode
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    work = tempfile.mkdtemp(prefix="ftplens-listings-")
    os.chmod(work, 0o755)
    tree = os.path.join(work, "tree")
    now = make_tree(tree)
    notes = []
    try:
        for name, start in SERVERS:
            sdir = os.path.join(out, name)
            swork = os.path.join(work, name)
            os.makedirs(swork)
            port = free_port()
            try:
                proc, user, password, version = start(swork, tree, port)
            except (OSError, subprocess.CalledProcessError, ImportError) as e:
                print("%s: not started (%s)" % (name, e), file=sys.stderr)
                continue
            tcpdump = None
            try:
                wait_listening(port, proc)
                shutil.rmtree(sdir, ignore_errors=True)
                os.makedirs(sdir)
                if shutil.which("tcpdump"):
                    tcpdump = subprocess.Popen(
                        ["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-w",
                         os.path.join(sdir, "session.pcap"),
                         "tcp"], stderr=subprocess.PIPE)
                    # tcpdump says "listening on" once it captures; only then start talking.
                    tcpdump.stderr.readline()
                got = session(port, user, password, sdir)
                notes.append("| %s | %s | %s |" % (name, version, ", ".join(got)))
                print("%s: %s" % (name, ", ".join(got)))
            except (OSError, RuntimeError, ftplib.Error) as e:
                print("%s: failed (%s)" % (name, e), file=sys.stderr)
            finally:
                if tcpdump:
                    time.sleep(0.5)
                    tcpdump.send_signal(signal.SIGINT)
                    tcpdump.wait(5)
                stop(proc)
        with open(os.path.join(out, "SOURCES.md"), "w") as f:
            f.write("# Where the listing fixtures come from\n\n"
                    "Made by `python3 tests/captures/listings.py` on %s (UTC) from the tree its "
                    "docstring describes, served on 127.0.0.1 and read with Python %s ftplib "
                    "(TYPE A, PASV). Each file holds the data connection's bytes unchanged "
                    "(`mlst.txt`: the control reply). `session.pcap`: tcpdump of the session.\n\n"
                    "| server | version | commands answered |\n|---|---|---|\n%s\n"
                    % (datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
                       .strftime("%Y-%m-%d %H:%M"), sys.version.split()[0], "\n".join(notes)))
            f.write(OTHER_FORMS)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if len(notes) >= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
