//! FTPS facts the command line reads from the clear: PROT P seen in the clear and then a data
//! connection that carries clear bytes (a client or server that ignored the protection level) is
//! the anomaly `cleartext_after_prot_p`; a data connection that does begin with TLS is not.
//! The real FTPS captures (TLS 1.2 and 1.3, certificates, encrypted data connections) are in
//! tests/test_cli_tls.py.
#![cfg(feature = "cli")]

mod cli_support;
use cli_support::*;

/// A clear session that agrees PROT P, then downloads `data` over PASV.
fn prot_p_session(data: &[u8]) -> Pcap {
    let link = Link::Ethernet;
    let mut p = Pcap::new(link.linktype());
    let mut ctl = login(&mut p, link, 40011);
    ctl.client(&mut p, b"PBSZ 0\r\n");
    ctl.server(&mut p, b"200 PBSZ=0\r\n");
    ctl.client(&mut p, b"PROT P\r\n");
    ctl.server(&mut p, b"200 Protection level set to P\r\n");
    ctl.client(&mut p, b"PASV\r\n");
    ctl.server(&mut p, &pasv_reply(50010));
    ctl.client(&mut p, b"RETR secret.txt\r\n");
    let mut d = Conn::new((CLIENT, 51010), (SERVER, 50010), link);
    d.handshake(&mut p);
    ctl.server(&mut p, b"150 opening\r\n");
    d.server(&mut p, data);
    d.close(&mut p);
    ctl.server(&mut p, b"226 done\r\n");
    ctl.client(&mut p, b"QUIT\r\n");
    ctl.server(&mut p, b"221 bye\r\n");
    ctl.close(&mut p);
    p
}

fn log(p: &Pcap, name: &str) -> Run {
    let dir = tmpdir(name);
    let file = dir.join(format!("{name}.pcap"));
    p.write(&file);
    run(&["log".to_string(), file.display().to_string()])
}

#[test]
fn clear_bytes_after_prot_p_are_an_anomaly() {
    let r = log(
        &prot_p_session(b"top secret, sent in the clear\n"),
        "prot-p-clear",
    );
    let anomalies: Vec<_> = r
        .of_type("anomaly")
        .into_iter()
        .filter(|a| a.str("name") == Some("cleartext_after_prot_p"))
        .collect();
    assert_eq!(anomalies.len(), 1, "{}", r.stdout);
    assert!(
        anomalies[0]
            .str("detail")
            .unwrap()
            .contains("30 bytes in the clear")
    );
    assert_eq!(r.code, 1);
}

#[test]
fn a_tls_data_connection_after_prot_p_is_not() {
    // The first bytes of a TLS 1.2 ClientHello record (content type 22, version 3.1, length).
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00];
    hello.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb]);
    let r = log(&prot_p_session(&hello), "prot-p-tls");
    assert!(
        r.of_type("anomaly")
            .iter()
            .all(|a| a.str("name") != Some("cleartext_after_prot_p")),
        "{}",
        r.stdout
    );
    let t = r.of_type("transfer");
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0].get("encrypted").map(|j| format!("{j:?}")),
        Some("Bool(true)".into())
    );
}
