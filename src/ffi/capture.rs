//! The C ABI of the capture analyser (`ftplens_capture_*`): what `ftplens log` does, for callers in
//! other languages (the Python package's `ftplens.analyze`).
//!
//! The analyser pushes records into a sink while it reads a file ([`crate::capture::Analyzer`] over
//! [`crate::capture::CaptureReader::for_each`]); a C caller pulls. A thread owned by the handle runs
//! the push side and hands batches of JSON lines over a bounded channel, the way the command's
//! workers hand output to its printer, so memory stays bounded and the record format is the
//! command's by construction ([`crate::capture::Record::write_json`]).
//!
//! Ownership: `ftplens_capture_open` gives the caller a `Box<Analysis>` as an opaque pointer, which
//! `ftplens_capture_free` takes back (once). Batches and the report belong to the handle and live
//! until the next call on it.

use super::guard;
use super::sys::*;
use std::ffi::{CStr, c_char};

/// Records per batch handed to the caller: big enough that the per-call cost vanishes, small
/// enough that the channel below holds about a MiB.
#[cfg(feature = "cli")]
const BATCH_BYTES: usize = 64 * 1024;
/// Batches the reading thread may run ahead of the caller.
#[cfg(feature = "cli")]
const BATCHES_AHEAD: usize = 16;

/// What the reading thread sends.
#[cfg(feature = "cli")]
enum Msg {
    Lines(Vec<u8>),
    /// One input is done: its report line.
    Report(String),
}

/// An analysis in progress: the handle behind `ftplens_capture *`.
#[cfg_attr(not(feature = "cli"), allow(dead_code))]
struct Analysis {
    #[cfg(feature = "cli")]
    rx: Option<std::sync::mpsc::Receiver<Msg>>,
    #[cfg(feature = "cli")]
    cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    #[cfg(feature = "cli")]
    worker: Option<std::thread::JoinHandle<()>>,
    /// The batch last returned by `ftplens_capture_next`.
    batch: Vec<u8>,
    /// Report lines of the inputs done so far, NUL-terminated for the caller.
    report: Vec<u8>,
    panicked: bool,
}

#[unsafe(no_mangle)]
pub extern "C" fn ftplens_capture_supported() -> bool {
    cfg!(feature = "cli")
}

/// # Safety
/// `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_capture_options_default(out: *mut ftplens_capture_options) {
    guard((), || {
        // SAFETY: the caller guarantees out is NULL or writable.
        if let Some(out) = unsafe { out.as_mut() } {
            *out = default_options();
        }
    })
}

#[cfg(feature = "cli")]
fn default_options() -> ftplens_capture_options {
    let d = crate::capture::Options::default();
    ftplens_capture_options {
        // NULL: the command's default digests (sha256).
        hash: std::ptr::null(),
        tcp_timeout: d.tcp_timeout,
        memcap: d.total_memcap as u64,
        stream_memcap: d.stream_memcap as u64,
        late_window: d.late_window,
        ftp_ports: std::ptr::null(),
        n_ftp_ports: 0,
        limits: std::ptr::null(),
        n_limits: 0,
    }
}

#[cfg(not(feature = "cli"))]
fn default_options() -> ftplens_capture_options {
    ftplens_capture_options::default()
}

