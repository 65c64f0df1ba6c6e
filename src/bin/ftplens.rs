//! `ftplens`: FTP analysis of pcap and pcapng captures.
//!
//! `main` wraps `run`, which returns the exit code; errors that stop one input are reported and
//! the others go on. A closed output pipe ends the run quietly.

use clap::{Args, Parser, Subcommand, ValueEnum};
use ftplens::Limits;
use ftplens::capture::record::{Record, TransferRecord, write_str};
use ftplens::capture::{Analyzer, CaptureReader, Options, ReadSummary, Stats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

const EXIT_CODES: &str = "\
Exit codes:
  0  clean: every input read to its end, no anomaly
  1  anomalies found (FTP anomalies such as bounce or nat_mismatch, or capture gaps)
  2  error: bad usage, or an input that could not be opened or read as a capture
  3  partial input: a capture is truncated or has garbage after some records; the output covers
     the records before that point
When several apply, 2 wins over 3, and 3 over 1.";

#[derive(Parser)]
#[command(
    name = "ftplens",
    version,
    about = "FTP traffic analysis of pcap and pcapng captures",
    long_about = "FTP traffic analysis of pcap and pcapng captures.\n\n\
        Reads Ethernet (with VLAN tags), raw IP, Linux cooked (SLL, SLL2) and loopback captures, \
        also gzip-compressed, from files, globs or standard input. Reassembles TCP, finds FTP \
        control connections on any port, follows every command and reply with the ftplens core, \
        and matches data connections to the command that predicted them (PORT, PASV, EPRT, EPSV, \
        LPRT, LPSV).",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// JSON lines: one record per command and reply, per transfer, per session and per anomaly
    ///
    /// Fields follow Zeek's ftp.log (ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p, user,
    /// password, command, arg, mime_type, file_size, reply_code, reply_msg, data_channel.*) with
    /// extras (response_time, cwd, rest_offset, anomalies). Each record has a "type": ftp,
    /// transfer, session or anomaly.
    #[command(after_help = EXIT_CODES)]
    Log(LogArgs),
    /// A table of sessions, logins (passwords masked), transfers and anomalies
    #[command(after_help = EXIT_CODES)]
    Summary(SummaryArgs),
    /// Write every transferred file under DIR, and print one JSON line per file written
    ///
    /// Paths come from the FTP arguments resolved against the working directory; `..` and
    /// absolute paths never leave DIR, NUL and control characters become `_`, long names are
    /// cut, and no file is ever overwritten (a taken name gets .1, .2...). A REST-resumed part is
    /// written at its offset; partial files end in `.partial`.
    #[command(after_help = EXIT_CODES)]
    Extract(ExtractArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Captures: files, globs (quoted: 'caps/*.pcap') or - for standard input
    #[arg(value_name = "CAPTURE")]
    inputs: Vec<String>,
    /// Skip sha256 of transferred data
    #[arg(long)]
    no_hash: bool,
    /// Inputs analysed at once [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Progress bar on standard error when it is a terminal: auto shows it for 64 MiB of input
    /// or more, always for any input
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
    /// Seconds (capture time) after which an idle TCP connection is closed
    #[arg(long, value_name = "SECS", default_value_t = 600.0)]
    tcp_timeout: f64,
    /// Out-of-order bytes held by all TCP streams together, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    memcap: usize,
    /// Out-of-order bytes held by one TCP stream, in MiB (0.5 = 512 KiB)
    #[arg(long, value_name = "MIB", default_value_t = 16.0)]
    stream_memcap: f64,
    /// Another port whose connections are FTP control without further evidence (repeatable;
    /// 21 always is, and any port is recognised by its first lines)
    #[arg(long, value_name = "PORT")]
    ftp_port: Vec<u16>,
    /// Seconds a data connection may precede the reply or command that predicts it
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    late_window: f64,
    /// Change a session limit (repeatable): max_line, max_reply_lines, max_pending_commands,
    /// max_expectations, expectation_timeout (seconds) or failed_login_alarm; defaults and the
    /// anomaly each raises are in the README, section Limits
    #[arg(long = "limit", value_name = "NAME=N")]
    limits: Vec<String>,
}

#[derive(Args)]
struct LogArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct SummaryArgs {
    #[command(flatten)]
    common: Common,
    /// Show passwords in clear instead of masking them
    #[arg(long)]
    show_passwords: bool,
    /// Rows shown per table (0: all)
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_rows: usize,
}

#[derive(Args)]
struct ExtractArgs {
    #[command(flatten)]
    common: Common,
    /// Directory to write files under (created if missing)
    #[arg(short = 'o', long, value_name = "DIR")]
    output: PathBuf,
    /// Also write directory listings (LIST, NLST, MLSD)
    #[arg(long)]
    listings: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum When {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Log,
    Summary,
    Extract,
}

/// Exit statuses, documented in `--help`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Status {
    Clean = 0,
    Anomalies = 1,
    Partial = 3,
    Error = 4, // reported as 2; ordered last so that it wins
}

impl Status {
    fn code(self) -> u8 {
        match self {
            Status::Error => 2,
            s => s as u8,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftplens: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Clone)]
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// Files, globs and `-`, in order; a glob's matches sorted.
fn resolve_inputs(args: &[String], status: &mut Status) -> Vec<Input> {
    let mut out = Vec::new();
    if args.is_empty() {
        out.push(Input::Stdin);
    }
    for a in args {
        if a == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(a);
        if path.exists() || !a.contains(['*', '?', '[']) {
            out.push(Input::File(path));
            continue;
        }
        match glob::glob(a) {
            Ok(paths) => {
                let mut found: Vec<PathBuf> = paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect();
                found.sort();
                if found.is_empty() {
                    eprintln!("ftplens: {a}: no file matches");
                    *status = (*status).max(Status::Error);
                }
                out.extend(found.into_iter().map(Input::File));
            }
            Err(e) => {
                eprintln!("ftplens: {a}: bad pattern: {e}");
                *status = (*status).max(Status::Error);
            }
        }
    }
    out
}

/// What a worker tells the printer.
enum Msg {
    Out(usize, Vec<u8>),
    Done(usize, Box<Report>),
}

/// The outcome of one input.
struct Report {
    name: String,
    read: Option<ReadSummary>,
    open_error: Option<String>,
    stats: Stats,
    summary: Option<Summary>,
}

fn run(cli: Cli) -> io::Result<Status> {
    let (mode, common, show_passwords, max_rows, out_dir, listings) = match cli.command {
        Command::Log(a) => (Mode::Log, a.common, false, 0, None, false),
        Command::Summary(a) => (
            Mode::Summary,
            a.common,
            a.show_passwords,
            a.max_rows,
            None,
            false,
        ),
        Command::Extract(a) => (
            Mode::Extract,
            a.common,
            false,
            0,
            Some(a.output),
            a.listings,
        ),
    };
    let mut status = Status::Clean;
    if common.inputs.is_empty() && io::stdin().is_terminal() {
        eprintln!(
            "ftplens: no capture given (name files, globs, or - for standard input); see --help"
        );
        return Ok(Status::Error);
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let late_ok = common.late_window.is_finite() && common.late_window >= 0.0;
    if !positive(common.stream_memcap) || !positive(common.tcp_timeout) || !late_ok {
        eprintln!(
            "ftplens: --stream-memcap and --tcp-timeout must be positive, --late-window not negative"
        );
        return Ok(Status::Error);
    }
    let inputs = resolve_inputs(&common.inputs, &mut status);
    if inputs.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
        eprintln!("ftplens: standard input (-) named more than once");
        return Ok(Status::Error);
    }
    if inputs.is_empty() {
        return Ok(status.max(Status::Error));
    }
    let mut control_ports = vec![21];
    control_ports.extend(&common.ftp_port);
    let mut limits = Limits::default();
    for assignment in &common.limits {
        if let Err(e) = limits.set_by_name(assignment) {
            eprintln!("ftplens: --limit {assignment}: {e}");
            return Ok(Status::Error);
        }
    }
    let base = Options {
        hash: !common.no_hash,
        tcp_timeout: common.tcp_timeout,
        stream_memcap: (common.stream_memcap * 1048576.0) as usize,
        total_memcap: common.memcap << 20,
        late_window: common.late_window,
        control_ports,
        extract_dir: out_dir,
        extract_listings: listings,
        limits,
        ..Options::default()
    };
    let multi = inputs.len() > 1;

    // Progress: bytes of all files, on a terminal, for runs big enough to wait for.
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::Stdin => 0,
        })
        .sum();
    let show = match common.progress {
        When::Always => true,
        When::Never => false,
        When::Auto => io::stderr().is_terminal() && total >= 64 << 20,
    };
    let bar = if show {
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(pb)
    } else {
        None
    };

    let jobs = common
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, inputs.len());
    let cancel = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let inputs = Arc::new(inputs);
    let (tx, rx) = mpsc::sync_channel::<Msg>(64);

    let mut reports: Vec<Option<Report>> = (0..inputs.len()).map(|_| None).collect();
    let mut write_result: io::Result<()> = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (inputs, next, cancel, bar, base) = (
                inputs.clone(),
                next.clone(),
                cancel.clone(),
                bar.clone(),
                base.clone(),
            );
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= inputs.len() || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut opts = base.clone();
                    opts.uid_salt = i as u64;
                    let file_field = multi.then(|| inputs[i].name());
                    let report = analyze(
                        &inputs[i],
                        i,
                        opts,
                        mode,
                        file_field,
                        &tx,
                        bar.as_ref(),
                        &cancel,
                    );
                    if tx.send(Msg::Done(i, Box::new(report))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Print in input order, streaming the earliest unfinished input.
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
        let mut current = 0usize;
        let mut parked: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
        let mut done: HashMap<usize, Box<Report>> = HashMap::new();
        for msg in rx {
            if write_result.is_err() {
                continue; // drain so that workers can finish
            }
            match msg {
                Msg::Out(i, bytes) if i == current => write_result = out.write_all(&bytes),
                Msg::Out(i, bytes) => parked.entry(i).or_default().push(bytes),
                Msg::Done(i, r) => {
                    done.insert(i, r);
                }
            }
            while let Some(r) = done.remove(&current) {
                for b in parked.remove(&current).unwrap_or_default() {
                    if write_result.is_ok() {
                        write_result = out.write_all(&b);
                    }
                }
                reports[current] = Some(*r);
                current += 1;
                if let Some(b) = parked.remove(&current) {
                    for b in b {
                        if write_result.is_ok() {
                            write_result = out.write_all(&b);
                        }
                    }
                }
            }
            if write_result.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        if write_result.is_ok() {
            write_result = out.flush();
        }
    });
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    write_result?;

    let mut summaries = Vec::new();
    for r in reports.into_iter().flatten() {
        if let Some(e) = &r.open_error {
            eprintln!("ftplens: {}: {e}", r.name);
            status = status.max(Status::Error);
        }
        if let Some(read) = &r.read {
            if let Some(why) = &read.stopped {
                eprintln!(
                    "ftplens: {}: stopped after {} frames ({} bytes of {}): {why}; the output covers \
                     those frames (FTP sessions: {}, transfers: {}, anomalies: {})",
                    r.name,
                    read.frames,
                    read.bytes,
                    read.format,
                    r.stats.control_sessions,
                    r.stats.transfers,
                    r.stats.anomaly_total()
                );
                status = status.max(Status::Partial);
            }
        }
        if r.stats.unknown_link > 0 {
            let types: Vec<String> = r
                .stats
                .unknown_linktypes
                .iter()
                .map(i32::to_string)
                .collect();
            eprintln!(
                "ftplens: {}: {} frames of unsupported link type {} skipped (supported: Ethernet, \
                 raw IP, Linux SLL/SLL2, loopback)",
                r.name,
                r.stats.unknown_link,
                types.join(", ")
            );
            if r.stats.unknown_link == r.stats.frames {
                status = status.max(Status::Error);
            }
        }
        for e in &r.stats.io_errors {
            eprintln!("ftplens: {}: {e}", r.name);
            status = status.max(Status::Error);
        }
        if r.stats.anomaly_total() > 0 {
            status = status.max(Status::Anomalies);
        }
        summaries.push(r);
    }
    if mode == Mode::Summary {
        let mut out = io::stdout().lock();
        print_summary(&mut out, &summaries, show_passwords, max_rows)?;
        out.flush()?;
    }
    Ok(status)
}

