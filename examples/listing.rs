//! Print the entries of a directory listing, one JSON object per line.
//!
//!     cargo run --example listing -- LIST|NLST|MLSD FILE
//!
//! FILE holds the bytes of a data connection (`-` reads stdin). Each entry becomes
//! `{"form":..,"name":..,"type":..,"size":..,"modify":..,"perm":..,"mode":..,"target":..}`; a line
//! that gave no entry becomes `{"unparsed":..,"error":..}`, a cap `{"cap":..}`.
use ftplens::parse::listing::{Expect, Item, ListingLimits, ListingParser};
use std::fmt::Write as _;
use std::io::{Read, Write as _};

/// A JSON string (names may hold any byte: invalid UTF-8 is replaced).
fn json(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for c in String::from_utf8_lossy(b).chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "null".to_string(), f)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(path)) = (args.first(), args.get(1)) else {
        eprintln!("usage: listing LIST|NLST|MLSD FILE");
        return std::process::ExitCode::from(2);
    };
    let Some(expect) = Expect::for_command(cmd.as_bytes()) else {
        eprintln!("listing: {cmd} is not LIST, NLST or MLSD");
        return std::process::ExitCode::from(2);
    };
    let mut bytes = Vec::new();
    let read = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    if let Err(e) = read {
        eprintln!("listing: {path}: {e}");
        return std::process::ExitCode::from(2);
    }
    let mut parser = ListingParser::new(expect, ListingLimits::default());
    let mut out = String::new();
    let mut print = |item: Item<'_>| {
        match item {
        Item::Entry(e) => writeln!(
            out,
            "{{\"form\":\"{}\",\"name\":{},\"type\":\"{}\",\"size\":{},\"modify\":{},\"perm\":{},\"mode\":{},\"target\":{}}}",
            e.form.name(),
            json(e.name),
            e.kind.name(),
            opt(e.size, |v| v.to_string()),
            opt(e.modify, |t| json(t.iso().as_bytes())),
            opt(e.perm, json),
            opt(e.mode, |m| m.to_string()),
            opt(e.target, json),
        ),
        Item::Unparsed { line, error } => {
            writeln!(
                out,
                "{{\"unparsed\":{},\"error\":{}}}",
                json(line),
                json(error.to_string().as_bytes())
            )
        }
        Item::Cap(c) => writeln!(out, "{{\"cap\":\"{}\"}}", c.name()),
    }
    .expect("writing to a String cannot fail")
    };
    parser.feed(&bytes, &mut print);
    parser.finish(&mut print);
    // A closed pipe (`| head`) is not an error.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("listing: {e}");
            std::process::ExitCode::from(2)
        }
        _ => std::process::ExitCode::SUCCESS,
    }
}
