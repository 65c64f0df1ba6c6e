//! `ftplens` on captures written by these tests: link types, TCP reassembly (out of order,
//! retransmitted, overlapping, gaps, cut segments, connections begun before the capture), late
//! binding, REST, safe extraction and exit codes. Every expected value is a fact of the capture
//! the test wrote (its file contents and their sha256), never output of the code under test.
#![cfg(feature = "cli")]

mod cli_support;
use cli_support::*;
use std::fs;

/// A session that downloads `data` as `name` over PASV; `send` puts the data segments on the
/// wire (in order by default) and returns how many bytes it deliberately left out.
fn pasv_download(
    link: Link,
    name: &str,
    data: &[u8],
    send: impl FnOnce(&mut Pcap, &mut Conn, &[u8]),
) -> Pcap {
    let mut p = Pcap::new(link.linktype());
    let mut ctl = login(&mut p, link, 40001);
    ctl.client(&mut p, b"TYPE I\r\n");
    ctl.server(&mut p, b"200 binary\r\n");
    ctl.client(&mut p, b"PASV\r\n");
    ctl.server(&mut p, &pasv_reply(50000));
    ctl.client(&mut p, format!("RETR {name}\r\n").as_bytes());
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), link);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 opening\r\n");
    send(&mut p, &mut d, data);
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    ctl.client(&mut p, b"QUIT\r\n");
    ctl.server(&mut p, b"221 bye\r\n");
    ctl.close(&mut p);
    p
}

fn in_order(p: &mut Pcap, d: &mut Conn, data: &[u8]) {
    for chunk in data.chunks(1000) {
        d.server(p, chunk);
    }
}

