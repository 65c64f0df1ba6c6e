//! `ftplens report CAPTURE... -o report.html`: one self-contained HTML page (inline CSS and SVG,
//! no script, nothing fetched) with the sessions, logins, transfers, anomalies and a ladder
//! picture per session: the client, the server and the data connections as lanes, commands and
//! replies as arrows in time order, each data connection as a bar from its first packet to its
//! last, tied to the command that opened it.
//!
//! Everything from the capture is HTML-escaped; passwords (the session's and PASS's argument)
//! are masked unless `--show-passwords`. The tables and the ladders are capped; a cap that cut
//! something says so on the page.

use crate::runner::{self, Out, Render, Report, Status};
use crate::settings::Settings;
use ftplens::capture::record::{
    AnomalyRecord, CommandRecord, IdFields, Record, SessionRecord, TransferRecord,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// Exchanges drawn per session ladder.
const MAX_LADDER_EXCHANGES: usize = 200;
/// Sessions given a ladder.
const MAX_LADDERS: usize = 50;

/// What the page shows, and how much.
pub struct ReportOptions {
    pub show_passwords: bool,
    /// Rows per table (0: all).
    pub max_rows: usize,
}

/// Keeps every record of an input: the page is made once all are read.
struct Keep;

impl Render for Keep {
    type State = Vec<Record>;
    fn record(&self, r: Record, kept: &mut Vec<Record>, _: &mut Out<'_>) {
        kept.push(r);
    }
}

pub fn run(settings: &Settings, path: &Path, opts: &ReportOptions) -> io::Result<Status> {
    let reports = runner::run(settings, &mut [], &Keep)?;
    let status = runner::judge(settings, &reports);
    let page = render(&reports, opts);
    std::fs::write(path, page)?;
    Ok(status)
}

/// The records of all inputs, grouped.
#[derive(Default)]
struct Gathered<'a> {
    sessions: Vec<&'a SessionRecord>,
    commands: HashMap<&'a str, Vec<&'a CommandRecord>>,
    transfers: Vec<&'a TransferRecord>,
    anomalies: Vec<(&'a str, String, Option<&'a str>, f64)>,
}

fn gather(reports: &[Report<Vec<Record>>]) -> Gathered<'_> {
    let mut g = Gathered::default();
    for r in reports {
        for rec in &r.state {
            match rec {
                Record::Session(s) => g.sessions.push(s),
                Record::Command(c) => {
                    for a in &c.anomalies {
                        let detail = format!(
                            "{} {}",
                            c.command.as_deref().unwrap_or(""),
                            c.arg.as_deref().unwrap_or("")
                        );
                        g.anomalies.push((a, detail, Some(&c.conn.uid), c.ts));
                    }
                    g.commands.entry(&c.conn.uid).or_default().push(c);
                }
                Record::Transfer(t) => g.transfers.push(t),
                Record::Anomaly(AnomalyRecord {
                    name,
                    detail,
                    conn,
                    ts,
                    ..
                }) => g.anomalies.push((
                    name,
                    detail.clone(),
                    conn.as_ref().map(|c| c.uid.as_str()),
                    *ts,
                )),
            }
        }
    }
    g.sessions.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    g
}

fn render(reports: &[Report<Vec<Record>>], opts: &ReportOptions) -> String {
    let g = gather(reports);
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width\">",
        "<title>ftplens report</title><style>",
        include_str!("report.css"),
        "</style></head><body>\n"
    ));
    h.push_str("<h1>ftplens report</h1>\n<ul class=\"inputs\">");
    for r in reports {
        let what = match (&r.read, &r.live) {
            (Some(read), _) => format!(
                "{}, {} frames{}",
                read.format,
                read.frames,
                if read.stopped.is_some() {
                    " (cut short)"
                } else {
                    ""
                }
            ),
            (None, Some(live)) => format!("live, {} packets", live.frames),
            _ => r.open_error.clone().unwrap_or_else(|| "not read".into()),
        };
        let _ = write!(h, "<li><b>{}</b>: {}</li>", esc(&r.name), esc(&what));
    }
    let _ = writeln!(
        h,
        "</ul>\n<p class=\"totals\"><span>{} sessions</span><span>{} transfers</span>\
         <span>{} anomalies</span></p>",
        g.sessions.len(),
        g.transfers.len(),
        g.anomalies.len()
    );
    sessions_table(&mut h, &g, opts);
    logins_table(&mut h, &g, opts);
    transfers_table(&mut h, &g, opts);
    anomalies_table(&mut h, &g, opts);
    h.push_str("<h2 id=\"ladders\">Ladders</h2>\n");
    for s in g.sessions.iter().take(MAX_LADDERS) {
        ladder(&mut h, s, &g, opts);
    }
    if g.sessions.len() > MAX_LADDERS {
        let _ = writeln!(
            h,
            "<p class=\"cut\">Ladders of the first {MAX_LADDERS} sessions of {} drawn.</p>",
            g.sessions.len()
        );
    }
    h.push_str("</body></html>\n");
    h
}