/// Counts bytes for the progress bar and stops reading when the run is cancelled.
struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
    cancel: Arc<AtomicBool>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

#[allow(clippy::too_many_arguments)]
fn analyze(
    input: &Input,
    idx: usize,
    opts: Options,
    mode: Mode,
    file_field: Option<String>,
    tx: &mpsc::SyncSender<Msg>,
    bar: Option<&ProgressBar>,
    cancel: &Arc<AtomicBool>,
) -> Report {
    let name = input.name();
    let mut report = Report {
        name: name.clone(),
        read: None,
        open_error: None,
        stats: Stats::default(),
        summary: (mode == Mode::Summary).then(Summary::default),
    };
    let reader: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::File(p) => match File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                report.open_error = Some(e.to_string());
                return report;
            }
        },
    };
    let reader = Counting {
        inner: reader,
        bar: bar.cloned(),
        cancel: cancel.clone(),
    };
    let capture = match CaptureReader::new(reader) {
        Ok(c) => c,
        Err(e) => {
            report.open_error = Some(e.to_string());
            return report;
        }
    };
    let mut buf = String::with_capacity(128 * 1024);
    let summary = &mut report.summary;
    let file = file_field.as_deref();
    let mut sink = |r: Record| {
        match mode {
            Mode::Log => {
                r.write_json(&mut buf, file);
                buf.push('\n');
            }
            Mode::Extract => {
                if let Record::Transfer(t) = &r {
                    if t.extracted.is_some() {
                        manifest_line(&mut buf, t, file);
                    }
                }
            }
            Mode::Summary => {
                if let Some(s) = summary.as_mut() {
                    s.add(r);
                }
            }
        }
        if buf.len() >= 64 * 1024 {
            let _ = tx.send(Msg::Out(idx, std::mem::take(&mut buf).into_bytes()));
            buf.reserve(128 * 1024);
        }
    };
    let (read, stats) = {
        let mut analyzer = match Analyzer::new(opts, &mut sink) {
            Ok(a) => a,
            Err(e) => {
                report.open_error = Some(format!("cannot write there: {e}"));
                return report;
            }
        };
        let read = capture.for_each(|f| analyzer.frame(f));
        (read, analyzer.finish())
    };
    if !buf.is_empty() {
        let _ = tx.send(Msg::Out(idx, buf.into_bytes()));
    }
    report.read = Some(read);
    report.stats = stats;
    report
}