fn analyse(p: &Pcap, name: &str, extra: &[&str]) -> Run {
    let dir = tmpdir(name);
    let file = dir.join(format!("{name}.pcap"));
    p.write(&file);
    let mut args = vec!["log".to_string(), file.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(&args)
}

fn one_transfer(r: &Run) -> Json {
    let t = r.of_type("transfer");
    assert_eq!(
        t.len(),
        1,
        "one transfer expected: {}\n{}",
        r.stdout,
        r.stderr
    );
    t.into_iter().next().unwrap()
}

#[test]
fn every_link_type_gives_the_same_session() {
    let data = content(3000);
    for link in [
        Link::Ethernet,
        Link::Vlan,
        Link::Raw,
        Link::Null,
        Link::Sll,
        Link::Sll2,
    ] {
        let p = pasv_download(link, "f.bin", &data, in_order);
        let r = analyse(&p, &format!("link-{link:?}"), &[]);
        assert_eq!(r.code, 0, "{link:?}: {}", r.stderr);
        let users: Vec<_> = r
            .of_type("ftp")
            .iter()
            .filter_map(|c| c.str("user").map(String::from))
            .collect();
        assert!(
            users.iter().all(|u| u == "alice") && !users.is_empty(),
            "{link:?}"
        );
        let t = one_transfer(&r);
        assert_eq!(
            t.str("sha256"),
            Some(sha256_hex(&data).as_str()),
            "{link:?}"
        );
        assert_eq!(t.u64("bytes"), Some(3000));
        assert_eq!(t.str("state"), Some("complete"));
        assert_eq!(t.str("mode"), Some("PASV"));
        assert_eq!(t.u64("data.resp_p"), Some(50000));
        assert_eq!(t.u64("data.orig_p"), Some(51000));
    }
}

#[test]
fn pcapng_and_gzip_and_stdin() {
    let data = content(1500);
    let p = pasv_download(Link::Ethernet, "g.bin", &data, in_order);
    // The same frames as pcapng: SHB, IDB, one EPB each (pcap-parser reads the pcap and
    // serializes the blocks).
    use pcap_parser::{
        EnhancedPacketBlock, InterfaceDescriptionBlock, Linktype, SectionHeaderBlock, ToVec,
    };
    let mut ng = SectionHeaderBlock {
        block_type: 0,
        block_len1: 0,
        bom: 0,
        major_version: 1,
        minor_version: 0,
        section_len: -1,
        options: vec![],
        block_len2: 0,
    }
    .to_vec()
    .unwrap();
    let mut idb = InterfaceDescriptionBlock {
        block_type: 0,
        block_len1: 0,
        linktype: Linktype::ETHERNET,
        reserved: 0,
        snaplen: 0,
        options: vec![],
        block_len2: 0,
        if_tsresol: 6,
        if_tsoffset: 0,
    };
    ng.extend(idb.to_vec().unwrap());
    let (_, pcap) = pcap_parser::parse_pcap(&p.bytes).unwrap();
    for r in &pcap.blocks {
        let ts = r.ts_sec as u64 * 1_000_000 + r.ts_usec as u64;
        let mut epb = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id: 0,
            ts_high: (ts >> 32) as u32,
            ts_low: ts as u32,
            caplen: r.caplen,
            origlen: r.origlen,
            data: r.data,
            options: vec![],
            block_len2: 0,
        };
        ng.extend(epb.to_vec().unwrap());
    }
    let dir = tmpdir("ng");
    let f = dir.join("x.pcapng");
    fs::write(&f, &ng).unwrap();
    let r = run(&["log", f.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        one_transfer(&r).str("sha256"),
        Some(sha256_hex(&data).as_str())
    );
    // Big-endian pcap with nanosecond timestamps.
    let mut be = Vec::new();
    be.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
    be.extend_from_slice(&2u16.to_be_bytes());
    be.extend_from_slice(&4u16.to_be_bytes());
    be.extend_from_slice(&[0; 8]);
    be.extend_from_slice(&262_144u32.to_be_bytes());
    be.extend_from_slice(&1u32.to_be_bytes());
    let mut at = 24;
    while at < p.bytes.len() {
        let r = &p.bytes[at..];
        let word = |i: usize| u32::from_le_bytes(r[i..i + 4].try_into().unwrap());
        let cap = word(8) as usize;
        for v in [word(0), word(4) * 1000, word(8), word(12)] {
            be.extend_from_slice(&v.to_be_bytes());
        }
        be.extend_from_slice(&r[16..16 + cap]);
        at += 16 + cap;
    }
    let f = dir.join("be-ns.pcap");
    fs::write(&f, &be).unwrap();
    let r = run(&["log", f.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = one_transfer(&r);
    assert_eq!(t.str("sha256"), Some(sha256_hex(&data).as_str()));
    assert!(
        t.get("ts")
            .and_then(Json::as_f64)
            .is_some_and(|n| (n - 1.7e9).abs() < 10.0)
    );
    // Standard input, gzip-compressed.
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
        e.write_all(&p.bytes).unwrap();
        e.finish().unwrap();
    }
    let r = run_stdin(&["log", "-"], Some(&gz));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        one_transfer(&r).str("sha256"),
        Some(sha256_hex(&data).as_str())
    );
}

#[test]
fn out_of_order_retransmitted_and_overlapping_segments() {
    let data = content(4000);
    let p = pasv_download(Link::Ethernet, "ooo.bin", &data, |p, d, data| {
        // Segments [0,1000) [1000,2000) [2000,3000) [3000,4000) sent as: 2, 0, 0 again,
        // [500,1500) overlapping, 3, 1.
        d.server_at(p, 2000, &data[2000..3000]);
        d.server_at(p, 0, &data[0..1000]);
        d.server_at(p, 0, &data[0..1000]);
        d.server_at(p, 500, &data[500..1500]);
        d.server_at(p, 3000, &data[3000..4000]);
        d.server_at(p, 1000, &data[1000..2000]);
        d.sseq += 4000;
    });
    let r = analyse(&p, "ooo", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = one_transfer(&r);
    assert_eq!(t.str("sha256"), Some(sha256_hex(&data).as_str()));
    assert_eq!(t.u64("bytes"), Some(4000));
    assert_eq!(t.u64("gaps"), Some(0));
    assert_eq!(t.str("state"), Some("complete"));
}

#[test]
fn a_lost_segment_is_a_recorded_gap_never_invented() {
    let data = content(3000);
    let p = pasv_download(Link::Ethernet, "gap.bin", &data, |p, d, data| {
        d.server_at(p, 0, &data[0..1000]);
        d.server_at(p, 2000, &data[2000..3000]); // [1000,2000) never captured
        d.sseq += 3000;
    });
    let r = analyse(&p, "gap", &[]);
    assert_eq!(r.code, 1, "a capture gap is an anomaly: {}", r.stderr);
    let t = one_transfer(&r);
    assert_eq!(t.u64("bytes"), Some(2000));
    assert_eq!(t.u64("gap_bytes"), Some(1000));
    assert_eq!(t.str("state"), Some("partial"));
    assert!(t.strs("partial_reasons").contains(&"gaps".to_string()));
    let anomalies: Vec<_> = r
        .of_type("anomaly")
        .iter()
        .filter_map(|a| a.str("name").map(String::from))
        .collect();
    assert!(
        anomalies.contains(&"capture_gap".to_string()),
        "{anomalies:?}"
    );
    // Extraction keeps the hole as a hole: the bytes around it are where they belong.
    let dir = tmpdir("gap-x");
    let f = dir.join("gap.pcap");
    p.write(&f);
    let out = dir.join("out");
    let r = run(&["extract", "-o", out.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let written = fs::read(out.join("gap.bin.partial")).unwrap();
    assert_eq!(&written[..1000], &data[..1000]);
    assert!(written[1000..2000].iter().all(|&b| b == 0));
    assert_eq!(&written[2000..], &data[2000..]);
}

#[test]
fn segment_cut_by_the_snap_length() {
    let data = content(2000);
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    ctl.client(&mut p, b"PASV\r\n");
    ctl.server(&mut p, &pasv_reply(50000));
    ctl.client(&mut p, b"RETR cut.bin\r\n");
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), Link::Ethernet);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 opening\r\n");
    let seg = Link::Ethernet.frame(&tcp_ip(d.s, d.c, d.sseq, Some(d.cseq), "P", &data[..1000]));
    p.frame_cut(&seg, seg.len() - 400); // the capture kept 600 of the 1000 bytes
    d.sseq += 1000;
    d.server(&mut p, &data[1000..]);
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    let r = analyse(&p, "cut", &[]);
    let t = one_transfer(&r);
    assert_eq!(t.u64("bytes"), Some(1600));
    assert_eq!(t.u64("gap_bytes"), Some(400));
    assert_eq!(t.str("state"), Some("partial"));
}

#[test]
fn memcap_on_held_segments_raises_an_anomaly() {
    let data = content(5000);
    let p = pasv_download(Link::Ethernet, "mem.bin", &data, |p, d, data| {
        // Everything after a missing first segment is held until the cap forces a gap.
        for off in (1000..5000).step_by(1000) {
            d.server_at(p, off as u32, &data[off..off + 1000]);
        }
        d.sseq += 5000;
    });
    let r = analyse(&p, "memcap", &["--stream-memcap", "0.002"]);
    assert_eq!(r.code, 1);
    let names: Vec<_> = r
        .of_type("anomaly")
        .iter()
        .filter_map(|a| a.str("name").map(String::from))
        .collect();
    assert!(
        names.contains(&"reassembly_memcap".to_string()),
        "{names:?}"
    );
    let t = one_transfer(&r);
    assert_eq!(t.u64("bytes"), Some(4000));
    assert_eq!(t.u64("gap_bytes"), Some(1000));
}

#[test]
fn control_connection_that_began_before_the_capture() {
    let mut p = Pcap::new(1);
    let mut c = Conn::new((CLIENT, 40009), (SERVER, 21), Link::Ethernet);
    c.client(&mut p, b"CWD /pub\r\n");
    c.server(&mut p, b"250 ok\r\n");
    c.client(&mut p, b"SIZE big.iso\r\n");
    c.server(&mut p, b"213 1234\r\n");
    let r = analyse(&p, "midstream", &[]);
    let cmds: Vec<_> = r
        .of_type("ftp")
        .iter()
        .map(|c| (c.str("command").unwrap().to_string(), c.u64("reply_code")))
        .collect();
    assert_eq!(
        cmds,
        vec![("CWD".into(), Some(250)), ("SIZE".into(), Some(213))]
    );
    let s = &r.of_type("session")[0];
    assert_eq!(s.bool("midstream"), Some(true));
}

#[test]
fn late_binding_data_connection_before_its_227() {
    let data = content(1200);
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    ctl.client(&mut p, b"PASV\r\n");
    // The capture shows the data connection and its bytes before the 227 that announced it.
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), Link::Ethernet);
    d.handshake(&mut p);
    d.server(&mut p, &data);
    ctl.server(&mut p, &pasv_reply(50000));
    ctl.client(&mut p, b"RETR early.bin\r\n");
    ctl.server(&mut p, b"150 opening\r\n");
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    let r = analyse(&p, "late", &[]);
    let t = one_transfer(&r);
    assert_eq!(t.bool("late_bound"), Some(true));
    assert_eq!(t.str("command"), Some("RETR"));
    assert_eq!(t.str("sha256"), Some(sha256_hex(&data).as_str()));
    assert_eq!(t.str("state"), Some("complete"));
}

