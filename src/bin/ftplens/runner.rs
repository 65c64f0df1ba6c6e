//! Running the analyser over every input, several at once, and handing each record to the mode.
//!
//! Workers take inputs in turn; a mode's record function turns each record into bytes for one of
//! the mode's output streams (or keeps it for the end). The printer writes the streams in input
//! order, streaming the earliest unfinished input, so output never interleaves and never waits for
//! the whole run.

use crate::flags::When;
use crate::live::LiveSummary;
use crate::settings::{Input, Settings};
use ftplens::capture::{Analyzer, CaptureReader, ReadSummary, Record, Stats};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Exit statuses, documented in `--help` ([`crate::flags::EXIT_CODES`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Status {
    Clean = 0,
    Anomalies = 1,
    Partial = 3,
    Error = 4, // reported as 2; ordered last so that it wins
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Error => 2,
            s => s as u8,
        }
    }
}

/// Bytes gathered above this are handed to the printer.
const BATCH: usize = 64 * 1024;

/// Where a mode writes while an input is read.
pub struct Out<'a> {
    /// The input's name when the run has several (records then carry a `file` field).
    pub file: Option<&'a str>,
    /// One buffer per output stream of the mode.
    pub streams: &'a mut [String],
}

/// What a mode does with the records of one input: render them into its streams, or keep what
/// it needs in its per-input state (returned in the input's [`Report`]).
pub trait Render: Sync {
    type State: Default + Send;
    fn record(&self, r: Record, state: &mut Self::State, out: &mut Out<'_>);
    /// The input is read to its end (every record has been given).
    fn end(&self, _state: &mut Self::State, _out: &mut Out<'_>) {}
}

/// A mode that renders each record on its own.
pub struct Each<F>(pub F);

impl<F: Fn(Record, &mut Out<'_>) + Sync> Render for Each<F> {
    type State = ();
    fn record(&self, r: Record, _: &mut (), out: &mut Out<'_>) {
        (self.0)(r, out)
    }
}

/// The outcome of one input.
pub struct Report<S = ()> {
    pub name: String,
    pub read: Option<ReadSummary>,
    /// For an interface: what was captured and what libpcap dropped.
    pub live: Option<LiveSummary>,
    pub open_error: Option<String>,
    pub stats: Stats,
    /// The mode's per-input state after the last record.
    pub state: S,
}

/// What a worker tells the printer.
enum Msg<S> {
    Out(usize, usize, Vec<u8>),
    Done(usize, Box<Report<S>>),
}

/// Analyse every input; `mode` renders records into `outputs` (one writer per stream).
/// Returns the reports in input order, or the first write error.
pub fn run<M: Render>(
    settings: &Settings,
    outputs: &mut [&mut dyn Write],
    mode: &M,
) -> io::Result<Vec<Report<M::State>>> {
    let inputs = &settings.inputs;
    let multi = inputs.len() > 1;
    let streams = outputs.len();
    let bar = progress_bar(settings);
    let cancel = Arc::new(AtomicBool::new(false));
    if settings.live {
        stop_on_signals(&cancel)?;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Msg<M::State>>(64);
    let mut reports: Vec<Option<Report<M::State>>> = (0..inputs.len()).map(|_| None).collect();
    let mut write_result: io::Result<()> = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..settings.jobs.min(inputs.len()) {
            let tx = tx.clone();
            let (next, cancel, bar) = (&next, &*cancel, bar.as_ref());
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= inputs.len() || cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut opts = settings.options.clone();
                    opts.uid_salt = i as u64;
                    let job = Job {
                        idx: i,
                        file: multi.then(|| inputs[i].name()),
                        streams,
                        batch: if settings.live { 1 } else { BATCH },
                        tx: &tx,
                        bar,
                        cancel,
                    };
                    let report = job.analyze(&inputs[i], opts, mode);
                    if tx.send(Msg::Done(i, Box::new(report))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut printer = Printer {
            outputs,
            flush_each: settings.live,
            current: 0,
            parked: HashMap::new(),
            done: HashMap::new(),
        };
        for msg in rx {
            if write_result.is_err() {
                continue; // drain so that workers can finish
            }
            write_result = printer.take(msg, &mut reports);
            if write_result.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        if write_result.is_ok() {
            write_result = printer.outputs.iter_mut().try_for_each(|o| o.flush());
        }
    });
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    write_result?;
    Ok(reports.into_iter().flatten().collect())
}

/// Writes each input's bytes in input order.
struct Printer<'o, 'w, S> {
    outputs: &'o mut [&'w mut dyn Write],
    /// Live: every write reaches the reader at once.
    flush_each: bool,
    current: usize,
    parked: HashMap<usize, Vec<(usize, Vec<u8>)>>,
    done: HashMap<usize, Box<Report<S>>>,
}

impl<S> Printer<'_, '_, S> {
    fn take(&mut self, msg: Msg<S>, reports: &mut [Option<Report<S>>]) -> io::Result<()> {
        match msg {
            Msg::Out(i, s, bytes) if i == self.current => {
                self.outputs[s].write_all(&bytes)?;
                if self.flush_each {
                    self.outputs[s].flush()?;
                }
            }
            Msg::Out(i, s, bytes) => self.parked.entry(i).or_default().push((s, bytes)),
            Msg::Done(i, r) => {
                self.done.insert(i, r);
            }
        }
        while let Some(r) = self.done.remove(&self.current) {
            self.write_parked()?;
            reports[self.current] = Some(*r);
            self.current += 1;
            self.write_parked()?;
        }
        Ok(())
    }

    fn write_parked(&mut self) -> io::Result<()> {
        for (s, b) in self.parked.remove(&self.current).unwrap_or_default() {
            self.outputs[s].write_all(&b)?;
        }
        Ok(())
    }
}

/// Progress: bytes of all files, on a terminal, for runs big enough to wait for.
fn progress_bar(settings: &Settings) -> Option<ProgressBar> {
    let total: u64 = settings
        .inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::Stdin | Input::Interface { .. } => 0,
        })
        .sum();
    let show = match settings.progress {
        When::Always => true,
        When::Never => false,
        When::Auto => io::stderr().is_terminal() && total >= 64 << 20,
    };
    show.then(|| {
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    })
}

/// Counts bytes for the progress bar and stops reading when the run is cancelled.
struct Counting<'a, R> {
    inner: R,
    bar: Option<&'a ProgressBar>,
    cancel: &'a AtomicBool,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if let Some(b) = self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

/// One input on one worker.
struct Job<'a, S> {
    idx: usize,
    file: Option<String>,
    streams: usize,
    /// Bytes gathered before they go to the printer (1 when live: each record at once).
    batch: usize,
    tx: &'a mpsc::SyncSender<Msg<S>>,
    bar: Option<&'a ProgressBar>,
    cancel: &'a AtomicBool,
}

