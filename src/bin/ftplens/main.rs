//! `ftplens`: FTP analysis of pcap and pcapng captures.
//!
//! The command line is read in three steps, after ripgrep: [`flags`] holds clap's definitions as
//! typed, [`settings`] validates them into settings every mode can trust, and each subcommand is
//! one function ([`log::run`], [`zeek::run`], [`summary::run`], [`extract::run`], [`report::run`]) over the shared [`runner`];
//! `schema` prints the records' JSON Schema and reads nothing.
//! Errors that stop one input are reported and the others go on; a closed output pipe ends the
//! run quietly.

mod extract;
mod flags;
mod live;
mod log;
mod report;
mod runner;
mod settings;
mod summary;
mod zeek;

use clap::Parser;
use settings::{Mode, Settings};
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match flags::LowArgs::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let command = match args.command {
        flags::Command::Schema => return print_schema(),
        command => command,
    };
    let (mode, settings) = match Settings::from_args(command) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ftplens: {e}");
            return ExitCode::from(runner::Status::Error.code());
        }
    };
    let result = match mode {
        Mode::Log => log::run(&settings),
        Mode::ZeekLogs(dir) => zeek::run(&settings, &dir),
        Mode::Summary {
            show_passwords,
            max_rows,
        } => summary::run(&settings, show_passwords, max_rows),
        Mode::Extract => extract::run(&settings),
        Mode::Report { output, options } => report::run(&settings, &output, &options),
    };
    match result {
        Ok(status) => ExitCode::from(status.code()),
        // The reader of our output went away (`ftplens log | head`): not an error of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftplens: {e}");
            ExitCode::from(runner::Status::Error.code())
        }
    }
}

/// `ftplens schema`: the records' JSON Schema, as the core derives it.
fn print_schema() -> ExitCode {
    let schema = ftplens::conversation::records::schema();
    // Pretty, with a final line end: a file a person may read and commit.
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
    match io::Write::write_all(&mut io::stdout().lock(), text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftplens: {e}");
            ExitCode::from(runner::Status::Error.code())
        }
    }
}