#[test]
fn control_connection_on_another_port_found_by_its_first_lines() {
    let data = content(700);
    let mut p = Pcap::new(1);
    let mut ctl = Conn::new((CLIENT, 40001), (SERVER, 2121), Link::Ethernet);
    ctl.handshake(&mut p);
    ctl.server(&mut p, b"220 FTP server ready\r\n");
    ctl.client(&mut p, b"USER bob\r\n");
    ctl.server(&mut p, b"331 pw\r\n");
    ctl.client(&mut p, b"PASS x\r\n");
    ctl.server(&mut p, b"230 ok\r\n");
    ctl.client(&mut p, b"EPSV\r\n");
    ctl.server(
        &mut p,
        b"229 Entering Extended Passive Mode (|||50001|)\r\n",
    );
    ctl.client(&mut p, b"RETR a.txt\r\n");
    let mut d = Conn::new((CLIENT, 51001), (SERVER, 50001), Link::Ethernet);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 go\r\n");
    d.server(&mut p, &data);
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    let r = analyse(&p, "port2121", &[]);
    let t = one_transfer(&r);
    assert_eq!(t.str("mode"), Some("EPSV"));
    assert_eq!(t.u64("id.resp_p"), Some(2121));
    assert_eq!(t.str("sha256"), Some(sha256_hex(&data).as_str()));
}