impl<S: Default + Send> Job<'_, S> {
    fn analyze<M: Render<State = S>>(
        &self,
        input: &Input,
        opts: ftplens::capture::Options,
        mode: &M,
    ) -> Report<S> {
        let mut report = Report {
            name: input.name(),
            read: None,
            live: None,
            open_error: None,
            stats: Stats::default(),
            state: S::default(),
        };
        let reader: Box<dyn Read + Send> = match input {
            Input::Interface { name, filter } => {
                return self.analyze_live(name, filter.as_deref(), opts, mode, report);
            }
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
            bar: self.bar,
            cancel: self.cancel,
        };
        let capture = match CaptureReader::new(reader) {
            Ok(c) => c,
            Err(e) => {
                report.open_error = Some(e.to_string());
                return report;
            }
        };
        let (read, stats) = match self.drive(opts, mode, &mut report.state, |analyzer| {
            capture.for_each(|f| analyzer.frame(f))
        }) {
            Ok(r) => r,
            Err(e) => {
                report.open_error = Some(e);
                return report;
            }
        };
        report.read = Some(read);
        report.stats = stats;
        report
    }

    /// Run the analyser over the frames `feed` hands it, rendering records as they come.
    fn drive<M: Render<State = S>, T>(
        &self,
        opts: ftplens::capture::Options,
        mode: &M,
        state: &mut S,
        feed: impl FnOnce(&mut Analyzer<'_>) -> T,
    ) -> Result<(T, Stats), String> {
        let mut bufs: Vec<String> = (0..self.streams)
            .map(|_| String::with_capacity(2 * BATCH))
            .collect();
        let mut sink = |r: Record| {
            let mut out = Out {
                file: self.file.as_deref(),
                streams: &mut bufs,
            };
            mode.record(r, state, &mut out);
            self.send(&mut bufs, self.batch);
        };
        let (fed, stats) = {
            let mut analyzer =
                Analyzer::new(opts, &mut sink).map_err(|e| format!("cannot write there: {e}"))?;
            let fed = feed(&mut analyzer);
            (fed, analyzer.finish())
        };
        let mut out = Out {
            file: self.file.as_deref(),
            streams: &mut bufs,
        };
        mode.end(state, &mut out);
        self.send(&mut bufs, 1);
        Ok((fed, stats))
    }

    #[cfg(feature = "live")]
    fn analyze_live<M: Render<State = S>>(
        &self,
        name: &str,
        filter: Option<&str>,
        opts: ftplens::capture::Options,
        mode: &M,
        mut report: Report<S>,
    ) -> Report<S> {
        let capture = match crate::live::LiveCapture::open(name, filter) {
            Ok(c) => c,
            Err(e) => {
                report.open_error = Some(e);
                return report;
            }
        };
        eprintln!(
            "ftplens: capturing on {}{}; SIGINT (Ctrl-C) or SIGTERM ends the capture",
            capture.interface(),
            filter.map_or(String::new(), |f| format!(" (filter: {f})"))
        );
        let cancel = self.cancel;
        match self.drive(opts, mode, &mut report.state, |analyzer| {
            capture.for_each(cancel, |f| analyzer.frame(f))
        }) {
            Ok((live, stats)) => {
                report.live = Some(live);
                report.stats = stats;
            }
            Err(e) => report.open_error = Some(e),
        }
        report
    }

    #[cfg(not(feature = "live"))]
    fn analyze_live<M: Render<State = S>>(
        &self,
        _: &str,
        _: Option<&str>,
        _: ftplens::capture::Options,
        _: &M,
        mut report: Report<S>,
    ) -> Report<S> {
        report.open_error = Some("built without live capture".into());
        report
    }

    /// Hand every buffer holding at least `min` bytes to the printer.
    fn send(&self, bufs: &mut [String], min: usize) {
        for (s, b) in bufs.iter_mut().enumerate() {
            if b.len() >= min {
                let bytes = std::mem::replace(b, String::with_capacity(2 * BATCH)).into_bytes();
                let _ = self.tx.send(Msg::Out(self.idx, s, bytes));
            }
        }
    }
}