fn manifest_line(out: &mut String, t: &TransferRecord, file: Option<&str>) {
    ftplens::capture::record::write_manifest(out, t, file);
}

// ------------------------------------------------------------------------------- summary

#[derive(Default)]
struct Summary {
    sessions: Vec<ftplens::capture::record::SessionRecord>,
    transfers: Vec<TransferRecord>,
    /// name -> (count, first detail)
    anomalies: BTreeMap<String, (u64, String)>,
}

impl Summary {
    fn add(&mut self, r: Record) {
        match r {
            Record::Session(s) => self.sessions.push(s),
            Record::Transfer(t) => self.transfers.push(t),
            Record::Anomaly(a) => {
                let e = self
                    .anomalies
                    .entry(a.name.to_string())
                    .or_insert((0, a.detail));
                e.0 += 1;
            }
            Record::Command(c) => {
                for a in c.anomalies {
                    let detail = format!(
                        "{} {}",
                        c.command.as_deref().unwrap_or(""),
                        c.arg
                            .as_deref()
                            .unwrap_or("")
                            .chars()
                            .take(60)
                            .collect::<String>()
                    );
                    let e = self.anomalies.entry(a.to_string()).or_insert((0, detail));
                    e.0 += 1;
                }
            }
        }
    }
}

fn mask(p: Option<&str>, show: bool) -> String {
    match p {
        None => "-".into(),
        Some(p) if show => p.to_string(),
        Some(_) => "********".into(),
    }
}