/// # Safety
/// `paths` must point to `n_paths` NUL-terminated strings; `options` must be NULL or readable, with
/// `ftp_ports` pointing to `n_ftp_ports` ports (NULL only with 0) and `hash` NULL or a
/// NUL-terminated string; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_capture_open(
    paths: *const *const c_char,
    n_paths: usize,
    options: *const ftplens_capture_options,
    out: *mut *mut ftplens_capture,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees out is NULL or writable.
        let Some(out) = (unsafe { out.as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        *out = std::ptr::null_mut();
        if paths.is_null() && n_paths != 0 {
            return FTPLENS_ERR_NULL_ARGUMENT;
        }
        let mut names = Vec::with_capacity(n_paths);
        for i in 0..n_paths {
            // SAFETY: the caller guarantees n_paths readable pointers.
            let p = unsafe { *paths.add(i) };
            if p.is_null() {
                return FTPLENS_ERR_NULL_ARGUMENT;
            }
            // SAFETY: the caller guarantees a NUL-terminated string.
            names.push(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec());
        }
        // SAFETY: the caller guarantees options is NULL or readable.
        let options = match unsafe { options.as_ref() } {
            Some(o) => *o,
            None => default_options(),
        };
        let ports: &[u16] = match (options.ftp_ports.is_null(), options.n_ftp_ports) {
            (_, 0) => &[],
            (true, _) => return FTPLENS_ERR_NULL_ARGUMENT,
            // SAFETY: the caller guarantees ftp_ports points to n_ftp_ports ports.
            (false, n) => unsafe { std::slice::from_raw_parts(options.ftp_ports, n) },
        };
        if options.limits.is_null() && options.n_limits != 0 {
            return FTPLENS_ERR_NULL_ARGUMENT;
        }
        let hashes = if options.hash.is_null() {
            None
        } else {
            // SAFETY: the caller guarantees a NUL-terminated string.
            match unsafe { CStr::from_ptr(options.hash) }.to_str() {
                Ok(s) => Some(s),
                Err(_) => return FTPLENS_ERR_INVALID_ARGUMENT,
            }
        };
        let mut limits = Vec::with_capacity(options.n_limits);
        for i in 0..options.n_limits {
            // SAFETY: the caller guarantees n_limits readable pointers.
            let p = unsafe { *options.limits.add(i) };
            if p.is_null() {
                return FTPLENS_ERR_NULL_ARGUMENT;
            }
            // SAFETY: the caller guarantees a NUL-terminated string.
            match unsafe { CStr::from_ptr(p) }.to_str() {
                Ok(s) => limits.push(s),
                Err(_) => return FTPLENS_ERR_INVALID_ARGUMENT,
            }
        }
        match start(names, &options, hashes, ports, &limits) {
            Some(analysis) => {
                *out = Box::into_raw(Box::new(analysis)).cast::<ftplens_capture>();
                FTPLENS_OK
            }
            None => FTPLENS_ERR_INVALID_ARGUMENT,
        }
    })
}

/// The command's checks on its options, then the reading thread. `None` for options out of range.
#[cfg(feature = "cli")]
fn start(
    names: Vec<Vec<u8>>,
    options: &ftplens_capture_options,
    hashes: Option<&str>,
    ports: &[u16],
    limit_assignments: &[&str],
) -> Option<Analysis> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let positive = |x: f64| x.is_finite() && x > 0.0;
    let late_ok = options.late_window.is_finite() && options.late_window >= 0.0;
    if !positive(options.tcp_timeout)
        || !late_ok
        || options.memcap == 0
        || options.stream_memcap == 0
    {
        return None;
    }
    let mut limits = crate::Limits::default();
    for assignment in limit_assignments {
        limits.set_by_name(assignment).ok()?;
    }
    let mut control_ports = vec![21];
    control_ports.extend(ports.iter().filter(|&&p| p != 21));
    let base = crate::capture::Options {
        hashes: match hashes {
            Some(list) => list.parse().ok()?,
            None => crate::capture::Options::default().hashes,
        },
        tcp_timeout: options.tcp_timeout,
        stream_memcap: usize::try_from(options.stream_memcap).unwrap_or(usize::MAX),
        total_memcap: usize::try_from(options.memcap).unwrap_or(usize::MAX),
        late_window: options.late_window,
        control_ports,
        limits,
        ..crate::capture::Options::default()
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(BATCHES_AHEAD);
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = cancel.clone();
    let worker = std::thread::Builder::new()
        .name("ftplens-capture".into())
        .spawn(move || run(&names, &base, &tx, &stop))
        .ok()?;
    Some(Analysis {
        rx: Some(rx),
        cancel,
        worker: Some(worker),
        batch: Vec::new(),
        report: vec![0],
        panicked: false,
    })
}

