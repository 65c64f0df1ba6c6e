//! Each form against real server output (`testdata/`, made by `tests/captures/listings.py`; see
//! `testdata/SOURCES.md`). The expected entries come from the tree that script builds (names,
//! sizes, modes, owners, times), not from the parser.

use super::*;

/// Every entry of a listing, fed in chunks of `chunk` bytes to exercise split lines.
fn entries(expect: Expect, bytes: &'static [u8], chunk: usize) -> Vec<Entry<'static>> {
    let mut p = ListingParser::new(expect, ListingLimits::default());
    let mut out = Vec::new();
    let mut on = |item: Item<'_>| match item {
        Item::Entry(e) => out.push(owned(e)),
        other => panic!("unexpected {other:?}"),
    };
    for c in bytes.chunks(chunk) {
        p.feed(c, &mut on);
    }
    p.finish(&mut on);
    out
}

/// Leak a copy so that entries from a reassembled line outlive the parser (tests only).
fn owned(e: Entry<'_>) -> Entry<'static> {
    let s = |x: &[u8]| -> &'static [u8] { Box::leak(x.to_vec().into_boxed_slice()) };
    Entry {
        form: e.form,
        name: s(e.name),
        kind: e.kind,
        size: e.size,
        modify: e.modify,
        modify_raw: e.modify_raw.map(s),
        perm: e.perm.map(s),
        mode: e.mode,
        owner: e.owner.map(s),
        group: e.group.map(s),
        target: e.target.map(s),
        device: e.device,
        unique: e.unique.map(s),
        facts: e.facts.map(s),
    }
}

fn time(y: Option<u16>, mo: u8, d: u8, hms: Option<(u8, u8, Option<u8>)>, utc: bool) -> Time {
    let mut t = Time::new(y, mo, d, hms).unwrap();
    t.utc = utc;
    t
}

// ------------------------------------------------------------------ ls -l (POSIX ls), four servers

/// One `ls -l` row of the tree: (name, kind, size, perm, mode, owner is uid 4242, date written,
/// time, link target, device).
#[allow(clippy::type_complexity)]
fn unix_tree(
    root: &'static str,
    recent: &'static str,
    old_day: fn(&'static str) -> &'static str,
) -> Vec<Entry<'static>> {
    let rows: [(
        &str,
        EntryType,
        Option<u64>,
        &str,
        u32,
        bool,
        &str,
        Time,
        Option<&str>,
    ); 7] = [
        (
            "hello.txt",
            EntryType::File,
            Some(512),
            "rw-r--r--",
            0o644,
            false,
            recent,
            time(None, 12, 7, Some((0, 38, None)), false),
            None,
        ),
        (
            "link",
            EntryType::Link,
            Some(9),
            "rwxrwxrwx",
            0o777,
            false,
            "Dec 07 01:38",
            time(None, 12, 7, Some((1, 38, None)), false),
            Some("hello.txt"),
        ),
        (
            "name with spaces.txt",
            EntryType::File,
            Some(42),
            "rw-r--r--",
            0o644,
            false,
            "Nov 30  2021",
            time(Some(2021), 11, 30, None, false),
            None,
        ),
        (
            "null",
            EntryType::Other,
            Some(0),
            "rw-rw-rw-",
            0o666,
            false,
            "Dec 07 01:38",
            time(None, 12, 7, Some((1, 38, None)), false),
            None,
        ),
        (
            "numeric.dat",
            EntryType::File,
            Some(7),
            "rw-r-----",
            0o640,
            true,
            "Feb 29  2020",
            time(Some(2020), 2, 29, None, false),
            None,
        ),
        (
            "old.bin",
            EntryType::File,
            Some(123456),
            "rw-------",
            0o600,
            false,
            "Mar 14  2019",
            time(Some(2019), 3, 14, None, false),
            None,
        ),
        (
            "sub",
            EntryType::Dir,
            Some(4096),
            "rwxr-xr-x",
            0o755,
            false,
            "Jun 01  2022",
            time(Some(2022), 6, 1, None, false),
            None,
        ),
    ];
    rows.into_iter()
        .map(|(name, kind, size, perm, mode, numeric, raw, t, target)| {
            let mut e = Entry::named(Form::Unix, name.as_bytes(), kind);
            let who = if numeric { "4242" } else { root };
            e.size = size;
            e.perm = Some(perm.as_bytes());
            e.mode = Some(mode);
            e.owner = Some(who.as_bytes());
            e.group = Some(who.as_bytes());
            e.modify = Some(t);
            e.modify_raw = Some(old_day(if name == "hello.txt" { recent } else { raw }).as_bytes());
            e.target = target.map(str::as_bytes);
            e
        })
        .collect()
}

/// vsftpd and pyftpdlib write the day as `%02d` (`Dec 07`), proftpd and pure-ftpd as `%2d`.
fn space_padded(raw: &'static str) -> &'static str {
    match raw {
        "Dec 07 00:38" => "Dec  7 00:38",
        "Dec 07 01:38" => "Dec  7 01:38",
        "Jun 01  2022" => "Jun  1  2022",
        other => other,
    }
}

fn zero_padded(raw: &'static str) -> &'static str {
    raw
}

#[test]
fn unix_vsftpd() {
    let got = entries(Expect::List, include_bytes!("testdata/vsftpd/list.txt"), 7);
    assert_eq!(got, unix_tree("0", "Dec 07 00:38", zero_padded));
}

#[test]
fn unix_pyftpdlib() {
    let got = entries(
        Expect::List,
        include_bytes!("testdata/pyftpdlib/list.txt"),
        64,
    );
    assert_eq!(got, unix_tree("root", "Dec 07 00:38", zero_padded));
}

#[test]
fn unix_proftpd() {
    let got = entries(Expect::List, include_bytes!("testdata/proftpd/list.txt"), 1);
    assert_eq!(got, unix_tree("root", "Dec 07 00:38", space_padded));
}

#[test]
fn unix_pure_ftpd_hides_the_device() {
    let got = entries(
        Expect::List,
        include_bytes!("testdata/pure-ftpd/list.txt"),
        4096,
    );
    let mut want = unix_tree("0", "Dec 07 00:38", space_padded);
    want.retain(|e| e.name != b"null");
    assert_eq!(got, want);
}

#[test]
fn unix_forms_from_gnu_ls() {
    // GNU coreutils `ls -l` output: the total line, a device's "major, minor", an ACL flag,
    // set-ID and sticky bits, and a server that leaves out the group.
    assert_eq!(parse_line(Form::Unix, b"total 24"), Ok(None));
    let (_, e) = unix::parse_entry(b"crw-rw-rw-  1 root root 1, 3 Dec  7 00:00 null").unwrap();
    assert_eq!(
        (e.kind, e.size, e.device),
        (EntryType::Other, None, Some((1, 3)))
    );
    let (_, e) = unix::parse_entry(b"-rwsr-xr-t+ 1 root 42 Jan  5  2001 a b").unwrap();
    assert_eq!(e.perm, Some(&b"rwsr-xr-t+"[..]));
    assert_eq!(e.mode, Some(0o4000 | 0o1000 | 0o755));
    assert_eq!(
        (e.owner, e.group, e.size),
        (Some(&b"root"[..]), None, Some(42))
    );
    assert_eq!(e.name, b"a b");
    let (_, e) = unix::parse_entry(b"lrwxrwxrwx 1 u g 7 Jan 25 00:17 my link -> usr/bin").unwrap();
    assert_eq!((e.name, e.target), (&b"my link"[..], Some(&b"usr/bin"[..])));
    // Out-of-range dates and sizes are errors, not wrapped values.
    assert!(unix::parse_entry(b"-rw-r--r-- 1 u g 5 Dec 32 00:00 x").is_err());
    assert!(unix::parse_entry(b"-rw-r--r-- 1 u g 5 Dec  1 24:00 x").is_err());
    assert!(unix::parse_entry(b"-rw-r--r-- 1 u g 99999999999999999999 Dec  1 00:00 x").is_err());
    assert!(unix::parse_entry(b"-rw-r--r-- 1 u g 5 Dec  1 00:00 ").is_err());
}

// ------------------------------------------------------------------ MLSD (RFC 3659 section 7)

/// The tree as MLSD facts give it: (name, kind, size, modify).
fn mlsd_tree(with_dirs: bool) -> Vec<(&'static str, EntryType, Option<u64>, Time)> {
    let utc = |y, mo, d, h, mi, s| time(Some(y), mo, d, Some((h, mi, Some(s))), true);
    let now = utc(2026, 12, 7, 1, 38, 58);
    let mut v = vec![
        (
            "name with spaces.txt",
            EntryType::File,
            Some(42),
            utc(2021, 11, 30, 8, 0, 0),
        ),
        ("link", EntryType::Link, Some(9), now),
        (
            "numeric.dat",
            EntryType::File,
            Some(7),
            utc(2020, 2, 29, 23, 59, 0),
        ),
        (
            "hello.txt",
            EntryType::File,
            Some(512),
            utc(2026, 12, 7, 0, 38, 58),
        ),
        ("sub", EntryType::Dir, Some(4096), utc(2022, 6, 1, 12, 0, 0)),
        ("null", EntryType::File, Some(0), now),
        (
            "old.bin",
            EntryType::File,
            Some(123456),
            utc(2019, 3, 14, 15, 9, 26),
        ),
    ];
    if with_dirs {
        v.insert(1, (".", EntryType::Dir, Some(4096), now));
        v.insert(6, ("..", EntryType::Dir, Some(4096), now));
    }
    v
}

fn mode_of(name: &[u8]) -> u32 {
    match name {
        b"hello.txt" | b"name with spaces.txt" => 0o644,
        b"link" => 0o777,
        b"numeric.dat" => 0o640,
        b"null" => 0o666,
        b"old.bin" => 0o600,
        _ => 0o755,
    }
}

#[test]
fn mlsd_pure_ftpd() {
    let got = entries(
        Expect::Facts,
        include_bytes!("testdata/pure-ftpd/mlsd.txt"),
        13,
    );
    let want = mlsd_tree(true);
    assert_eq!(got.len(), want.len());
    for (e, (name, kind, size, modify)) in got.iter().zip(want) {
        // pure-ftpd calls the device "unknown" (an RFC 3659 type it does not define: Other),
        // sends "sizd" for directories, and the uid/gid as UNIX.uid/UNIX.gid.
        let kind = if name == "null" {
            EntryType::Other
        } else {
            kind
        };
        let who: &[u8] = if name == "numeric.dat" { b"4242" } else { b"0" };
        assert_eq!(
            (
                e.form, e.name, e.kind, e.size, e.modify, e.mode, e.owner, e.group, e.perm
            ),
            (
                Form::Mlsd,
                name.as_bytes(),
                kind,
                size,
                Some(modify),
                Some(mode_of(e.name)),
                Some(who),
                Some(who),
                None
            ),
            "{name}"
        );
        assert!(e.unique.unwrap().starts_with(b"fe00g98e"));
    }
}

#[test]
fn mlsd_proftpd() {
    let got = entries(
        Expect::Facts,
        include_bytes!("testdata/proftpd/mlsd.txt"),
        100,
    );
    let want = mlsd_tree(true);
    assert_eq!(got.len(), want.len());
    for (e, (name, kind, size, modify)) in got.iter().zip(want) {
        // proftpd sends no size for directories, and owner names as the session sees them.
        let size = if kind == EntryType::Dir { None } else { size };
        assert_eq!(
            (e.name, e.kind, e.size, e.modify, e.mode, e.owner, e.group),
            (
                name.as_bytes(),
                kind,
                size,
                Some(modify),
                Some(mode_of(e.name)),
                Some(&b"nobody"[..]),
                Some(&b"nogroup"[..])
            ),
            "{name}"
        );
    }
    assert_eq!(got[0].perm, Some(&b"adfr"[..]));
    assert_eq!(
        mlsd::fact_value(got[0].facts.unwrap(), "unix.GROUPNAME"),
        Some(&b"nogroup"[..])
    );
}

#[test]
fn mlsd_pyftpdlib() {
    let got = entries(
        Expect::Facts,
        include_bytes!("testdata/pyftpdlib/mlsd.txt"),
        5,
    );
    let want = mlsd_tree(false);
    assert_eq!(got.len(), want.len());
    for (e, (name, kind, size, modify)) in got.iter().zip(want) {
        // pyftpdlib follows the link: it lists hello.txt's facts under the name "link".
        let (kind, size, modify) = if name == "link" {
            (
                EntryType::File,
                Some(512),
                time(Some(2026), 12, 7, Some((0, 38, Some(58))), true),
            )
        } else {
            (kind, size, modify)
        };
        let perm: &[u8] = if kind == EntryType::Dir { b"el" } else { b"r" };
        assert_eq!(
            (e.name, e.kind, e.size, e.modify, e.perm, e.mode),
            (name.as_bytes(), kind, size, Some(modify), Some(perm), None),
            "{name}"
        );
    }
}

#[test]
fn mlst_replies() {
    for (reply, name) in [
        (
            &include_bytes!("testdata/pyftpdlib/mlst.txt")[..],
            &b"/hello.txt"[..],
        ),
        (include_bytes!("testdata/proftpd/mlst.txt"), b"/hello.txt"),
        (include_bytes!("testdata/pure-ftpd/mlst.txt"), b"hello.txt"),
    ] {
        let line = reply.split(|&c| c == b'\n').nth(1).unwrap();
        let (_, e) = mlsd::parse_mlst_line(crate::parse::trim_line_end(line)).unwrap();
        assert_eq!((e.name, e.kind, e.size), (name, EntryType::File, Some(512)));
        assert_eq!(e.modify.unwrap().iso(), "2026-12-07T00:38:58Z");
    }
}

#[test]
fn mlsd_rfc3659_examples() {
    // RFC 3659 7.7.2's example, and a fraction of a second (2.3).
    let (_, e) = mlsd::parse_entry(b"Type=cdir;Modify=19981107085215;Perm=el; tmp").unwrap();
    assert_eq!((e.kind, e.name), (EntryType::Dir, &b"tmp"[..]));
    assert_eq!(e.modify.unwrap().iso(), "1998-11-07T08:52:15Z");
    let (_, t) = mlsd::parse_time_val(b"19990929003355.25").unwrap();
    assert_eq!(t.iso(), "1999-09-29T00:33:55.250Z");
    // No facts at all is allowed: `[ facts ] SP pathname`.
    assert_eq!(mlsd::parse_entry(b" bare").unwrap().1.name, b"bare");
    assert!(mlsd::parse_time_val(b"19991329003355").is_err());
}

// ------------------------------------------------------------------ NLST (RFC 959 4.1.3)

#[test]
fn nlst_names() {
    let names = |b: &'static [u8]| -> Vec<&'static [u8]> {
        entries(Expect::Names, b, 3)
            .iter()
            .map(|e| e.name)
            .collect()
    };
    let sorted: Vec<&[u8]> = vec![
        b"hello.txt",
        b"link",
        b"name with spaces.txt",
        b"null",
        b"numeric.dat",
        b"old.bin",
        b"sub",
    ];
    assert_eq!(names(include_bytes!("testdata/vsftpd/nlst.txt")), sorted);
    assert_eq!(names(include_bytes!("testdata/pyftpdlib/nlst.txt")), sorted);
    let mut pure = names(include_bytes!("testdata/pure-ftpd/nlst.txt"));
    pure.sort();
    let mut with_dots = sorted.clone();
    with_dots.extend([&b"."[..], b".."]);
    with_dots.sort();
    assert_eq!(pure, with_dots);
    let e = &entries(
        Expect::Names,
        include_bytes!("testdata/proftpd/nlst.txt"),
        9,
    )[0];
    assert_eq!((e.form, e.kind), (Form::Name, EntryType::Unknown));
}

// ------------------------------------------------------------------ DOS (IIS) and EPLF

#[test]
fn dos_samples() {
    let got = entries(Expect::List, include_bytes!("testdata/dos/list.txt"), 10);
    let row = |name: &'static str, kind, size, t: Time, raw: &'static str| {
        let mut e = Entry::named(Form::Dos, name.as_bytes(), kind);
        e.size = size;
        e.modify = Some(t);
        e.modify_raw = Some(raw.as_bytes());
        e
    };
    let t = |y, mo, d, h, mi| time(Some(y), mo, d, Some((h, mi, None)), false);
    assert_eq!(
        got,
        vec![
            row(
                "16-dos-dateambigious dir",
                EntryType::Dir,
                None,
                t(2000, 4, 27, 12, 9),
                "04-27-00  12:09PM"
            ),
            row(
                "17-dos-dateambigious file",
                EntryType::File,
                Some(589),
                t(2000, 4, 14, 15, 47),
                "04-14-00  03:47PM"
            ),
            row(
                "18-dos-longyear dir",
                EntryType::Dir,
                None,
                t(2002, 9, 2, 18, 48),
                "2002-09-02  18:48"
            ),
            row(
                "19-dos-longyear file",
                EntryType::File,
                Some(9730),
                t(2002, 9, 2, 19, 6),
                "2002-09-02  19:06"
            ),
        ]
    );
    let (_, e) = dos::parse_entry(b"07-26-2012  12:30AM       <DIR>          name").unwrap();
    assert_eq!(e.modify.unwrap().iso(), "2012-07-26T00:30");
    let (_, e) = dos::parse_entry(b"12-07-99  01:30PM                 3 a").unwrap();
    assert_eq!(e.modify.unwrap().iso(), "1999-12-07T13:30");
    assert!(dos::parse_entry(b"13-07-26  01:30PM       <DIR>          x").is_err());
    assert!(dos::parse_entry(b"12-07-26  13:30PM       <DIR>          x").is_err());
}

#[test]
fn eplf_samples() {
    let got = entries(Expect::List, include_bytes!("testdata/eplf/list.txt"), 2);
    let row = |name: &'static str, kind, size, secs: &'static str, unique: &'static str| {
        let mut e = Entry::named(Form::Eplf, name.as_bytes(), kind);
        e.size = size;
        e.modify = Time::from_unix(secs.parse().unwrap());
        e.modify_raw = Some(secs.as_bytes());
        e.unique = Some(unique.as_bytes());
        e
    };
    assert_eq!(
        got,
        vec![
            row(
                "14-eplf file",
                EntryType::File,
                Some(280),
                "825718503",
                "8388621.48594"
            ),
            row(
                "15-eplf dir",
                EntryType::Dir,
                None,
                "824255907",
                "8388621.50690"
            ),
        ]
    );
    // `date -u -d @824255907`: Tue Feb 13 23:58:27 UTC 1996.
    assert_eq!(got[1].modify.unwrap().iso(), "1996-02-13T23:58:27Z");
    let (_, e) = eplf::parse_entry(b"+up644,m99999999999999999999,\tx").unwrap();
    assert_eq!(
        (e.mode, e.modify, e.kind),
        (Some(0o644), None, EntryType::Other)
    );
}

// ------------------------------------------------------------------ detection and the stream

#[test]
fn detector_picks_each_form() {
    for (line, form) in [
        (
            &b"-rw-r--r--   1 root root 512 Dec 07 00:38 hello.txt"[..],
            Some(Form::Unix),
        ),
        (b"total 8", Some(Form::Unix)),
        (
            b"04-14-00  03:47PM                  589 readme.htm",
            Some(Form::Dos),
        ),
        (b"+i1.2,r,\tx", Some(Form::Eplf)),
        (b"type=file;size=1; x", Some(Form::Mlsd)),
        (b"hello.txt", None),
        (b"", None),
    ] {
        assert_eq!(detect(line), form, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn caps_are_reported() {
    let limits = ListingLimits {
        max_entries: 2,
        max_line: 20,
    };
    let mut p = ListingParser::new(Expect::Names, limits);
    let mut items = Vec::new();
    let mut on = |i: Item<'_>| items.push(format!("{i:?}"));
    // A 30-byte line split over two chunks, then three names (one over the entry cap).
    p.feed(b"a\r\n0123456789012345", &mut on);
    p.feed(b"6789012345678\r\nb\nc\r\nd\r\n", &mut on);
    p.feed(b"e", &mut on);
    p.finish(&mut on);
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(items[0].contains("name: [97]"));
    assert_eq!(items[1], "Cap(MaxLine)");
    assert!(items[2].contains("name: [98]"));
    assert_eq!(items[3], "Cap(MaxEntries)");
    let s = p.stats();
    assert_eq!((s.lines, s.entries, s.long_lines, s.dropped), (6, 2, 1, 3));
    assert_eq!(s.of(Form::Name), 2);
}

#[test]
fn long_line_inside_one_chunk_and_unknown_lines() {
    let limits = ListingLimits {
        max_entries: 10,
        max_line: 8,
    };
    let mut p = ListingParser::new(Expect::List, limits);
    let mut items = Vec::new();
    p.feed(b"a very long line indeed\r\nhello\r\n\r\n", &mut |i| {
        items.push(format!("{i:?}"))
    });
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0], "Cap(MaxLine)");
    assert!(items[1].contains("UnknownForm"));
    assert_eq!(p.stats().unparsed, 1);
}

#[test]
fn every_split_point_gives_the_same_entries() {
    let bytes = include_bytes!("testdata/pure-ftpd/mlsd.txt");
    let whole = entries(Expect::Facts, bytes, bytes.len());
    for cut in 0..bytes.len() {
        let mut p = ListingParser::new(Expect::Facts, ListingLimits::default());
        let mut got = Vec::new();
        let mut on = |i: Item<'_>| {
            if let Item::Entry(e) = i {
                got.push(owned(e));
            }
        };
        p.feed(&bytes[..cut], &mut on);
        p.feed(&bytes[cut..], &mut on);
        p.finish(&mut on);
        assert_eq!(got, whole, "cut at {cut}");
    }
}

#[test]
fn expect_from_the_command() {
    assert_eq!(Expect::for_command(b"list"), Some(Expect::List));
    assert_eq!(Expect::for_command(b"NLST"), Some(Expect::Names));
    assert_eq!(Expect::for_command(b"MLSD"), Some(Expect::Facts));
    assert_eq!(Expect::for_command(b"RETR"), None);
}
