//! `ftplens-gen`: the benchmark's capture generator and baselines. A test tool, not installed with
//! ftplens (its own workspace member).
//!
//! ```text
//! ftplens-gen capture --size 1G -o big.pcap   many concurrent FTP sessions: logins, PASV, EPSV and
//!                                             PORT transfers of bulk data, ACKed every second
//!                                             segment as real TCP does, some reordering and
//!                                             retransmission
//! ftplens-gen walk big.pcap                   a bare walk over the file's records (the floor any
//!                                             pcap tool pays), for the benchmark's ratio
//! ftplens-gen walk --hash big.pcap            the same, plus sha256 over every TCP payload byte (the
//!                                             floor of a tool that hashes what it transfers)
//! ```
//!
//! Frames are Ethernet + IPv4 + TCP built by etherparse (valid IP and TCP checksums), written by
//! pcap-parser's serializer. Output is deterministic for a given `--seed`. A summary of what was
//! written (sessions, transfers, bytes per mode) goes to standard error so the benchmark can check
//! the analysers found the same.

use clap::{Parser, Subcommand};
use etherparse::PacketBuilder;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

struct Writer {
    out: BufWriter<File>,
    ts_us: u64,
    written: u64,
    frames: u64,
    frame: Vec<u8>,
}

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

fn io_error(e: impl std::fmt::Debug) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

impl Writer {
    fn new(path: &str) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let header = PcapHeader {
            snaplen: 65535,
            network: Linktype::ETHERNET,
            ..PcapHeader::new()
        };
        out.write_all(&header.to_vec_raw().map_err(io_error)?)?;
        Ok(Writer {
            out,
            ts_us: 1_700_000_000_000_000,
            written: 24,
            frames: 0,
            frame: Vec::with_capacity(2048),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
        gap_us: u64,
    ) -> io::Result<()> {
        self.ts_us += gap_us;
        let mac = |ip: [u8; 4]| [0x02, 0, 0, 0, 0, ip[3]];
        let mut b = PacketBuilder::ethernet2(mac(src.0), mac(dst.0))
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 0xffff);
        // Only the first SYN has no ACK flag; its acknowledgement number is 0.
        debug_assert!(flags & ACK != 0 || ack == 0);
        if flags & ACK != 0 {
            b = b.ack(ack);
        }
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & PSH != 0 {
            b = b.psh();
        }
        self.frame.clear();
        b.write(&mut self.frame, payload).map_err(io_error)?;
        let len = self.frame.len() as u32;
        let record = LegacyPcapBlock {
            ts_sec: (self.ts_us / 1_000_000) as u32,
            ts_usec: (self.ts_us % 1_000_000) as u32,
            caplen: len,
            origlen: len,
            data: &self.frame,
        };
        self.out
            .write_all(&record.to_vec_raw().map_err(io_error)?)?;
        self.written += 16 + len as u64;
        self.frames += 1;
        Ok(())
    }
}

/// One TCP connection's sequence state.
struct Tcp {
    a: ([u8; 4], u16),
    b: ([u8; 4], u16),
    sa: u32,
    sb: u32,
}

impl Tcp {
    fn open(
        w: &mut Writer,
        rng: &mut Rng,
        a: ([u8; 4], u16),
        b: ([u8; 4], u16),
    ) -> io::Result<Tcp> {
        let (sa, sb) = (rng.next() as u32, rng.next() as u32);
        w.tcp(a, b, sa, 0, SYN, &[], 50)?;
        w.tcp(b, a, sb, sa.wrapping_add(1), SYN | ACK, &[], 200)?;
        w.tcp(a, b, sa.wrapping_add(1), sb.wrapping_add(1), ACK, &[], 50)?;
        Ok(Tcp {
            a,
            b,
            sa: sa.wrapping_add(1),
            sb: sb.wrapping_add(1),
        })
    }

    /// `a` sends a line; `b` acknowledges it with its next packet.
    fn a_says(&mut self, w: &mut Writer, data: &[u8]) -> io::Result<()> {
        w.tcp(self.a, self.b, self.sa, self.sb, PSH | ACK, data, 300)?;
        self.sa = self.sa.wrapping_add(data.len() as u32);
        Ok(())
    }

    fn b_says(&mut self, w: &mut Writer, data: &[u8]) -> io::Result<()> {
        w.tcp(self.b, self.a, self.sb, self.sa, PSH | ACK, data, 300)?;
        self.sb = self.sb.wrapping_add(data.len() as u32);
        Ok(())
    }