/// A session with several RETRs of hostile names, one REST-resumed.
fn hostile_session() -> (Pcap, Vec<(String, Vec<u8>)>) {
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    let long = "L".repeat(300) + ".txt";
    let names = [
        "../../../../etc/passwd".to_string(),
        "/tmp/abs.txt".to_string(),
        "nul\0byte.txt".to_string(),
        long,
        "same.txt".to_string(),
        "same.txt".to_string(),
        "pre.txt".to_string(),
    ];
    let mut files = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let data = content(300 + i * 11);
        let port = 50000 + i as u16;
        ctl.client(&mut p, b"PASV\r\n");
        ctl.server(&mut p, &pasv_reply(port));
        ctl.client(&mut p, format!("RETR {name}\r\n").as_bytes());
        let mut d = Conn::new((CLIENT, 52000 + i as u16), (SERVER, port), Link::Ethernet);
        d.handshake(&mut p);
        ctl.server(&mut p, b"150 go\r\n");
        d.server(&mut p, &data);
        d.close(&mut p);
        ctl.server(&mut p, b"226 done\r\n");
        files.push((name.clone(), data));
    }
    // REST 100; RETR big.bin: the part is written at offset 100.
    let part = content(250);
    ctl.client(&mut p, b"TYPE I\r\n");
    ctl.server(&mut p, b"200 ok\r\n");
    ctl.client(&mut p, b"PASV\r\n");
    ctl.server(&mut p, &pasv_reply(50100));
    ctl.client(&mut p, b"REST 100\r\n");
    ctl.server(&mut p, b"350 restarting at 100\r\n");
    ctl.client(&mut p, b"RETR big.bin\r\n");
    let mut d = Conn::new((CLIENT, 52100), (SERVER, 50100), Link::Ethernet);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 go\r\n");
    d.server(&mut p, &part);
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    files.push(("big.bin".into(), part));
    (p, files)
}

#[test]
fn extract_never_escapes_and_never_overwrites() {
    let (p, files) = hostile_session();
    let dir = tmpdir("extract");
    let cap = dir.join("h.pcap");
    p.write(&cap);
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("pre.txt"), b"was here first").unwrap();
    let r = run(&[
        "extract",
        "-o",
        out.to_str().unwrap(),
        cap.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let read = |rel: &str| fs::read(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(read("etc/passwd"), files[0].1);
    assert_eq!(read("tmp/abs.txt"), files[1].1);
    assert_eq!(read("nul_byte.txt"), files[2].1);
    assert_eq!(read("same.txt"), files[4].1);
    assert_eq!(read("same.txt.1"), files[5].1);
    assert_eq!(read("pre.txt"), b"was here first");
    assert_eq!(read("pre.txt.1"), files[6].1);
    let long: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("LLLL"))
        .collect();
    assert_eq!(long.len(), 1);
    assert!(
        long[0].len() <= 200 && long[0].ends_with(".txt"),
        "{long:?}"
    );
    assert_eq!(read(&long[0]), files[3].1);
    // The REST part sits at offset 100 and is marked partial.
    let big = read("big.bin.partial");
    assert_eq!(big.len(), 350);
    assert!(big[..100].iter().all(|&b| b == 0));
    assert_eq!(&big[100..], &files[7].1[..]);
    // Nothing outside the output directory, no spool left behind.
    assert!(!dir.join("etc").exists() && !std::path::Path::new("/tmp/abs.txt").exists());
    assert!(fs::read_dir(&out).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".ftplens")
    }));
    // The manifest names every file, with its state.
    let m = r.records();
    assert_eq!(m.len(), 8);
    let rest = m
        .iter()
        .find(|x| x.str("ftp_path") == Some("big.bin"))
        .unwrap();
    assert_eq!(rest.u64("offset"), Some(100));
    assert_eq!(rest.str("state"), Some("partial"));
    assert!(
        rest.strs("partial_reasons")
            .contains(&"rest_offset".to_string())
    );
}

