//! `ftplens log`: every record as a JSON line on standard output.

use crate::runner::{self, Status};
use crate::settings::Settings;
use std::io::{self, Write};

pub fn run(settings: &Settings) -> io::Result<Status> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(256 * 1024, stdout.lock());
    let reports = runner::run(settings, &mut [&mut out as &mut dyn Write], |r, emit| {
        r.write_json(&mut emit.out[0], emit.file);
        emit.out[0].push('\n');
    })?;
    Ok(runner::judge(settings, &reports))
}