/// SIGINT and SIGTERM set `stop`: the capture ends, the open sessions are finished and their
/// records written. A second signal ends the process at once.
#[cfg(feature = "live")]
fn stop_on_signals(stop: &Arc<AtomicBool>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    Ok(())
}

#[cfg(not(feature = "live"))]
fn stop_on_signals(_: &Arc<AtomicBool>) -> io::Result<()> {
    Ok(())
}

/// Report each input's problems on standard error; the run's status.
pub fn judge<S>(settings: &Settings, reports: &[Report<S>]) -> Status {
    let mut status = Status::Clean;
    for e in &settings.input_errors {
        eprintln!("ftplens: {e}");
        status = Status::Error;
    }
    for r in reports {
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
        if let Some(live) = &r.live {
            eprintln!(
                "ftplens: {}: {} packets captured ({} bytes); libpcap received {}, dropped {} \
                 (buffer full) and the interface dropped {}",
                r.name, live.frames, live.bytes, live.received, live.dropped, live.if_dropped
            );
            if let Some(e) = &live.error {
                eprintln!("ftplens: {}: capture ended: {e}", r.name);
                status = status.max(Status::Error);
            }
            if live.dropped > 0 || live.if_dropped > 0 {
                status = status.max(Status::Partial);
            }
        }
        if r.stats.too_deep > 0 {
            eprintln!(
                "ftplens: {}: {} frames nested in more than {} layers of encapsulation skipped",
                r.name,
                r.stats.too_deep,
                ftplens::capture::decode::MAX_NESTING
            );
        }
        for e in &r.stats.io_errors {
            eprintln!("ftplens: {}: {e}", r.name);
            status = status.max(Status::Error);
        }
        if r.stats.anomaly_total() > 0 {
            status = status.max(Status::Anomalies);
        }
    }
    if reports.is_empty() {
        status = status.max(Status::Error);
    }
    status
}