#[test]
fn truncated_and_garbage_inputs() {
    let data = content(3000);
    let p = pasv_download(Link::Ethernet, "t.bin", &data, in_order);
    let dir = tmpdir("trunc");
    // Cut inside the last record: partial input, records before it are out.
    let cut = dir.join("cut.pcap");
    fs::write(&cut, &p.bytes[..p.bytes.len() - 10]).unwrap();
    let r = run(&["log", cut.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("stopped after") && r.stderr.contains("truncated"),
        "{}",
        r.stderr
    );
    assert_eq!(r.of_type("transfer").len(), 1);
    // Garbage after the records.
    let junk = dir.join("junk.pcap");
    let mut bytes = p.bytes.clone();
    bytes.extend_from_slice(&[0xff; 40]);
    fs::write(&junk, &bytes).unwrap();
    let r = run(&["log", junk.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not a capture record"), "{}", r.stderr);
    assert_eq!(
        one_transfer(&r).str("sha256"),
        Some(sha256_hex(&data).as_str())
    );
    // Not a capture, empty, missing: errors.
    let text = dir.join("text.pcap");
    fs::write(&text, b"hello, this is not a capture\n").unwrap();
    let empty = dir.join("empty.pcap");
    fs::write(&empty, b"").unwrap();
    for (f, msg) in [
        (&text, "not a pcap"),
        (&empty, "empty"),
        (&dir.join("missing.pcap"), "No such file"),
    ] {
        let r = run(&["log", f.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{f:?}");
        assert!(r.stderr.contains(msg), "{}", r.stderr);
    }
    // A link type the reader does not know: said, and an error when nothing else was there.
    let mut wifi = Pcap::new(105);
    wifi.frame(&[0u8; 24]);
    let f = dir.join("wifi.pcap");
    wifi.write(&f);
    let r = run(&["log", f.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unsupported link type 105"),
        "{}",
        r.stderr
    );
    // Usage errors are 2 as well.
    assert_eq!(run(&["log", "--no-such-flag"]).code, 2);
    assert_eq!(run(&["frobnicate"]).code, 2);
}

#[test]
fn several_files_and_globs_in_parallel_keep_input_order() {
    let dir = tmpdir("multi");
    let mut shas = Vec::new();
    for i in 0..4 {
        let data = content(1000 + i * 100);
        shas.push(sha256_hex(&data));
        pasv_download(Link::Ethernet, &format!("m{i}.bin"), &data, in_order)
            .write(&dir.join(format!("m{i}.pcap")));
    }
    let glob = format!("{}/m*.pcap", dir.display());
    let r = run(&["log", "-j", "3", &glob]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = r.of_type("transfer");
    let got: Vec<_> = t
        .iter()
        .map(|x| x.str("sha256").unwrap().to_string())
        .collect();
    assert_eq!(got, shas);
    let files: Vec<_> = t
        .iter()
        .map(|x| x.str("file").unwrap().to_string())
        .collect();
    assert!(files[0].ends_with("m0.pcap") && files[3].ends_with("m3.pcap"));
    // A glob that matches nothing is an error, the rest still runs.
    let r = run(&["log", &glob, &format!("{}/none*.pcap", dir.display())]);
    assert_eq!(r.code, 2);
    assert_eq!(r.of_type("transfer").len(), 4);
}

#[test]
fn summary_masks_passwords_unless_asked() {
    let p = pasv_download(Link::Ethernet, "s.bin", &content(100), in_order);
    let dir = tmpdir("summary");
    let f = dir.join("s.pcap");
    p.write(&f);
    let r = run(&["summary", f.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("alice") && !r.stdout.contains("s3cret"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Transfers (1)") && r.stdout.contains("s.bin"));
    let r = run(&["summary", "--show-passwords", f.to_str().unwrap()]);
    assert!(r.stdout.contains("s3cret"));
}

#[test]
fn no_hash_and_broken_pipe() {
    let p = pasv_download(Link::Ethernet, "n.bin", &content(100), in_order);
    let dir = tmpdir("nohash");
    let f = dir.join("n.pcap");
    p.write(&f);
    let r = run(&["log", "--no-hash", f.to_str().unwrap()]);
    assert_eq!(one_transfer(&r).str("sha256"), None);
    // Many records, and a reader that goes away after the first line: a quiet exit.
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    for _ in 0..20_000 {
        ctl.client(&mut p, b"NOOP\r\n");
        ctl.server(&mut p, b"200 ok\r\n");
    }
    let big = dir.join("big.pcap");
    p.write(&big);
    let mut child = std::process::Command::new(BIN)
        .args(["log", big.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with('{'));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn help_documents_exit_codes() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for s in ["log", "summary", "extract", "Exit codes", "partial input"] {
        assert!(r.stdout.contains(s), "{s}");
    }
    assert!(run(&["extract", "--help"]).stdout.contains("never"));
}

/// The help lists the core's limits and anomalies: a limit or anomaly added to a registry shows
/// up without touching the CLI.
#[test]
fn help_lists_every_limit_and_anomaly() {
    let long = run(&["log", "--help"]);
    assert_eq!(long.code, 0);
    let short = run(&["log", "-h"]).stdout;
    for l in ftplens::limits::LIMITS {
        assert!(short.contains(l.name), "-h lacks {}", l.name);
        let entry = format!("{}\n", l.name);
        assert!(long.stdout.contains(&entry), "--help lacks {}", l.name);
    }
    assert!(
        long.stdout
            .contains("at most 16777216; hitting it raises line_too_long")
    );
    for (name, _) in ftplens::conversation::anomaly::every() {
        let entry = format!("  {name}\n");
        assert!(long.stdout.contains(&entry), "--help lacks {name}");
    }
}

/// `ftplens schema` describes what `ftplens log` writes: each record's keys are its type's
/// properties, in the schema's order, and carry every key the schema requires.
#[test]
fn schema_describes_the_records_written() {
    let schema = run(&["schema"]);
    assert_eq!(schema.code, 0, "{}", schema.stderr);
    let schema: Json = serde_json::from_str(&schema.stdout).unwrap();
    let defs = schema["$defs"].as_object().unwrap();
    let p = pasv_download(Link::Ethernet, "f.bin", &content(3000), in_order);
    let r = analyse(&p, "schema", &["--hash", "sha256,md5"]);
    let mut seen = std::collections::BTreeSet::new();
    for record in r.records() {
        let kind = record.str("type").unwrap().to_string();
        let def = defs
            .values()
            .find(|d| d["properties"]["type"]["const"] == kind.as_str())
            .unwrap_or_else(|| panic!("no schema for {kind}"));
        let properties: Vec<&String> = def["properties"].as_object().unwrap().keys().collect();
        let keys: Vec<&String> = record.as_object().unwrap().keys().collect();
        let mut in_schema_order = keys.clone();
        in_schema_order.sort_by_key(|k| properties.iter().position(|p| p == k));
        assert!(
            keys.iter().all(|k| properties.contains(k)),
            "{kind}: {keys:?}"
        );
        assert_eq!(keys, in_schema_order, "{kind}");
        for required in def["required"].as_array().unwrap() {
            assert!(
                keys.iter().any(|k| *k == required),
                "{kind} lacks {required}"
            );
        }
        seen.insert(kind);
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["ftp", "session", "transfer"]
    );
}

#[test]
fn damaged_captures_never_crash() {
    // Cuts and flipped bytes in a capture with a transfer: every run ends with a documented exit
    // code (never a panic's 101), and a damaged record stops the read with "partial" (3).
    let data = content(5000);
    let p = pasv_download(Link::Ethernet, "d.bin", &data, in_order);
    let dir = tmpdir("damaged");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for i in 0..40 {
        let mut bytes = p.bytes.clone();
        if i % 2 == 0 {
            bytes.truncate(24 + rnd(bytes.len() - 24));
        }
        for _ in 0..(i % 7) {
            let at = 24 + rnd(bytes.len().saturating_sub(24).max(1));
            if at < bytes.len() {
                bytes[at] ^= 1 << rnd(8);
            }
        }
        let f = dir.join(format!("d{i}.pcap"));
        fs::write(&f, &bytes).unwrap();
        for cmd in ["log", "summary"] {
            let r = run(&[cmd, f.to_str().unwrap()]);
            assert!(
                [0, 1, 3].contains(&r.code),
                "{f:?} {cmd}: exit {}: {}",
                r.code,
                r.stderr
            );
        }
    }
}

#[test]
fn idle_connections_time_out() {
    // Session A's data connection never closes; session B starts 100 s later. With a 10 s
    // timeout A's transfer is reported (partial, no FIN) before B's records; with the default
    // (600 s) only at the end of the input.
    let data = content(800);
    let mut p = Pcap::new(1);
    let mut a = login(&mut p, Link::Ethernet, 40001);
    a.client(&mut p, b"PASV\r\n");
    a.server(&mut p, &pasv_reply(50000));
    a.client(&mut p, b"RETR a.bin\r\n");
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), Link::Ethernet);
    d.handshake(&mut p);
    a.server(&mut p, b"150 go\r\n");
    d.server(&mut p, &data);
    a.server(&mut p, b"226 done\r\n");
    a.close(&mut p);
    p.idle(100.0);
    let mut b = login(&mut p, Link::Ethernet, 40002);
    b.client(&mut p, b"QUIT\r\n");
    b.server(&mut p, b"221 bye\r\n");
    b.close(&mut p);
    let order = |r: &Run| -> Vec<String> {
        r.records()
            .iter()
            .filter(|x| matches!(x.str("type"), Some("transfer") | Some("session")))
            .map(|x| format!("{}:{}", x.str("type").unwrap(), x.u64("id.orig_p").unwrap()))
            .collect()
    };
    let quick = analyse(&p, "timeout", &["--tcp-timeout", "10"]);
    assert_eq!(
        order(&quick),
        ["transfer:40001", "session:40001", "session:40002"]
    );
    let t = one_transfer(&quick);
    assert_eq!(t.str("sha256"), Some(sha256_hex(&data).as_str()));
    assert!(t.strs("partial_reasons").contains(&"no_fin".to_string()));
    let slow = analyse(&p, "timeout-default", &[]);
    assert_eq!(
        order(&slow),
        ["session:40002", "transfer:40001", "session:40001"]
    );
}

#[test]
fn flags_late_window_memcap_listings_max_rows() {
    // --late-window 0: a data connection seen before its 227 is not claimed.
    let data = content(1200);
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    ctl.client(&mut p, b"LIST\r\n");
    ctl.server(&mut p, b"425 use PASV first\r\n");
    ctl.client(&mut p, b"PASV\r\n");
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), Link::Ethernet);
    d.handshake(&mut p);
    d.server(&mut p, &data);
    ctl.server(&mut p, &pasv_reply(50000));
    ctl.client(&mut p, b"LIST\r\n");
    ctl.server(&mut p, b"150 listing\r\n");
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    let r = analyse(&p, "window0", &["--late-window", "0"]);
    let t = one_transfer(&r);
    assert_eq!(t.bool("late_bound"), Some(false));
    assert!(
        t.strs("partial_reasons")
            .contains(&"data_not_captured".to_string())
    );
    let r = analyse(&p, "window10", &[]);
    assert_eq!(one_transfer(&r).bool("late_bound"), Some(true));
    // --listings: LIST output is written only when asked.
    let dir = tmpdir("listings");
    let f = dir.join("l.pcap");
    p.write(&f);
    let plain = run(&[
        "extract",
        "-o",
        dir.join("a").to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_eq!(plain.records().len(), 0);
    let with = run(&[
        "extract",
        "--listings",
        "-o",
        dir.join("b").to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    let m = with.records();
    assert_eq!(m.len(), 1);
    assert_eq!(fs::read(m[0].str("extracted").unwrap()).unwrap(), data);
    // --max-rows: long tables are cut, and say so.
    let mut three = Pcap::new(1);
    for port in [40001, 40002, 40003] {
        let mut c = login(&mut three, Link::Ethernet, port);
        c.close(&mut three);
    }
    let f3 = dir.join("three.pcap");
    three.write(&f3);
    let r = run(&["summary", "--max-rows", "2", f3.to_str().unwrap()]);
    assert!(
        r.stdout.contains("Sessions (3)") && r.stdout.contains("... 1 more"),
        "{}",
        r.stdout
    );
    let r = run(&["summary", "--max-rows", "0", f3.to_str().unwrap()]);
    assert!(!r.stdout.contains("more"));
    // --memcap 0: no out-of-order byte may be held at all.
    let data = content(3000);
    let p = pasv_download(Link::Ethernet, "m0.bin", &data, |p, d, data| {
        d.server_at(p, 1000, &data[1000..3000]);
        d.server_at(p, 0, &data[0..1000]);
        d.sseq += 3000;
    });
    let r = analyse(&p, "memcap0", &["--memcap", "0"]);
    let names: Vec<_> = r
        .of_type("anomaly")
        .iter()
        .filter_map(|a| a.str("name").map(String::from))
        .collect();
    assert!(
        names.contains(&"reassembly_memcap".to_string()),
        "{names:?}"
    );
    let r = analyse(&p, "memcap-default", &[]);
    assert_eq!(
        one_transfer(&r).str("sha256"),
        Some(sha256_hex(&data).as_str())
    );
}

#[test]
fn commands_sent_before_the_greeting_are_paired_after_it() {
    let mut p = Pcap::new(1);
    let mut c = Conn::new((CLIENT, 40001), (SERVER, 21), Link::Ethernet);
    c.handshake(&mut p);
    c.client(&mut p, b"USER alice\r\n");
    c.client(&mut p, b"PASS s3cret\r\n");
    c.server(&mut p, b"220-slow server\r\n220 ready\r\n331 password\r\n");
    c.server(&mut p, b"230 in\r\n");
    c.close(&mut p);
    let r = analyse(&p, "early", &[]);
    let got: Vec<_> = r
        .of_type("ftp")
        .iter()
        .map(|c| (c.str("command").unwrap().to_string(), c.u64("reply_code")))
        .collect();
    assert_eq!(
        got,
        [
            ("USER".to_string(), Some(331)),
            ("PASS".to_string(), Some(230))
        ]
    );
    let s = &r.of_type("session")[0];
    assert_eq!(s.str("banner"), Some("slow server\nready"));
    assert_eq!(s.str("login"), Some("success"));
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn flag_limit_changes_a_session_limit() {
    let mut p = Pcap::new(1);
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    ctl.client(&mut p, b"SITE CHMOD 644 a-rather-long-file-name.txt\r\n");
    ctl.server(&mut p, b"200 ok\r\n");
    ctl.close(&mut p);
    // Every anomaly name in the log, from command records and anomaly records alike.
    let anomalies = |r: &Run| -> Vec<String> {
        let mut names: Vec<String> = r
            .of_type("anomaly")
            .iter()
            .filter_map(|a| a.str("name").map(String::from))
            .collect();
        for f in r.of_type("ftp") {
            names.extend(f.strs("anomalies"));
        }
        names
    };
    let plain = analyse(&p, "limit-default", &[]);
    assert!(!anomalies(&plain).contains(&"line_too_long".to_string()));
    let cut = analyse(&p, "limit-16", &["--limit", "max_line=16"]);
    assert!(
        anomalies(&cut).contains(&"line_too_long".to_string()),
        "{}",
        cut.stdout
    );
    assert_eq!(cut.code, 1, "anomalies found");
    let bad = analyse(&p, "limit-bad", &["--limit", "max_lines=16"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("max_line, max_reply_lines"),
        "{}",
        bad.stderr
    );
    let zero = analyse(&p, "limit-zero", &["--limit", "max_line=0"]);
    assert_eq!(zero.code, 2);
    assert!(
        zero.stderr
            .contains("max_line takes a whole number from 1 to")
    );
}

/// A LIST's entries on its transfer record; a line past the listing parser's 4,096-byte line cap
/// (split over segments) is left out and reported as `listing_cap`, the lines around it kept.
#[test]
fn list_entries_and_a_line_too_long() {
    let mut data = Vec::new();
    data.extend_from_slice(
        b"-rw-r--r--    1 0        0             512 Dec 07 00:38 hello.txt\r\n",
    );
    data.extend_from_slice(b"drwxr-xr-x    2 0        0            4096 Jun 01  2022 sub\r\n");
    data.extend_from_slice(b"-rw-r--r--    1 0        0               1 Jun 01  2022 ");
    data.extend_from_slice(&[b'x'; 5000]);
    data.extend_from_slice(
        b"\r\nlrwxrwxrwx    1 0        0               9 Dec 07 01:38 link -> hello.txt\r\n",
    );
    let mut p = Pcap::new(Link::Ethernet.linktype());
    let mut ctl = login(&mut p, Link::Ethernet, 40001);
    ctl.client(&mut p, b"PASV\r\n");
    ctl.server(&mut p, &pasv_reply(50000));
    ctl.client(&mut p, b"LIST\r\n");
    let mut d = Conn::new((CLIENT, 51000), (SERVER, 50000), Link::Ethernet);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 Here comes the directory listing.\r\n");
    in_order(&mut p, &mut d, &data);
    d.close(&mut p);
    ctl.server(&mut p, b"226 Directory send OK.\r\n");
    ctl.close(&mut p);
    let r = analyse(&p, "list_entries", &[]);
    let t = one_transfer(&r);
    let listing = t["listing"].as_array().expect("a listing");
    let names: Vec<&str> = listing.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["hello.txt", "sub", "link"], "{}", r.stdout);
    assert_eq!(listing[0]["type"], "file");
    assert_eq!(listing[0]["size"], 512);
    assert_eq!(listing[0]["perm"], "rw-r--r--");
    assert_eq!(listing[1]["type"], "dir");
    assert_eq!(listing[1]["modify"], "2022-06-01");
    assert_eq!(listing[2]["type"], "link");
    assert_eq!(listing[2]["target"], "hello.txt");
    assert!(
        listing[1].get("target").is_none(),
        "unknown fields are left out"
    );
    assert_eq!(
        t["state"], "complete",
        "a cap cuts our view, not the transfer"
    );
    let caps: Vec<Json> = r
        .of_type("anomaly")
        .into_iter()
        .filter(|a| a["name"] == "listing_cap")
        .collect();
    assert_eq!(caps.len(), 1, "{}", r.stdout);
    assert!(
        caps[0]["detail"]
            .as_str()
            .unwrap()
            .contains("1 lines too long")
    );
}