#[cfg(not(feature = "cli"))]
fn start(
    _: Vec<Vec<u8>>,
    _: &ftplens_capture_options,
    _: Option<&str>,
    _: &[u16],
    _: &[&str],
) -> Option<Analysis> {
    None
}

/// The reading thread: each input in turn, as the command's `log` does it.
#[cfg(feature = "cli")]
fn run(
    names: &[Vec<u8>],
    base: &crate::capture::Options,
    tx: &std::sync::mpsc::SyncSender<Msg>,
    cancel: &std::sync::atomic::AtomicBool,
) {
    use crate::capture::{Analyzer, CaptureReader, Record, Stats};
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::Ordering;

    let multi = names.len() > 1;
    for (i, raw) in names.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(raw));
        let name = path.display().to_string();
        let mut report = serde_json::Map::new();
        report.insert("file".into(), name.clone().into());
        let capture = std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                CaptureReader::new(Cancellable { inner: f, cancel }).map_err(|e| e.to_string())
            });
        match capture {
            Err(e) => {
                report.insert("error".into(), e.into());
            }
            Ok(capture) => {
                let mut opts = base.clone();
                opts.uid_salt = i as u64;
                let file = multi.then_some(name.as_str());
                let mut buf = String::with_capacity(2 * BATCH_BYTES);
                let mut sink = |r: Record| {
                    r.write_json(&mut buf, file);
                    buf.push('\n');
                    if buf.len() >= BATCH_BYTES {
                        let full =
                            std::mem::replace(&mut buf, String::with_capacity(2 * BATCH_BYTES));
                        // A closed channel means the caller freed the analysis: `cancel` stops
                        // the reading.
                        let _ = tx.send(Msg::Lines(full.into_bytes()));
                    }
                };
                let (read, stats): (_, Stats) = match Analyzer::new(opts, &mut sink) {
                    Ok(mut analyzer) => {
                        let read = capture.for_each(|f| analyzer.frame(f));
                        (read, analyzer.finish())
                    }
                    // Only extraction opens files here, and extraction is not offered.
                    Err(e) => {
                        report.insert("error".into(), e.to_string().into());
                        let _ = tx.send(Msg::Report(serde_json::Value::from(report).to_string()));
                        continue;
                    }
                };
                if !buf.is_empty() {
                    let _ = tx.send(Msg::Lines(buf.into_bytes()));
                }
                if stats.unknown_link > 0 && stats.unknown_link == stats.frames {
                    report.insert("error".into(), "no frame of a supported link type".into());
                }
                let facts = serde_json::json!({
                    "format": read.format,
                    "frames": read.frames,
                    "bytes": read.bytes,
                    "unknown_link": stats.unknown_link,
                    "io_errors": stats.io_errors,
                    "sessions": stats.control_sessions,
                    "transfers": stats.transfers,
                    "anomalies": stats.anomaly_total(),
                });
                if let serde_json::Value::Object(facts) = facts {
                    report.extend(facts);
                }
                if let Some(why) = read.stopped {
                    report.insert("stopped".into(), why.to_string().into());
                }
            }
        }
        let line = serde_json::Value::from(report).to_string();
        if tx.send(Msg::Report(line)).is_err() {
            return;
        }
    }
}

/// A file that reads as ended once the analysis is cancelled.
#[cfg(feature = "cli")]
struct Cancellable<'c, R> {
    inner: R,
    cancel: &'c std::sync::atomic::AtomicBool,
}

#[cfg(feature = "cli")]
impl<R: std::io::Read> std::io::Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(0);
        }
        self.inner.read(buf)
    }
}