    fn close(&mut self, w: &mut Writer) -> io::Result<()> {
        w.tcp(self.a, self.b, self.sa, self.sb, FIN | ACK, &[], 100)?;
        w.tcp(
            self.b,
            self.a,
            self.sb,
            self.sa.wrapping_add(1),
            FIN | ACK,
            &[],
            100,
        )?;
        w.tcp(
            self.a,
            self.b,
            self.sa.wrapping_add(1),
            self.sb.wrapping_add(1),
            ACK,
            &[],
            100,
        )?;
        Ok(())
    }
}

#[derive(Default)]
struct Totals {
    sessions: u64,
    transfers: u64,
    bytes: u64,
    pasv: u64,
    epsv: u64,
    port: u64,
    reordered: u64,
    retransmitted: u64,
    failed_logins: u64,
}

/// A session in progress, as a little state machine so that many interleave.
struct Sess {
    ctl: Tcp,
    client: [u8; 4],
    server: [u8; 4],
    left: u32,
    /// A transfer in progress: data connection, bytes left, sender is `a` side?
    xfer: Option<(Tcp, u64, bool)>,
    next_port: u16,
}

const MSS: usize = 1448;

fn capture(size: u64, path: &str, seed: u64, concurrent: usize) -> io::Result<Totals> {
    let mut w = Writer::new(path)?;
    let mut rng = Rng(seed | 1);
    let mut t = Totals::default();
    let mut sessions: Vec<Sess> = Vec::new();
    let mut payload = vec![0u8; MSS];
    let mut next_client: u32 = 0;
    while w.written < size || !sessions.is_empty() {
        // Keep `concurrent` sessions open while there is room.
        while w.written < size && sessions.len() < concurrent {
            next_client += 1;
            let client = [
                10,
                (next_client >> 16) as u8 | 0x40,
                (next_client >> 8) as u8,
                next_client as u8,
            ];
            let server = [192, 0, 2, 1 + (next_client % 50) as u8];
            let mut ctl = Tcp::open(
                &mut w,
                &mut rng,
                (client, 40000 + (next_client % 20000) as u16),
                (server, 21),
            )?;
            ctl.b_says(&mut w, b"220 ftplens-gen FTP server ready\r\n")?;
            t.sessions += 1;
            if rng.below(5) == 0 {
                // A failed login, and gone.
                ctl.a_says(&mut w, b"USER admin\r\n")?;
                ctl.b_says(&mut w, b"331 Password required\r\n")?;
                ctl.a_says(
                    &mut w,
                    format!("PASS guess{}\r\n", rng.below(10000)).as_bytes(),
                )?;
                ctl.b_says(&mut w, b"530 Login incorrect\r\n")?;
                ctl.a_says(&mut w, b"QUIT\r\n")?;
                ctl.b_says(&mut w, b"221 Goodbye\r\n")?;
                ctl.close(&mut w)?;
                t.failed_logins += 1;
                continue;
            }
            ctl.a_says(&mut w, format!("USER user{next_client}\r\n").as_bytes())?;
            ctl.b_says(&mut w, b"331 Password required\r\n")?;
            ctl.a_says(&mut w, b"PASS secret\r\n")?;
            ctl.b_says(&mut w, b"230 Logged in\r\n")?;
            ctl.a_says(&mut w, b"TYPE I\r\n")?;
            ctl.b_says(&mut w, b"200 Type set to I\r\n")?;
            sessions.push(Sess {
                ctl,
                client,
                server,
                left: 1 + rng.below(8) as u32,
                xfer: None,
                next_port: 50000,
            });
        }
        if sessions.is_empty() {
            break;
        }
        let i = rng.below(sessions.len() as u64) as usize;
        let s = &mut sessions[i];
        match s.xfer.take() {
            None if s.left == 0 || w.written >= size => {
                s.ctl.a_says(&mut w, b"QUIT\r\n")?;
                s.ctl.b_says(&mut w, b"221 Goodbye\r\n")?;
                s.ctl.close(&mut w)?;
                sessions.swap_remove(i);
            }
            None => {
                s.left -= 1;
                // Sizes: mostly small files, some bulk ones.
                // Sizes: half small files, some medium, a few bulk ones.
                let len = match rng.below(20) {
                    0..=9 => 1 + rng.below(8 << 10),
                    10..=16 => 1 + rng.below(256 << 10),
                    _ => 1 + rng.below(8 << 20),
                };
                // Stay near the requested size: no transfer may need more than its share of
                // what is left.
                let share = size.saturating_sub(w.written) / concurrent as u64;
                let len = len.min(share.max(1));
                let name = format!("/data/f{}.bin", t.transfers);
                let port = s.next_port;
                s.next_port = s.next_port.wrapping_add(1).max(50000);
                let upload = rng.below(4) == 0;
                let cport = 30000 + (rng.below(30000) as u16);
                let data = match rng.below(3) {
                    0 => {
                        t.pasv += 1;
                        s.ctl.a_says(&mut w, b"PASV\r\n")?;
                        let [a, b, c, d] = s.server;
                        s.ctl.b_says(
                            &mut w,
                            format!(
                                "227 Entering Passive Mode ({a},{b},{c},{d},{},{}).\r\n",
                                port >> 8,
                                port & 255
                            )
                            .as_bytes(),
                        )?;
                        Tcp::open(&mut w, &mut rng, (s.client, cport), (s.server, port))?
                    }
                    1 => {
                        t.epsv += 1;
                        s.ctl.a_says(&mut w, b"EPSV\r\n")?;
                        s.ctl.b_says(
                            &mut w,
                            format!("229 Entering Extended Passive Mode (|||{port}|)\r\n")
                                .as_bytes(),
                        )?;
                        Tcp::open(&mut w, &mut rng, (s.client, cport), (s.server, port))?
                    }
                    _ => {
                        t.port += 1;
                        let [a, b, c, d] = s.client;
                        s.ctl.a_says(
                            &mut w,
                            format!("PORT {a},{b},{c},{d},{},{}\r\n", cport >> 8, cport & 255)
                                .as_bytes(),
                        )?;
                        s.ctl.b_says(&mut w, b"200 PORT command successful\r\n")?;
                        // Active: the server connects from an ephemeral port (not always 20).
                        let sport = if rng.below(2) == 0 {
                            20
                        } else {
                            20000 + rng.below(10000) as u16
                        };
                        Tcp::open(&mut w, &mut rng, (s.server, sport), (s.client, cport))?
                    }
                };
                let verb = if upload { "STOR" } else { "RETR" };
                s.ctl
                    .a_says(&mut w, format!("{verb} {name}\r\n").as_bytes())?;
                s.ctl.b_says(
                    &mut w,
                    format!("150 Opening BINARY mode data connection ({len} bytes)\r\n").as_bytes(),
                )?;
                // Does the data connection's `a` side send? Passive: `a` is the client.
                let client_is_a = data.a.0 == s.client;
                let a_sends = client_is_a == upload;
                t.transfers += 1;
                t.bytes += len;
                s.xfer = Some((data, len, a_sends));
            }
            Some((mut d, left, a_sends)) => {
                // A burst of up to 32 segments, ACKed every second one; sometimes two segments
                // swap places, sometimes one is sent twice.
                let mut left = left;
                let burst = 1 + rng.below(32);
                let (snd, rcv) = if a_sends { (d.a, d.b) } else { (d.b, d.a) };
                let mut k = 0;
                while k < burst && left > 0 {
                    let n = (left as usize).min(MSS);
                    let seq = if a_sends { d.sa } else { d.sb };
                    let ackno = if a_sends { d.sb } else { d.sa };
                    if n == MSS && left as usize >= 2 * MSS && rng.below(200) == 0 {
                        let mut second = vec![0u8; MSS];
                        rng.fill(&mut second);
                        rng.fill(&mut payload[..n]);
                        w.tcp(
                            snd,
                            rcv,
                            seq.wrapping_add(MSS as u32),
                            ackno,
                            ACK,
                            &second,
                            10,
                        )?;
                        w.tcp(snd, rcv, seq, ackno, ACK, &payload[..n], 10)?;
                        t.reordered += 1;
                        let adv = (2 * MSS) as u32;
                        if a_sends {
                            d.sa = d.sa.wrapping_add(adv)
                        } else {
                            d.sb = d.sb.wrapping_add(adv)
                        }
                        left -= 2 * MSS as u64;
                        k += 2;
                    } else {
                        rng.fill(&mut payload[..n]);
                        w.tcp(
                            snd,
                            rcv,
                            seq,
                            ackno,
                            ACK | if n < MSS { PSH } else { 0 },
                            &payload[..n],
                            10,
                        )?;
                        if rng.below(1000) == 0 {
                            w.tcp(snd, rcv, seq, ackno, ACK, &payload[..n], 200)?;
                            t.retransmitted += 1;
                        }
                        if a_sends {
                            d.sa = d.sa.wrapping_add(n as u32)
                        } else {
                            d.sb = d.sb.wrapping_add(n as u32)
                        }
                        left -= n as u64;
                        k += 1;
                    }
                    if k % 2 == 0 || left == 0 {
                        let (seq, ackno) = if a_sends { (d.sb, d.sa) } else { (d.sa, d.sb) };
                        w.tcp(rcv, snd, seq, ackno, ACK, &[], 20)?;
                    }
                }
                if left == 0 {
                    d.close(&mut w)?;
                    s.ctl.b_says(&mut w, b"226 Transfer complete\r\n")?;
                } else {
                    s.xfer = Some((d, left, a_sends));
                }
            }
        }
    }
    w.out.flush()?;
    eprintln!(
        "ftplens-gen: {} bytes, {} frames, {} sessions ({} failed logins), {} transfers ({} PASV, {} EPSV, {} PORT), {} data bytes, {} reordered pairs, {} retransmissions",
        w.written,
        w.frames,
        t.sessions,
        t.failed_logins,
        t.transfers,
        t.pasv,
        t.epsv,
        t.port,
        t.bytes,
        t.reordered,
        t.retransmitted
    );
    Ok(t)
}