fn table(h: &mut String, id: &str, title: &str, head: &[&str], rows: Vec<Vec<String>>, max: usize) {
    let _ = writeln!(h, "<h2 id=\"{id}\">{title} ({})</h2>", rows.len());
    if rows.is_empty() {
        h.push_str("<p class=\"none\">None.</p>\n");
        return;
    }
    let _ = write!(h, "<table id=\"{id}-table\"><tr>");
    for c in head {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    let shown = if max == 0 {
        rows.len()
    } else {
        rows.len().min(max)
    };
    for r in &rows[..shown] {
        h.push_str("<tr>");
        for c in r {
            // Cells are escaped by their makers (some carry markup: links, masks).
            let _ = write!(h, "<td>{c}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    if shown < rows.len() {
        let _ = writeln!(
            h,
            "<p class=\"cut\">{} more rows not shown (--max-rows 0 shows all).</p>",
            rows.len() - shown
        );
    }
}

fn endpoint(id: Option<&IdFields>, server: bool) -> String {
    id.map_or("-".into(), |i| {
        esc(&if server { i.resp() } else { i.orig() }.to_string())
    })
}

fn masked(p: Option<&str>, show: bool) -> String {
    match p {
        None => "-".into(),
        Some(p) if show => esc(p),
        Some(_) => "<span class=\"mask\">********</span>".into(),
    }
}

fn sessions_table(h: &mut String, g: &Gathered<'_>, opts: &ReportOptions) {
    let rows = g
        .sessions
        .iter()
        .map(|s| {
            vec![
                format!("<a href=\"#ladder-{0}\">{0}</a>", esc(&s.conn.uid)),
                endpoint(s.conn.id.as_ref(), false),
                endpoint(s.conn.id.as_ref(), true),
                esc(s.user.as_deref().unwrap_or("-")),
                esc(s.login),
                s.commands.to_string(),
                s.transfers.to_string(),
                s.anomalies.to_string(),
                esc(
                    &match (&s.tls, s.tls_info.as_ref().and_then(|i| i.version.as_ref())) {
                        (Some(m), Some(v)) => format!("{m} ({v})"),
                        (Some(m), None) => m.clone(),
                        _ => "-".into(),
                    },
                ),
                format!("{:.3} s", (s.end_ts - s.ts).max(0.0)),
            ]
        })
        .collect();
    table(
        h,
        "sessions",
        "Sessions",
        &[
            "uid",
            "client",
            "server",
            "user",
            "login",
            "commands",
            "transfers",
            "anomalies",
            "TLS",
            "duration",
        ],
        rows,
        opts.max_rows,
    );
}

fn logins_table(h: &mut String, g: &Gathered<'_>, opts: &ReportOptions) {
    let rows = g
        .sessions
        .iter()
        .filter(|s| s.user.is_some() || s.password.is_some())
        .map(|s| {
            vec![
                esc(s.user.as_deref().unwrap_or("-")),
                masked(s.password.as_deref(), opts.show_passwords),
                esc(s.login),
                s.failed_logins.to_string(),
                endpoint(s.conn.id.as_ref(), false),
                endpoint(s.conn.id.as_ref(), true),
            ]
        })
        .collect();
    let title = if opts.show_passwords {
        "Logins"
    } else {
        "Logins, passwords masked (--show-passwords shows them),"
    };
    table(
        h,
        "logins",
        title,
        &["user", "password", "result", "failed", "client", "server"],
        rows,
        opts.max_rows,
    );
}

fn digests(t: &TransferRecord) -> String {
    let mut out = String::new();
    for (name, d) in [("sha256", &t.sha256), ("md5", &t.md5), ("sha1", &t.sha1)] {
        if let Some(d) = d {
            let _ = write!(out, "<code title=\"{name}\">{name} {}</code> ", esc(d));
        }
    }
    if out.is_empty() { "-".into() } else { out }
}

fn transfers_table(h: &mut String, g: &Gathered<'_>, opts: &ReportOptions) {
    let rows = g
        .transfers
        .iter()
        .map(|t| {
            let state = if t.complete {
                "complete".to_string()
            } else {
                format!("partial ({})", t.partial_reasons.join(", "))
            };
            vec![
                esc(&t.conn.uid),
                esc(t.command.as_deref().unwrap_or("-")),
                esc(t.path.as_deref().or(t.arg.as_deref()).unwrap_or("-")),
                esc(t.mode.unwrap_or("-")),
                esc(t.direction.unwrap_or("-")),
                t.bytes.to_string(),
                esc(t.mime_type.unwrap_or("-")),
                esc(&state),
                digests(t),
            ]
        })
        .collect();
    table(
        h,
        "transfers",
        "Transfers",
        &[
            "session",
            "command",
            "path",
            "mode",
            "direction",
            "bytes",
            "type",
            "state",
            "digests",
        ],
        rows,
        opts.max_rows,
    );
}

fn anomalies_table(h: &mut String, g: &Gathered<'_>, opts: &ReportOptions) {
    let mut by_name: BTreeMap<&str, (u64, &str, Option<&str>)> = BTreeMap::new();
    for (name, detail, uid, _) in &g.anomalies {
        by_name.entry(name).or_insert((0, detail, *uid)).0 += 1;
    }
    let rows = by_name
        .iter()
        .map(|(name, (n, detail, uid))| {
            vec![
                format!("<span class=\"anomaly\">{}</span>", esc(name)),
                n.to_string(),
                esc(&cut(detail, 100)),
                esc(uid.unwrap_or("-")),
            ]
        })
        .collect();
    table(
        h,
        "anomalies",
        "Anomalies",
        &["name", "count", "first", "session"],
        rows,
        opts.max_rows,
    );
}

/// One step of a ladder.
enum Step<'a> {
    Request(&'a CommandRecord),
    Reply(&'a CommandRecord),
}

/// Lane positions of the ladder picture.
const X_TIME: f64 = 8.0;
const X_CLIENT: f64 = 130.0;
const X_SERVER: f64 = 520.0;
const X_DATA: f64 = 640.0;
const DATA_LANE: f64 = 26.0;
const ROW: f64 = 22.0;
const TOP: f64 = 40.0;

fn ladder(h: &mut String, s: &SessionRecord, g: &Gathered<'_>, opts: &ReportOptions) {
    let empty = Vec::new();
    let commands = g.commands.get(s.conn.uid.as_str()).unwrap_or(&empty);
    let drawn = &commands[..commands.len().min(MAX_LADDER_EXCHANGES)];
    // Steps in time order: each request, and its final reply when there was one.
    let mut steps: Vec<(f64, Step<'_>)> = Vec::new();
    for c in drawn {
        if c.command.is_none() {
            // A reply no command was waiting for.
            steps.push((c.ts, Step::Reply(c)));
            continue;
        }
        steps.push((c.ts, Step::Request(c)));
        if let Some(rt) = c.response_time {
            steps.push((c.ts + rt, Step::Reply(c)));
        }
    }
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let transfers: Vec<&TransferRecord> = g
        .transfers
        .iter()
        .copied()
        .filter(|t| t.conn.uid == s.conn.uid && t.data.is_some())
        // Those of the commands drawn, and those no command is known for (an encrypted
        // control connection's data connections).
        .filter(|t| {
            t.command_frame
                .is_none_or(|f| drawn.iter().any(|c| c.frame == f))
        })
        .collect();
    // A row per step; a data connection's bar spans the rows of its first and last packet.
    let row_of = |ts: f64| steps.partition_point(|(t, _)| *t <= ts);
    let y = |row: usize| TOP + row as f64 * ROW;
    let lanes = transfers.len().max(1) as f64;
    let width = X_DATA + lanes * DATA_LANE + 240.0;
    let height = y(steps.len()) + ROW;
    let _ = write!(
        h,
        "<section class=\"ladder\" id=\"ladder-{uid}\"><h3>Session {uid}: {client} &#8594; \
         {server}{user}</h3>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>",
        uid = esc(&s.conn.uid),
        client = endpoint(s.conn.id.as_ref(), false),
        server = endpoint(s.conn.id.as_ref(), true),
        user = s
            .user
            .as_deref()
            .map_or(String::new(), |u| format!(", user {}", esc(u))),
    );
    let bottom = height - ROW / 2.0;
    let _ = write!(
        h,
        "<text class=\"lane\" x=\"{X_CLIENT}\" y=\"20\">client</text>\
         <text class=\"lane\" x=\"{X_SERVER}\" y=\"20\">server</text>\
         <text class=\"lane\" x=\"{X_DATA}\" y=\"20\">data connections</text>\
         <line class=\"lifeline\" x1=\"{X_CLIENT}\" y1=\"28\" x2=\"{X_CLIENT}\" y2=\"{bottom}\"/>\
         <line class=\"lifeline\" x1=\"{X_SERVER}\" y1=\"28\" x2=\"{X_SERVER}\" y2=\"{bottom}\"/>"
    );
    for (row, (ts, step)) in steps.iter().enumerate() {
        let yy = y(row) + ROW / 2.0;
        let _ = write!(
            h,
            "<text class=\"time\" x=\"{X_TIME}\" y=\"{:.1}\">+{:.6} s</text>",
            yy + 4.0,
            ts - s.ts
        );
        let (x1, x2, class, label) = match step {
            Step::Request(c) => (X_CLIENT, X_SERVER, "request", request_label(c, opts)),
            Step::Reply(c) => (X_SERVER, X_CLIENT, "reply", reply_label(c)),
        };
        let _ = write!(
            h,
            "<g class=\"{class}\"><line x1=\"{x1}\" y1=\"{yy:.1}\" x2=\"{x2}\" y2=\"{yy:.1}\" \
             marker-end=\"url(#arrow)\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            X_CLIENT + 10.0,
            yy - 4.0,
            esc(&cut(&label, 60))
        );
    }
    for (lane, t) in transfers.iter().enumerate() {
        let x = X_DATA + lane as f64 * DATA_LANE;
        let ts = t.ts.unwrap_or(s.ts);
        let start = row_of(ts - 1e-9);
        let end = row_of(ts + t.duration.unwrap_or(0.0)).max(start + 1);
        let (y1, y2) = (y(start) + 4.0, y(end) - 4.0);
        let origin = steps
            .iter()
            .position(|(_, st)| matches!(st, Step::Request(c) if Some(c.frame) == t.command_frame))
            .map_or(y1, |r| y(r) + ROW / 2.0);
        let tip = format!(
            "{} {} bytes, {}{}",
            t.command.as_deref().unwrap_or("data"),
            t.bytes,
            t.data.map_or(String::new(), |d| format!(
                "{}:{} \u{2192} {}:{}",
                d.orig_h, d.orig_p, d.resp_h, d.resp_p
            )),
            if t.complete { "" } else { ", partial" },
        );
        let _ = write!(
            h,
            "<g class=\"data{}\"><title>{}</title><line class=\"opened\" x1=\"{X_SERVER}\" \
             y1=\"{origin:.1}\" x2=\"{x:.1}\" y2=\"{y1:.1}\"/><rect x=\"{:.1}\" y=\"{y1:.1}\" \
             width=\"12\" height=\"{:.1}\" rx=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            if t.complete { "" } else { " partial" },
            esc(&tip),
            x - 6.0,
            (y2 - y1).max(6.0),
            X_DATA + lanes * DATA_LANE + 4.0,
            y1 + 10.0,
            esc(&cut(
                &format!(
                    "{} {} ({} B)",
                    t.command.as_deref().unwrap_or("data"),
                    t.path.as_deref().or(t.arg.as_deref()).unwrap_or(""),
                    t.bytes
                ),
                40
            ))
        );
    }
    h.push_str("</svg>");
    if commands.len() > drawn.len() {
        let _ = write!(
            h,
            "<p class=\"cut\">The first {} of {} exchanges drawn.</p>",
            drawn.len(),
            commands.len()
        );
    }
    h.push_str("</section>\n");
}

fn request_label(c: &CommandRecord, opts: &ReportOptions) -> String {
    let arg = match c.arg.as_deref() {
        None => String::new(),
        // PASS carries the password itself.
        Some(_)
            if c.command
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("PASS"))
                && !opts.show_passwords =>
        {
            " ********".into()
        }
        Some(a) => format!(" {a}"),
    };
    format!("{}{arg}", c.command.as_deref().unwrap_or("(no command)"))
}

fn reply_label(c: &CommandRecord) -> String {
    match (c.reply_code, c.reply_msg.as_deref()) {
        // A multi-line reply: its first line with text, and how many lines it has.
        (Some(code), Some(msg)) if msg.contains('\n') => {
            let first = msg.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            format!("{code} {} ({} lines)", first.trim(), msg.lines().count())
        }
        (Some(code), Some(msg)) => format!("{code} {msg}"),
        (Some(code), None) => code.to_string(),
        _ => "(no reply)".into(),
    }
}

/// At most `max` characters, an ellipsis when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('\u{2026}');
    out
}

/// Text for HTML and SVG: markup characters as entities, control characters as U+2400
/// pictures (a NUL in a file name stays visible and cannot end anything).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7f}' => out.push('\u{2421}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markup_out() {
        assert_eq!(
            esc("<script>\"a\"&'b'\0"),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;\u{2400}"
        );
        assert_eq!(cut("abcdef", 4), "abc\u{2026}");
    }
}