impl Analysis {
    /// The next batch, or the end (`None`); report lines are collected on the way.
    #[cfg(feature = "cli")]
    fn next_batch(&mut self) -> Result<Option<&[u8]>, ()> {
        loop {
            let msg = match &self.rx {
                Some(rx) => rx.recv().ok(),
                None => None,
            };
            match msg {
                Some(Msg::Lines(lines)) => {
                    self.batch = lines;
                    return Ok(Some(&self.batch));
                }
                Some(Msg::Report(line)) => {
                    self.report.pop(); // the NUL
                    self.report.extend_from_slice(line.as_bytes());
                    self.report.extend_from_slice(b"\n\0");
                }
                None => {
                    self.rx = None;
                    if let Some(w) = self.worker.take() {
                        self.panicked |= w.join().is_err();
                    }
                    return if self.panicked { Err(()) } else { Ok(None) };
                }
            }
        }
    }

    #[cfg(not(feature = "cli"))]
    fn next_batch(&mut self) -> Result<Option<&[u8]>, ()> {
        Ok(None)
    }
}

impl Drop for Analysis {
    fn drop(&mut self) {
        #[cfg(feature = "cli")]
        {
            self.cancel
                .store(true, std::sync::atomic::Ordering::Relaxed);
            // Dropping the receiver fails the thread's next send, so it cannot block on a full
            // channel; the cancel flag ends its reading.
            self.rx = None;
            if let Some(w) = self.worker.take() {
                let _ = w.join();
            }
        }
    }
}

/// # Safety
/// `capture` must be a live handle used by one thread at a time; `data_out` and `len_out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_capture_next(
    capture: *mut ftplens_capture,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees a live handle from ftplens_capture_open, not shared.
        let Some(a) = (unsafe { capture.cast::<Analysis>().as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        // SAFETY: the caller guarantees both are NULL or writable.
        let (Some(data_out), Some(len_out)) =
            (unsafe { data_out.as_mut() }, unsafe { len_out.as_mut() })
        else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        *data_out = std::ptr::null();
        *len_out = 0;
        if a.panicked {
            return FTPLENS_ERR_PANIC;
        }
        match a.next_batch() {
            Ok(Some(batch)) => {
                *data_out = batch.as_ptr();
                *len_out = batch.len();
                FTPLENS_OK
            }
            Ok(None) => FTPLENS_END,
            Err(()) => FTPLENS_ERR_PANIC,
        }
    })
}

/// # Safety
/// `capture` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_capture_report(capture: *const ftplens_capture) -> *const c_char {
    static EMPTY: &CStr = c"";
    guard(EMPTY.as_ptr(), || {
        // SAFETY: the caller guarantees NULL or a live handle.
        match unsafe { capture.cast::<Analysis>().as_ref() } {
            Some(a) if !a.report.is_empty() => a.report.as_ptr().cast::<c_char>(),
            _ => EMPTY.as_ptr(),
        }
    })
}

