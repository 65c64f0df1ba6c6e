//! `ftplens log`: every record as a JSON line on standard output.

use crate::runner::{self, Each, Status};
use crate::settings::Settings;
use ftplens::capture::Record;
use std::io::{self, Write};

pub fn run(settings: &Settings) -> io::Result<Status> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let mode = Each(|r: Record, out: &mut runner::Out<'_>| {
        r.write_json(&mut out.streams[0], out.file);
        out.streams[0].push('\n');
    });
    let reports = runner::run(settings, &mut [&mut out as &mut dyn Write], &mode)?;
    Ok(runner::judge(settings, &reports))
}