/// The TCP payload of an Ethernet + IPv4 frame (what this generator writes); empty otherwise.
fn tcp_payload(frame: &[u8]) -> &[u8] {
    let ip = match frame.get(14..) {
        Some(ip) if frame[12..14] == [0x08, 0x00] && ip.len() >= 20 && ip[9] == 6 => ip,
        _ => return &[],
    };
    let tcp = &ip[((ip[0] & 0x0f) as usize * 4).min(ip.len())..];
    match tcp.get(12) {
        Some(off) => &tcp[((off >> 4) as usize * 4).min(tcp.len())..],
        None => &[],
    }
}

/// Read every record header of a classic pcap and skip its data: the least any reader does. With
/// `hash`, also sha256 every TCP payload byte (one running digest; its cost per byte is a transfer
/// digest's).
fn walk(path: &str, hash: bool) -> io::Result<(u64, u64)> {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0usize;
    let mut at = 24usize;
    let mut frames = 0u64;
    let mut bytes = 0u64;
    let mut sum = 0u64;
    loop {
        let n = f.read(&mut buf[have..])?;
        have += n;
        while at + 16 <= have {
            let cap =
                u32::from_le_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]) as usize;
            if at + 16 + cap > have {
                break;
            }
            // Touch the frame so that the walk is not optimised to nothing.
            sum = sum.wrapping_add(buf[at + 16 + cap / 2] as u64);
            if hash {
                digest.update(tcp_payload(&buf[at + 16..at + 16 + cap]));
            }
            frames += 1;
            bytes += cap as u64;
            at += 16 + cap;
        }
        if n == 0 {
            break;
        }
        buf.copy_within(at..have, 0);
        have -= at;
        at = 0;
        if have == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    std::hint::black_box(sum);
    std::hint::black_box(digest.finalize());
    Ok((frames, bytes))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<f64>()
        .map(|n| (n * mult as f64) as u64)
        .map_err(|_| format!("not a size: {s:?} (a number, optionally with K, M or G)"))
}