fn table(
    out: &mut impl Write,
    head: &[&str],
    rows: &[Vec<String>],
    max_rows: usize,
) -> io::Result<()> {
    let shown = if max_rows == 0 {
        rows.len()
    } else {
        rows.len().min(max_rows)
    };
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in &rows[..shown] {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, (c, w)) in cells.iter().zip(&width).enumerate() {
            s.push(' ');
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(w - c.chars().count() + 1));
            }
        }
        s
    };
    writeln!(out, "{}", line(head.to_vec()))?;
    for r in &rows[..shown] {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    if shown < rows.len() {
        writeln!(
            out,
            "  ... {} more (--max-rows 0 shows all)",
            rows.len() - shown
        )?;
    }
    Ok(())
}

/// Printable: control characters (a NUL in a file name) shown escaped.
fn clean(s: &str, max: usize) -> String {
    if s.is_empty() {
        return "\"\"".into(); // sent, but empty
    }
    let mut esc = String::new();
    write_str(&mut esc, s);
    let inner = &esc[1..esc.len() - 1];
    if inner.chars().count() > max {
        format!(
            "{}…",
            inner
                .chars()
                .take(max.saturating_sub(1))
                .collect::<String>()
        )
    } else {
        inner.to_string()
    }
}

fn print_summary(
    out: &mut impl Write,
    reports: &[Report],
    show_passwords: bool,
    max_rows: usize,
) -> io::Result<()> {
    let mut sessions = Vec::new();
    let mut logins = Vec::new();
    let mut transfers = Vec::new();
    let mut anomalies: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for r in reports {
        let Some(s) = &r.summary else { continue };
        match &r.read {
            Some(read) => writeln!(
                out,
                "{}: {}, {} frames; FTP sessions: {}, data connections: {}, transfers: {}{}",
                r.name,
                read.format,
                read.frames,
                s.sessions.len(),
                r.stats.data_connections,
                s.transfers.len(),
                if read.stopped.is_some() {
                    " (input cut short)"
                } else {
                    ""
                }
            )?,
            None => writeln!(out, "{}: not read", r.name)?,
        }
        for x in &s.sessions {
            let id = x.id.as_ref();
            let client = id.map_or("-".into(), |i| i.orig().to_string());
            let server = id.map_or("-".into(), |i| i.resp().to_string());
            sessions.push(vec![
                x.uid.clone(),
                client.clone(),
                server.clone(),
                clean(x.user.as_deref().unwrap_or("-"), 24),
                x.login.to_string(),
                x.commands.to_string(),
                x.transfers.to_string(),
                x.anomalies.to_string(),
                x.tls.clone().unwrap_or_else(|| "-".into()),
            ]);
            if x.user.is_some() || x.password.is_some() {
                logins.push(vec![
                    x.user.as_deref().map_or("-".into(), |u| clean(u, 32)),
                    clean(&mask(x.password.as_deref(), show_passwords), 32),
                    x.login.to_string(),
                    x.failed_logins.to_string(),
                    client,
                    server,
                ]);
            }
        }
        for t in &s.transfers {
            transfers.push(vec![
                t.command.clone().unwrap_or_else(|| "-".into()),
                clean(t.path.as_deref().or(t.arg.as_deref()).unwrap_or("-"), 48),
                t.mode.unwrap_or("-").to_string(),
                t.bytes.to_string(),
                if t.complete {
                    "complete".into()
                } else {
                    format!("partial ({})", t.partial_reasons.join(","))
                },
                t.sha256
                    .as_deref()
                    .map_or("-".into(), |h| h[..16.min(h.len())].to_string()),
            ]);
        }
        for (k, (n, d)) in &s.anomalies {
            let e = anomalies.entry(k.clone()).or_insert((0, d.clone()));
            e.0 += n;
        }
    }
    writeln!(out)?;
    writeln!(out, "Sessions ({})", sessions.len())?;
    table(
        out,
        &[
            "UID",
            "CLIENT",
            "SERVER",
            "USER",
            "LOGIN",
            "CMDS",
            "XFERS",
            "ANOMALIES",
            "TLS",
        ],
        &sessions,
        max_rows,
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Logins ({}){}",
        logins.len(),
        if show_passwords {
            ""
        } else {
            ", passwords masked (--show-passwords shows them)"
        }
    )?;
    table(
        out,
        &["USER", "PASSWORD", "RESULT", "FAILED", "CLIENT", "SERVER"],
        &logins,
        max_rows,
    )?;
    writeln!(out)?;
    writeln!(out, "Transfers ({})", transfers.len())?;
    table(
        out,
        &["COMMAND", "PATH", "MODE", "BYTES", "STATE", "SHA256"],
        &transfers,
        max_rows,
    )?;
    writeln!(out)?;
    let total: u64 = anomalies.values().map(|(n, _)| n).sum();
    writeln!(out, "Anomalies ({total})")?;
    let rows: Vec<Vec<String>> = anomalies
        .iter()
        .map(|(k, (n, d))| vec![k.clone(), n.to_string(), clean(d, 70)])
        .collect();
    table(out, &["NAME", "COUNT", "FIRST"], &rows, max_rows)?;
    Ok(())
}
