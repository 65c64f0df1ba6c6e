"""Hostile captures, scaled down for CI: the CLI and tshark + the C plugin must survive
each, report what it holds, and stay within the memory bounds of tests/hostile/README.md.

The captures are generated into a temp dir by tests/hostile/gen.py (never committed); the full
sizes (a million PASV replies, 100,000 connections, a 1 GB line, ten million one-byte segments, a
1 GB never-ending data connection, a million PORTs to third parties, a million idle TCP
connections) run by hand with
scripts/hostile-full.sh, which records the figures.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "hostile"))
import measure  # noqa: E402

# Seconds, not minutes: each scenario's size here, and the full size in scripts/hostile-full.sh.
CI_SIZES = {
    "pasv_storm": 20_000,
    "many_connections": 3_000,
    "endless_line": 16 << 20,
    "one_byte_segments": 60_000,
    "endless_data": 32 << 20,
    "port_storm": 20_000,
    "wide_replies": 1 << 20,
    "idle_connections": 10_000,
}
TIMEOUT = 120  # per tool run; a hang fails instead of stalling CI


@pytest.fixture(scope="module")
def cli_bin():
    """The release CLI (the measured figures are for the release build)."""
    return measure.build_cli()


@pytest.fixture(scope="module")
def plugin_home():
    """A HOME with the C plugin installed (`HOME=<tmp> make install-plugin`), readable by nobody."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    home = Path(tempfile.mkdtemp(prefix="ftplens-hostile-home-"))
    os.chmod(home, 0o755)
    p = subprocess.run(["make", "install-plugin"], cwd=ROOT, env=dict(os.environ, HOME=str(home)),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def workdir(tmp_path):
    os.chmod(tmp_path, 0o755)
    return tmp_path


@pytest.mark.parametrize("scenario", sorted(CI_SIZES))
def test_cli_survives(scenario, cli_bin, workdir):
    facts, results, bad = measure.measure(scenario, CI_SIZES[scenario], workdir, cli=cli_bin,
                                          timeout=TIMEOUT)
    assert not bad, f"{facts}\n{results}"
    assert results[0]["exit"] in (0, 1)


@pytest.mark.parametrize("scenario", sorted(CI_SIZES))
def test_plugin_survives(scenario, plugin_home, workdir):
    facts, results, bad = measure.measure(scenario, CI_SIZES[scenario], workdir,
                                          tshark_home=plugin_home, timeout=TIMEOUT)
    assert not bad, f"{facts}\n{results}"


# Sizes where the plugin's own memory (peak RSS over the same tshark with ftplens disabled) shows
# whether it grows with what it must not: see measure.PLUGIN_PER_UNIT and tests/hostile/README.md.
PLUGIN_MEMORY_SIZES = {
    "pasv_storm": 40_000,
    "port_storm": 40_000,
    "many_connections": 8_000,
    "endless_line": 64 << 20,
}


@pytest.mark.parametrize("scenario", sorted(PLUGIN_MEMORY_SIZES))
def test_plugin_memory(scenario, plugin_home, workdir):
    facts, results, bad = measure.measure(scenario, PLUGIN_MEMORY_SIZES[scenario], workdir,
                                          tshark_home=plugin_home, baseline=True,
                                          timeout=TIMEOUT)
    assert not bad, f"{facts}\n{results}"


def test_cli_time_is_linear(cli_bin, workdir):
    """Four times the input, at most about four times the CPU time (8 allows for noise; a
    quadratic path gives 16)."""
    for scenario, n in (("pasv_storm", 25_000), ("port_storm", 25_000),
                        ("one_byte_segments", 100_000)):
        cpu = []
        for size in (n, 4 * n):
            facts, results, bad = measure.measure(scenario, size, workdir, cli=cli_bin,
                                                  timeout=TIMEOUT)
            assert not bad, bad
            cpu.append(results[0]["cpu_seconds"])
        if cpu[1] > 0.3:  # too small to judge below that
            assert cpu[1] / max(cpu[0], 0.01) < 8, f"{scenario}: {cpu}"


# (n, 4n) for the slope of the CLI's memory per open connection: the flow table grows by doubling,
# so both sizes sit just under a power of two, where a table is nearly full (a size just over
# one would charge a whole doubling to the connections in between).
CLI_MEMORY_SIZES = {
    "many_connections": (4_000, 16_000),
    "idle_connections": (16_000, 64_000),
}


@pytest.mark.parametrize("scenario", sorted(CLI_MEMORY_SIZES))
def test_cli_memory_per_connection(scenario, cli_bin, workdir):
    """Each open connection costs the CLI at most measure.CLI_PER_CONN bytes: the slope of peak
    RSS between n and 4n connections (the start-up memory cancels out), and the bound at 4n. The
    idle scenario also holds a data connection claimed late, which must still be bound."""
    sizes = CLI_MEMORY_SIZES[scenario]
    rss = []
    for n in sizes:
        facts, results, bad = measure.measure(scenario, n, workdir, cli=cli_bin, timeout=TIMEOUT)
        assert not bad, f"{facts}\n{results}"
        rss.append(results[0]["rss_mb"] * 1048576)
    per_conn = (rss[1] - rss[0]) / (sizes[1] - sizes[0])
    assert per_conn <= measure.CLI_PER_CONN[scenario], f"{scenario}: {per_conn:.0f} bytes a connection"


def test_cli_extract_endless_data(cli_bin, workdir):
    """`ftplens extract` on a data connection that never ends: the bytes stream to disk (memory
    stays small) and the file is marked partial."""
    n = 32 << 20
    pcap = workdir / "endless.pcap"
    measure.gen.generate("endless_data", n, str(pcap))
    out = workdir / "out"
    lines = []
    rc, secs, rss, cpu, err = measure.run_measured(
        [str(cli_bin), "extract", "--progress", "never", "-o", str(out), str(pcap)],
        lines.append, timeout=TIMEOUT)
    assert rc == 0, err
    assert rss / 1024 < measure.CLI_RSS_MB
    files = list(out.iterdir())
    assert [f.name for f in files] == ["endless.bin.partial"]
    assert files[0].stat().st_size == n