/// # Safety
/// `capture` must be NULL or a handle from `ftplens_capture_open` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_capture_free(capture: *mut ftplens_capture) {
    guard((), || {
        if !capture.is_null() {
            // SAFETY: the caller passes a handle made by Box::into_raw in ftplens_capture_open, once.
            drop(unsafe { Box::from_raw(capture.cast::<Analysis>()) });
        }
    })
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use super::*;
    use std::ffi::CString;

    /// Every batch of an analysis, and its report.
    fn analyse(paths: &[&str], options: Option<&ftplens_capture_options>) -> (String, String) {
        let c: Vec<CString> = paths.iter().map(|p| CString::new(*p).unwrap()).collect();
        let ptrs: Vec<*const c_char> = c.iter().map(|s| s.as_ptr()).collect();
        let mut h = std::ptr::null_mut();
        let opts = options.map_or(std::ptr::null(), |o| o as *const _);
        // SAFETY: valid arrays and a writable out pointer.
        let r = unsafe { ftplens_capture_open(ptrs.as_ptr(), ptrs.len(), opts, &mut h) };
        assert_eq!(r, FTPLENS_OK);
        let mut out = String::new();
        loop {
            let (mut p, mut n) = (std::ptr::null(), 0);
            // SAFETY: a live handle and writable outs.
            match unsafe { ftplens_capture_next(h, &mut p, &mut n) } {
                // SAFETY: the batch is valid until the next call.
                FTPLENS_OK => out.push_str(
                    std::str::from_utf8(unsafe { std::slice::from_raw_parts(p, n) }).unwrap(),
                ),
                FTPLENS_END => break,
                other => panic!("next: {other}"),
            }
        }
        // SAFETY: a live handle; the report is NUL-terminated.
        let report = unsafe { CStr::from_ptr(ftplens_capture_report(h)) }
            .to_str()
            .unwrap()
            .to_owned();
        // SAFETY: freed once.
        unsafe { ftplens_capture_free(h) };
        (out, report)
    }

    #[test]
    fn the_sample_has_its_transfer() {
        let (lines, report) = analyse(&["samples/seed-pasv.pcap"], None);
        let transfer = lines
            .lines()
            .find(|l| l.starts_with(r#"{"type":"transfer""#))
            .expect("a transfer record");
        assert!(transfer.contains(r#""command":"RETR""#), "{transfer}");
        assert!(transfer.contains(r#""sha256":""#), "{transfer}");
        assert!(!lines.contains(r#""file":"#), "one input: no file key");
        assert!(report.ends_with("}\n"), "{report}");
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["file"], "samples/seed-pasv.pcap");
        assert_eq!(report["frames"], 29);
        assert_eq!(report["transfers"], 1);
    }

    #[test]
    fn several_inputs_are_named_and_errors_reported() {
        let (lines, report) = analyse(&["samples/seed-pasv.pcap", "/nonexistent.pcap"], None);
        assert!(
            lines
                .lines()
                .all(|l| l.contains(r#""file":"samples/seed-pasv.pcap""#))
        );
        let reports: Vec<&str> = report.lines().collect();
        assert_eq!(reports.len(), 2);
        assert!(reports[1].contains(r#""error":"#), "{report}");
    }

    #[test]
    fn options_out_of_range_are_refused_and_hashing_is_optional() {
        let mut o = ftplens_capture_options::default();
        // SAFETY: a writable struct.
        unsafe { ftplens_capture_options_default(&mut o) };
        assert!(o.hash.is_null() && o.tcp_timeout == 600.0);
        let none = CString::new("none").unwrap();
        o.hash = none.as_ptr();
        let (lines, _) = analyse(&["samples/seed-pasv.pcap"], Some(&o));
        assert!(lines.contains(r#""type":"transfer""#) && !lines.contains("sha256"));
        let two = CString::new("md5,sha1").unwrap();
        o.hash = two.as_ptr();
        let (lines, _) = analyse(&["samples/seed-pasv.pcap"], Some(&o));
        assert!(lines.contains(r#""md5":""#) && lines.contains(r#""sha1":""#));
        assert!(!lines.contains("sha256"), "{lines}");
        let unknown = CString::new("crc32").unwrap();
        o.hash = unknown.as_ptr();
        let path = CString::new("samples/seed-pasv.pcap").unwrap();
        let mut h = std::ptr::null_mut();
        // SAFETY: valid pointers.
        let r = unsafe { ftplens_capture_open(&path.as_ptr(), 1, &o, &mut h) };
        assert_eq!(r, FTPLENS_ERR_INVALID_ARGUMENT);
        o.hash = std::ptr::null();
        o.tcp_timeout = -1.0;
        // SAFETY: valid pointers.
        let r = unsafe { ftplens_capture_open(&path.as_ptr(), 1, &o, &mut h) };
        assert_eq!(r, FTPLENS_ERR_INVALID_ARGUMENT);
        assert!(h.is_null());
    }

    #[test]
    fn freeing_early_stops_the_thread() {
        let path = CString::new("samples/seed-pasv.pcap").unwrap();
        let mut h = std::ptr::null_mut();
        // SAFETY: valid pointers; the handle is freed once without reading.
        unsafe {
            assert_eq!(
                ftplens_capture_open(&path.as_ptr(), 1, std::ptr::null(), &mut h),
                FTPLENS_OK
            );
            ftplens_capture_free(h);
        }
    }
}
