//! `ftplens extract -o DIR`: the analyser writes the files (its options carry the directory);
//! standard output gets one JSON line per file written.

use crate::runner::{self, Each, Status};
use crate::settings::Settings;
use ftplens::capture::record::{JsonObject, Record, TransferRecord};
use std::io::{self, Write};

pub fn run(settings: &Settings) -> io::Result<Status> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mode = Each(|r: Record, out: &mut runner::Out<'_>| {
        if let Record::Transfer(t) = &r {
            if t.extracted.is_some() {
                manifest_line(&mut out.streams[0], t, out.file);
            }
        }
    });
    let reports = runner::run(settings, &mut [&mut out as &mut dyn Write], &mode)?;
    Ok(runner::judge(settings, &reports))
}

fn manifest_line(out: &mut String, t: &TransferRecord, file: Option<&str>) {
    let mut o = JsonObject::new(out);
    o.opt_str("file", file)
        .opt_str("extracted", t.extracted.as_deref())
        .opt_str("ftp_path", t.path.as_deref())
        .opt_str("command", t.command.as_deref())
        .str("uid", &t.uid)
        .u64("bytes", t.bytes)
        .u64("offset", t.offset)
        .opt_str("sha256", t.sha256.as_deref())
        .opt_str("md5", t.md5.as_deref())
        .opt_str("sha1", t.sha1.as_deref())
        .str("state", if t.complete { "complete" } else { "partial" })
        .strs("partial_reasons", &t.partial_reasons);
    o.end();
    out.push('\n');
}
