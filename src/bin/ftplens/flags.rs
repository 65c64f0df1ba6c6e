//! The command line as typed: clap's definitions and nothing else. Nothing here is checked beyond
//! what clap parses; [`crate::settings`] turns these into validated settings.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ftplens::capture::hash::Algorithms;
use ftplens::conversation::anomaly;
use ftplens::limits::LIMITS;
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  clean: every input read to its end, no anomaly
  1  anomalies found (FTP anomalies, or capture gaps: the list is in --help)
  2  error: bad usage, or an input that could not be opened or read as a capture
  3  partial input: a capture is truncated or has garbage after some records; the output covers
     the records before that point
When several apply, 2 wins over 3, and 3 over 1. A closed output pipe (ftplens log | head) ends
the run quietly with status 0.";

/// What `--help` shows after the options: every anomaly with when it is raised, from the core's
/// registries, then the exit codes.
fn anomalies_and_exit_codes() -> String {
    let mut s = String::from(
        "Anomalies (the \"anomalies\" of ftp records, the \"name\" of anomaly records):\n",
    );
    for (name, when) in anomaly::every() {
        s += &format!("  {name}\n          {when}\n");
    }
    s + "\n" + EXIT_CODES
}

/// `--limit`'s short help: the limits' names, from the core's registry.
fn limit_help() -> String {
    let names: Vec<_> = LIMITS.iter().map(|l| l.name).collect();
    format!(
        "Change a session limit (repeatable): {}; --help says more",
        names.join(", ")
    )
}

/// `--limit`'s long help: each limit with its default, maximum and anomaly, from the registry.
fn limit_long_help() -> String {
    let mut s = String::from("Change a session limit (repeatable). NAME is one of:");
    for l in LIMITS {
        s += &format!(
            "\n  {}\n      {} (default {}, at most {}",
            l.name, l.description, l.default, l.max
        );
        if let Some(a) = l.anomaly {
            s += &format!("; hitting it raises {}", a.name());
        }
        s += ")";
    }
    s
}

#[derive(Parser)]
#[command(
    name = "ftplens",
    version,
    about = "FTP traffic analysis of pcap and pcapng captures",
    long_about = "FTP traffic analysis of pcap and pcapng captures.\n\n\
        Reads Ethernet (with VLAN tags), raw IP, Linux cooked (SLL, SLL2) and loopback captures, \
        through MPLS, PPPoE, GRE, VXLAN, 6in4 and IP-in-IP encapsulations, also gzip-compressed, \
        from files, globs or standard input, or live from an interface (-i). Reassembles TCP, finds FTP \
        control connections on any port, follows every command and reply with the ftplens core, \
        and matches data connections to the command that predicted them (PORT, PASV, EPRT, EPSV, \
        LPRT, LPSV).",
    after_help = EXIT_CODES,
    after_long_help = anomalies_and_exit_codes()
)]
pub struct LowArgs {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// JSON lines: one record per command and reply, per transfer, per session and per anomaly
    ///
    /// Fields follow Zeek's ftp.log (ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, user,
    /// password, command, arg, mime_type, file_size, reply_code, reply_msg, data_channel.*) with
    /// extras (response_time, cwd, rest_offset, anomalies). Each record has a "type": ftp,
    /// transfer, session or anomaly.
    #[command(after_help = EXIT_CODES, after_long_help = anomalies_and_exit_codes())]
    Log(LogArgs),
    /// A table of sessions, logins (passwords masked), transfers and anomalies
    #[command(after_help = EXIT_CODES, after_long_help = anomalies_and_exit_codes())]
    Summary(SummaryArgs),
    /// Write every transferred file under DIR, and print one JSON line per file written
    ///
    /// Paths come from the FTP arguments resolved against the working directory; `..` and
    /// absolute paths never leave DIR, NUL and control characters become `_`, long names are
    /// cut, and no file is ever overwritten (a taken name gets .1, .2...). A REST-resumed part is
    /// written at its offset; partial files end in `.partial`.
    #[command(after_help = EXIT_CODES, after_long_help = anomalies_and_exit_codes())]
    Extract(ExtractArgs),
    /// One self-contained HTML page: sessions, logins, transfers with sizes and digests,
    /// anomalies, and a ladder picture per session
    ///
    /// The page needs no network (inline CSS and SVG, no script). Passwords are masked unless
    /// --show-passwords.
    #[command(after_help = EXIT_CODES, after_long_help = anomalies_and_exit_codes())]
    Report(ReportArgs),
    /// The JSON Schema of `ftplens log`'s records, on standard output
    ///
    /// One definition per record type (FtpRecord, TransferRecord, SessionRecord, AnomalyRecord),
    /// with every key the records can carry; a key written only when known is not required.
    Schema,
}