/// Synthetic FTP captures for the benchmarks, and the bare-walk baselines they are compared with.
#[derive(Parser)]
#[command(name = "ftplens-gen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a capture of many concurrent FTP sessions and their data connections
    Capture {
        /// Stop starting new sessions at this file size (K, M, G suffixes)
        #[arg(long, default_value = "1G", value_parser = parse_size)]
        size: u64,
        /// Seed of the deterministic generator: the same seed gives the same bytes
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sessions open at once
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
        concurrent: u64,
        /// The pcap file to write
        #[arg(short, long = "output", value_name = "FILE")]
        o: String,
    },
    /// Read every record of a pcap file (the floor any reader pays) and print the counts
    Walk {
        /// Also sha256 every TCP payload byte (the floor of a tool that hashes transfers)
        #[arg(long)]
        hash: bool,
        file: String,
    },
}

fn main() -> ExitCode {
    let (path, result) = match Cli::parse().command {
        Command::Capture {
            size,
            seed,
            concurrent,
            o,
        } => {
            let r = capture(size, &o, seed, concurrent as usize).map(|_| ());
            (o, r)
        }
        Command::Walk { hash, file } => {
            let r =
                walk(&file, hash).map(|(frames, bytes)| println!("{frames} frames, {bytes} bytes"));
            (file, r)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftplens-gen: {path}: {e}");
            ExitCode::from(2)
        }
    }
}
