//! From the command line as typed ([`crate::flags`]) to settings every mode can trust: numbers in
//! range, limits known, inputs resolved. Every usage error is found here, before any input is
//! opened, so a mode never has to report one.

use crate::flags::{Command, Common, LogFormat, When};
use ftplens::Limits;
use ftplens::capture::Options;
use ftplens::capture::hash::Algorithms;
use std::fmt;
use std::io::{self, IsTerminal};
use std::path::PathBuf;

/// A usage error: printed as `ftplens: ...`, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One source of frames.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    File(PathBuf),
    /// A network interface, read live with an optional BPF filter.
    Interface {
        name: String,
        filter: Option<String>,
    },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
            Input::Interface { name, .. } => name.clone(),
        }
    }
}

/// What every mode reads and how.
#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: Vec<Input>,
    /// Glob patterns that matched nothing, or were malformed: reported, and the run's status is
    /// an error, but the other inputs are still read.
    pub input_errors: Vec<String>,
    /// The analyser's options (uid salt set per input by the runner).
    pub options: Options,
    pub jobs: usize,
    pub progress: When,
    /// Reading an interface: every record is written and flushed at once, and SIGINT/SIGTERM
    /// end the capture cleanly.
    pub live: bool,
}

/// The subcommand with its own validated settings.
pub enum Mode {
    Log,
    /// Zeek's ftp.log and files.log in this directory.
    ZeekLogs(PathBuf),
    Summary {
        show_passwords: bool,
        max_rows: usize,
    },
    Extract,
    Report {
        output: PathBuf,
        options: crate::report::ReportOptions,
    },
}

impl Settings {
    /// Validate the command line; the mode and the settings it runs with.
    pub fn from_args(command: Command) -> Result<(Mode, Settings), UsageError> {
        let (mode, common, extract) = match command {
            // main prints it: it reads no capture and has no settings.
            Command::Schema => {
                return Err(UsageError("schema takes no settings".into()));
            }
            Command::Log(a) => {
                let mode = match (a.format, a.output) {
                    (LogFormat::Json, None) => Mode::Log,
                    (LogFormat::Zeek, Some(dir)) => Mode::ZeekLogs(dir),
                    (LogFormat::Json, Some(_)) => {
                        return Err(UsageError(
                            "--output applies to --format zeek (JSON lines go to standard output)"
                                .into(),
                        ));
                    }
                    (LogFormat::Zeek, None) => {
                        return Err(UsageError(
                            "--format zeek writes ftp.log and files.log: give --output DIR".into(),
                        ));
                    }
                };
                (mode, a.common, None)
            }
            Command::Summary(a) => (
                Mode::Summary {
                    show_passwords: a.show_passwords,
                    max_rows: a.max_rows,
                },
                a.common,
                None,
            ),
            Command::Extract(a) => (Mode::Extract, a.common, Some((a.output, a.listings))),
            Command::Report(a) => (
                Mode::Report {
                    output: a.output,
                    options: crate::report::ReportOptions {
                        show_passwords: a.show_passwords,
                        max_rows: a.max_rows,
                    },
                },
                a.common,
                None,
            ),
        };
        let mut options = options(&common)?;
        if let Some((dir, listings)) = extract {
            options.extract_dir = Some(dir);
            options.extract_listings = listings;
        }
        if common.filter.is_some() && common.interface.is_none() {
            return Err(UsageError(
                "--filter applies to a live capture: give --interface too".into(),
            ));
        }
        if let Some(name) = common.interface {
            if !cfg!(feature = "live") {
                return Err(UsageError(
                    "this ftplens was built without live capture (cargo feature live)".into(),
                ));
            }
            let settings = Settings {
                inputs: vec![Input::Interface {
                    name,
                    filter: common.filter,
                }],
                input_errors: Vec::new(),
                options,
                jobs: 1,
                progress: When::Never,
                live: true,
            };
            return Ok((mode, settings));
        }
        if common.inputs.is_empty() && io::stdin().is_terminal() {
            return Err(UsageError(
                "no capture given (name files, globs, or - for standard input); see --help".into(),
            ));
        }
        let (inputs, input_errors) = resolve_inputs(&common.inputs);
        if inputs.iter().filter(|i| matches!(i, Input::Stdin)).count() > 1 {
            return Err(UsageError("standard input (-) named more than once".into()));
        }
        let jobs = common
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, inputs.len().max(1));
        let settings = Settings {
            inputs,
            input_errors,
            options,
            jobs,
            progress: common.progress,
            live: false,
        };
        Ok((mode, settings))
    }
}

/// The analyser's options from the shared flags.
fn options(common: &Common) -> Result<Options, UsageError> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    let late_ok = common.late_window.is_finite() && common.late_window >= 0.0;
    if !positive(common.stream_memcap) || !positive(common.tcp_timeout) || !late_ok {
        return Err(UsageError(
            "--stream-memcap and --tcp-timeout must be positive, --late-window not negative".into(),
        ));
    }
    let mut limits = Limits::default();
    for assignment in &common.limits {
        limits
            .set_by_name(assignment)
            .map_err(|e| UsageError(format!("--limit {assignment}: {e}")))?;
    }
    let mut control_ports = vec![21];
    control_ports.extend(&common.ftp_port);
    Ok(Options {
        hashes: if common.no_hash {
            Algorithms::NONE
        } else {
            common.hash
        },
        tcp_timeout: common.tcp_timeout,
        stream_memcap: (common.stream_memcap * 1048576.0) as usize,
        total_memcap: common.memcap << 20,
        late_window: common.late_window,
        control_ports,
        limits,
        ..Options::default()
    })
}

/// Files, globs and `-`, in order; a glob's matches sorted. Also the patterns that failed.
fn resolve_inputs(args: &[String]) -> (Vec<Input>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
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
                    errors.push(format!("{a}: no file matches"));
                }
                out.extend(found.into_iter().map(Input::File));
            }
            Err(e) => errors.push(format!("{a}: bad pattern: {e}")),
        }
    }
    (out, errors)
}
