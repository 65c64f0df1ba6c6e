//! `ftplens summary`: tables of sessions, logins (passwords masked), transfers and anomalies,
//! printed once every input is read.

use crate::runner::{self, Report, Status};
use crate::settings::Settings;
use ftplens::capture::record::{Record, SessionRecord, TransferRecord, write_str};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Keeps what the tables show: sessions, transfers, anomalies (also those on commands).
struct Keep;

impl runner::Render for Keep {
    type State = Vec<Record>;
    fn record(&self, r: Record, kept: &mut Vec<Record>, _: &mut runner::Out<'_>) {
        match r {
            Record::Session(_) | Record::Transfer(_) | Record::Anomaly(_) => kept.push(r),
            Record::Command(ref c) if !c.anomalies.is_empty() => kept.push(r),
            Record::Command(_) => {}
        }
    }
}

pub fn run(settings: &Settings, show_passwords: bool, max_rows: usize) -> io::Result<Status> {
    let reports = runner::run(settings, &mut [], &Keep)?;
    let status = runner::judge(settings, &reports);
    let tables: Vec<(&Report<Vec<Record>>, Summary)> = reports
        .iter()
        .map(|r| {
            let mut s = Summary::default();
            for rec in &r.state {
                s.add(rec.clone());
            }
            (r, s)
        })
        .collect();
    let mut out = io::stdout().lock();
    print_summary(&mut out, &tables, show_passwords, max_rows)?;
    out.flush()?;
    Ok(status)
}

/// One input's tables.
#[derive(Default)]
struct Summary {
    sessions: Vec<SessionRecord>,
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
    reports: &[(&Report<Vec<Record>>, Summary)],
    show_passwords: bool,
    max_rows: usize,
) -> io::Result<()> {
    let mut sessions = Vec::new();
    let mut logins = Vec::new();
    let mut transfers = Vec::new();
    let mut anomalies: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for (r, s) in reports {
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
            let id = x.conn.id.as_ref();
            let client = id.map_or("-".into(), |i| i.orig().to_string());
            let server = id.map_or("-".into(), |i| i.resp().to_string());
            sessions.push(vec![
                x.conn.uid.clone(),
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
