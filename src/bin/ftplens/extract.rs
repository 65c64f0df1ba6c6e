//! `ftplens extract -o DIR`: the analyser writes the files (its options carry the directory);
//! standard output gets one JSON line per file written.

use crate::runner::{self, Each, Status};
use crate::settings::Settings;
use ftplens::capture::record::{Record, write_manifest};
use std::io::{self, Write};

pub fn run(settings: &Settings) -> io::Result<Status> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mode = Each(|r: Record, out: &mut runner::Out<'_>| {
        if let Record::Transfer(t) = &r {
            if t.extracted.is_some() {
                write_manifest(&mut out.streams[0], t, out.file);
            }
        }
    });
    let reports = runner::run(settings, &mut [&mut out as &mut dyn Write], &mode)?;
    Ok(runner::judge(settings, &reports))
}