#[derive(Args, Clone)]
pub struct Common {
    /// Captures: files, globs (quoted: 'caps/*.pcap') or - for standard input
    #[arg(value_name = "CAPTURE", conflicts_with = "interface")]
    pub inputs: Vec<String>,
    /// Capture live on this network interface (libpcap; needs root or CAP_NET_RAW) until
    /// SIGINT or SIGTERM, then finish the open sessions. Records are written as they happen
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF filter for the live capture (tcpdump syntax), e.g. 'host 10.0.0.5 and tcp'
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Digests of transferred data, comma-separated: sha256, md5, sha1, or none
    #[arg(
        long,
        value_name = "LIST",
        default_value = "sha256",
        conflicts_with = "no_hash"
    )]
    pub hash: Algorithms,
    /// Skip hashing transferred data (the same as --hash none)
    #[arg(long)]
    pub no_hash: bool,
    /// Inputs analysed at once [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Progress bar on standard error when it is a terminal: auto shows it for 64 MiB of input
    /// or more, always for any input
    #[arg(long, value_enum, default_value_t = When::Auto)]
    pub progress: When,
    /// Seconds (capture time) after which an idle TCP connection is closed
    #[arg(long, value_name = "SECS", default_value_t = 600.0)]
    pub tcp_timeout: f64,
    /// Out-of-order bytes held by all TCP streams together, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub memcap: usize,
    /// Out-of-order bytes held by one TCP stream, in MiB (0.5 = 512 KiB)
    #[arg(long, value_name = "MIB", default_value_t = 16.0)]
    pub stream_memcap: f64,
    /// Another port whose connections are FTP control without further evidence (repeatable;
    /// 21 always is, and any port is recognised by its first lines)
    #[arg(long, value_name = "PORT")]
    pub ftp_port: Vec<u16>,
    /// Seconds a data connection may precede the reply or command that predicts it
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub late_window: f64,
    #[arg(
        long = "limit",
        value_name = "NAME=N",
        help = limit_help(),
        long_help = limit_long_help()
    )]
    pub limits: Vec<String>,
}

#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub common: Common,
    /// json: JSON lines on standard output; zeek: Zeek's ftp.log and files.log (tab-separated,
    /// with #fields/#types headers) written under --output DIR
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    pub format: LogFormat,
    /// Directory for the zeek format's logs (created if missing; ftp.log and files.log there
    /// are replaced)
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum LogFormat {
    Json,
    Zeek,
}

#[derive(Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub common: Common,
    /// Show passwords in clear instead of masking them
    #[arg(long)]
    pub show_passwords: bool,
    /// Rows shown per table (0: all)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_rows: usize,
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub common: Common,
    /// The HTML file to write
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Show passwords in clear instead of masking them
    #[arg(long)]
    pub show_passwords: bool,
    /// Rows shown per table (0: all)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_rows: usize,
}

#[derive(Args)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub common: Common,
    /// Directory to write files under (created if missing)
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: PathBuf,
    /// Also write directory listings (LIST, NLST, MLSD)
    #[arg(long)]
    pub listings: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum When {
    Auto,
    Always,
    Never,
}
