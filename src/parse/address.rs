//! Data-channel address forms: PORT and 227 (RFC 959, RFC 1123), EPRT and 229 (RFC 2428), LPRT and
//! 228 (RFC 1639).
//!
//! Each parser returns a [`DataEndpoint`] that keeps the arithmetic behind the port, so a presenter can
//! write `192.168.1.109:26758 (104*256+134)` without knowing the grammar. Every number is range-checked:
//! `PORT 1,2,3,4,256,1` is an error, not port 1.

use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_while1},
    character::complete::{digit1, space0},
    combinator::{map_res, verify},
    multi::separated_list1,
    sequence::{delimited, preceded},
};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Not the shape the RFC gives (missing numbers, stray characters).
    Malformed,
    /// A number outside its range (a byte over 255, a port over 65535 or 0 in EPRT).
    OutOfRange,
    /// An address family other than IPv4 or IPv6 (EPRT af, LPRT af/hal/pal).
    UnsupportedFamily,
    /// An RFC 2428 delimiter outside ASCII 33..=126, or not repeated consistently.
    BadDelimiter,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressError::Malformed => "malformed address",
            AddressError::OutOfRange => "number out of range",
            AddressError::UnsupportedFamily => "unsupported address family",
            AddressError::BadDelimiter => "bad RFC 2428 delimiter",
        })
    }
}

/// How the port was written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortArithmetic {
    /// Two bytes, high then low: PORT, 227, LPRT, 228.
    Split(u8, u8),
    /// A decimal port: EPRT and 229.
    Decimal,
}

/// An advertised data endpoint. `addr` is `None` for 229 (EPSV), which gives only a port: the data
/// connection goes to the control connection's server address (RFC 2428 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataEndpoint {
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub arithmetic: PortArithmetic,
}

impl DataEndpoint {
    fn split(addr: IpAddr, hi: u8, lo: u8) -> Self {
        DataEndpoint {
            addr: Some(addr),
            port: u16::from(hi) << 8 | u16::from(lo),
            arithmetic: PortArithmetic::Split(hi, lo),
        }
    }
}

/// `192.168.1.109:26758 (104*256+134)`, `[2001:db8::1]:6446`, or `port 6446` for 229.
impl fmt::Display for DataEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(IpAddr::V4(a)) => write!(f, "{a}:{}", self.port)?,
            Some(IpAddr::V6(a)) => write!(f, "[{a}]:{}", self.port)?,
            None => write!(f, "port {}", self.port)?,
        }
        if let PortArithmetic::Split(hi, lo) = self.arithmetic {
            write!(f, " ({hi}*256+{lo})")?;
        }
        Ok(())
    }
}

fn fail<T>(i: &[u8]) -> IResult<&[u8], T> {
    Err(nom::Err::Error(nom::error::Error::new(
        i,
        nom::error::ErrorKind::Verify,
    )))
}

/// A decimal number, at most 10 digits so that it cannot overflow u64 before the range check.
fn decimal(i: &[u8]) -> IResult<&[u8], u64> {
    map_res(verify(digit1, |d: &[u8]| d.len() <= 10), |d: &[u8]| {
        std::str::from_utf8(d)
            .map_err(|_| ())
            .and_then(|s| s.parse::<u64>().map_err(|_| ()))
    })
    .parse(i)
}

/// A comma-separated list of decimal numbers, tolerating spaces after a comma (seen from Windows
/// clients).
fn number_list(i: &[u8]) -> IResult<&[u8], Vec<u64>> {
    separated_list1(preceded(space0, preceded(tag(&b","[..]), space0)), decimal).parse(i)
}

fn byte(n: u64) -> Result<u8, AddressError> {
    u8::try_from(n).map_err(|_| AddressError::OutOfRange)
}

/// RFC 959 4.1.2: `<host-port> ::= <host-number>,<port-number>`, six numbers 0..=255.
fn host_port(nums: &[u64]) -> Result<DataEndpoint, AddressError> {
    let [h1, h2, h3, h4, p1, p2] = nums else {
        return Err(AddressError::Malformed);
    };
    let ip = Ipv4Addr::new(byte(*h1)?, byte(*h2)?, byte(*h3)?, byte(*h4)?);
    Ok(DataEndpoint::split(IpAddr::V4(ip), byte(*p1)?, byte(*p2)?))
}

/// `PORT <SP> <host-port>` argument (RFC 959 4.1.2): `192,168,1,106,224,89`.
pub fn parse_port_arg(arg: &[u8]) -> Result<DataEndpoint, AddressError> {
    match number_list(arg.trim_ascii()) {
        Ok((b"", nums)) => host_port(&nums),
        Ok(_) | Err(_) => Err(AddressError::Malformed),
    }
}

/// 227 reply text. RFC 1123 4.1.2.6: "The format of the 227 reply to a PASV command is not well
/// standardized ... the User-FTP program [should] scan the reply for the first digit of the host and
/// port numbers". So: the first run of six comma-separated numbers anywhere in the text.
pub fn parse_227(text: &[u8]) -> Result<DataEndpoint, AddressError> {
    first_window(text, 6, host_port)
}

/// Scan `text` once for runs of comma-separated decimal numbers (spaces allowed around commas) and
/// return the first window of `width` consecutive numbers of a run that `accept` takes. Linear in
/// the text: a sliding window, never a re-parse from each digit (a hostile 8 KB reply of `999,`
/// would otherwise cost quadratic time).
fn first_window<T>(
    text: &[u8],
    width: usize,
    accept: impl Fn(&[u64]) -> Result<T, AddressError>,
) -> Result<T, AddressError> {
    let mut window: std::collections::VecDeque<u64> =
        std::collections::VecDeque::with_capacity(width);
    let mut last_err = AddressError::Malformed;
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A number: at most 10 digits are kept exact; a longer one is out of range for any field.
        let start = i;
        while i < text.len() && text[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        let n = if digits.len() > 10 {
            u64::MAX
        } else {
            digits
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
        };
        if window.len() == width {
            window.pop_front();
        }
        window.push_back(n);
        if window.len() == width {
            match accept(window.make_contiguous()) {
                Ok(v) => return Ok(v),
                Err(e) => last_err = e,
            }
        }
        // Does the run go on? `<spaces> , <spaces> <digit>`.
        let mut j = i;
        while j < text.len() && text[j] == b' ' {
            j += 1;
        }
        if j < text.len() && text[j] == b',' {
            j += 1;
            while j < text.len() && text[j] == b' ' {
                j += 1;
            }
            if j < text.len() && text[j].is_ascii_digit() {
                i = j;
                continue;
            }
        }
        window.clear();
    }
    Err(last_err)
}

/// RFC 2428 section 2: "The delimiter character MUST be one of the ASCII characters in range 33-126
/// inclusive."
fn is_delimiter(c: u8) -> bool {
    (33..=126).contains(&c)
}

/// `EPRT<space><d><net-prt><d><net-addr><d><tcp-port><d>` (RFC 2428 section 2).
pub fn parse_eprt_arg(arg: &[u8]) -> Result<DataEndpoint, AddressError> {
    let arg = arg.trim_ascii();
    let (&d, body) = arg.split_first().ok_or(AddressError::Malformed)?;
    if !is_delimiter(d) || d.is_ascii_alphanumeric() || matches!(d, b'.' | b':') {
        return Err(AddressError::BadDelimiter);
    }
    let body = body.strip_suffix(&[d]).ok_or(AddressError::BadDelimiter)?;
    let mut parts = body.split(|&c| c == d);
    let (Some(af), Some(addr), Some(port), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AddressError::Malformed);
    };
    let addr = std::str::from_utf8(addr).map_err(|_| AddressError::Malformed)?;
    let ip = match af {
        b"1" => IpAddr::V4(
            addr.parse::<Ipv4Addr>()
                .map_err(|_| AddressError::Malformed)?,
        ),
        b"2" => IpAddr::V6(
            addr.parse::<Ipv6Addr>()
                .map_err(|_| AddressError::Malformed)?,
        ),
        _ => return Err(AddressError::UnsupportedFamily),
    };
    Ok(DataEndpoint {
        addr: Some(ip),
        port: tcp_port(port)?,
        arithmetic: PortArithmetic::Decimal,
    })
}

/// `<tcp-port>`: a decimal port, 1..=65535.
fn tcp_port(digits: &[u8]) -> Result<u16, AddressError> {
    match decimal(digits) {
        Ok((b"", n)) => match u16::try_from(n) {
            Ok(p) if p != 0 => Ok(p),
            _ => Err(AddressError::OutOfRange),
        },
        _ => Err(AddressError::Malformed),
    }
}

/// `(<d><d><d><tcp-port><d>)` with one delimiter repeated.
fn epsv_body(i: &[u8]) -> IResult<&[u8], u16> {
    let Some(&d) = i.first() else { return fail(i) };
    if !is_delimiter(d) || d.is_ascii_digit() {
        return fail(i);
    }
    let delim = [d];
    let (i, _) = (tag(&delim[..]), tag(&delim[..]), tag(&delim[..])).parse(i)?;
    let (i, digits) = take_while1(|c: u8| c.is_ascii_digit())(i)?;
    let (i, _) = tag(&delim[..])(i)?;
    match tcp_port(digits) {
        Ok(p) => Ok((i, p)),
        Err(_) => fail(i),
    }
}

/// 229 reply text (RFC 2428 section 3): `229 Entering Extended Passive Mode (|||6446|)`. The text
/// before the parenthesis is free, so scan for it; a reply with no parenthesis is scanned for the
/// bare `<d><d><d>port<d>` pattern.
pub fn parse_229(text: &[u8]) -> Result<DataEndpoint, AddressError> {
    let endpoint = |port| DataEndpoint {
        addr: None,
        port,
        arithmetic: PortArithmetic::Decimal,
    };
    for (pos, _) in text.iter().enumerate().filter(|&(_, &c)| c == b'(') {
        if let Ok((_, port)) =
            delimited(tag(&b"("[..]), epsv_body, tag(&b")"[..])).parse(&text[pos..])
        {
            return Ok(endpoint(port));
        }
    }
    (0..text.len())
        .find_map(|pos| epsv_body(&text[pos..]).ok().map(|(_, p)| endpoint(p)))
        .ok_or(AddressError::Malformed)
}

/// RFC 1639 section 2: `af,hal,h1,...,hN,pal,p1,...,pN` with af 4 (hal 4) or 6 (hal 16), pal 2.
fn long_host_port(nums: &[u64]) -> Result<DataEndpoint, AddressError> {
    let (&af, rest) = nums.split_first().ok_or(AddressError::Malformed)?;
    let (&hal, rest) = rest.split_first().ok_or(AddressError::Malformed)?;
    let hal = usize::try_from(hal).map_err(|_| AddressError::OutOfRange)?;
    match (af, hal) {
        (4, 4) | (6, 16) => {}
        _ => return Err(AddressError::UnsupportedFamily),
    }
    if rest.len() != hal + 3 {
        return Err(AddressError::Malformed);
    }
    let (host, port) = rest.split_at(hal);
    let [pal, p1, p2] = port else {
        return Err(AddressError::Malformed);
    };
    if *pal != 2 {
        return Err(AddressError::UnsupportedFamily);
    }
    let mut bytes = [0u8; 16];
    for (dst, &n) in bytes.iter_mut().zip(host) {
        *dst = byte(n)?;
    }
    let ip = if hal == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(bytes))
    };
    Ok(DataEndpoint::split(ip, byte(*p1)?, byte(*p2)?))
}

/// `LPRT <SP> <long-host-port>` argument (RFC 1639 section 2).
pub fn parse_lprt_arg(arg: &[u8]) -> Result<DataEndpoint, AddressError> {
    match number_list(arg.trim_ascii()) {
        Ok((b"", nums)) => long_host_port(&nums),
        _ => Err(AddressError::Malformed),
    }
}

/// 228 reply text (RFC 1639 section 3): `228 Entering Long Passive Mode (af,hal,h1,...,pal,p1,p2)`.
/// Scanned like 227: the first window of numbers that forms a valid long address, IPv4 (9 numbers)
/// or IPv6 (21 numbers).
pub fn parse_228(text: &[u8]) -> Result<DataEndpoint, AddressError> {
    first_window(text, 9, long_host_port)
        .or_else(|e4| first_window(text, 21, long_host_port).map_err(|_| e4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(a)))
    }

    #[test]
    fn seed_227_arithmetic() {
        let ep = parse_227(b"Entering Passive Mode (192,168,1,109,104,134).").unwrap();
        assert_eq!(ep.addr, v4([192, 168, 1, 109]));
        assert_eq!(ep.port, 26758);
        assert_eq!(ep.port, 104 * 256 + 134);
        assert_eq!(ep.to_string(), "192.168.1.109:26758 (104*256+134)");
    }

    #[test]
    fn rfc1123_227_without_parentheses() {
        let ep = parse_227(b"Entering Passive Mode 10,0,0,5,195,80").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([10, 0, 0, 5]), 50000));
        let ep = parse_227(b"=10,0,0,5,195,80").unwrap();
        assert_eq!(ep.port, 50000);
    }

    #[test]
    fn rfc1123_227_skips_leading_numbers() {
        // The scan starts at a later number when the first run is too short.
        let ep = parse_227(b"Mode 3 ok (127,0,0,1,4,1)").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([127, 0, 0, 1]), 1025));
    }

    #[test]
    fn port_rfc959() {
        let ep = parse_port_arg(b"192,168,1,106,224,89").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([192, 168, 1, 106]), 224 * 256 + 89));
        assert_eq!(ep.arithmetic, PortArithmetic::Split(224, 89));
        assert!(parse_port_arg(b"192, 168, 1, 106, 224, 89").is_ok());
    }

    #[test]
    fn port_errors() {
        assert_eq!(
            parse_port_arg(b"1,2,3,4,256,1"),
            Err(AddressError::OutOfRange)
        );
        assert_eq!(
            parse_port_arg(b"300,2,3,4,5,1"),
            Err(AddressError::OutOfRange)
        );
        assert_eq!(parse_port_arg(b"114,115"), Err(AddressError::Malformed));
        assert_eq!(
            parse_port_arg(b"1,2,3,4,5,6,7"),
            Err(AddressError::Malformed)
        );
        assert_eq!(parse_port_arg(b"1,2,3,4,5,x"), Err(AddressError::Malformed));
        assert_eq!(
            parse_port_arg(b"99999999999999999999,2,3,4,5,6"),
            Err(AddressError::Malformed)
        );
        assert_eq!(parse_port_arg(b""), Err(AddressError::Malformed));
        assert_eq!(
            parse_227(b"Entering Passive Mode"),
            Err(AddressError::Malformed)
        );
        assert_eq!(parse_227(b"(1,2,3,4,5,999)"), Err(AddressError::OutOfRange));
    }

    #[test]
    fn eprt_rfc2428_examples() {
        // RFC 2428 section 2 examples.
        let ep = parse_eprt_arg(b"|1|132.235.1.2|6275|").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([132, 235, 1, 2]), 6275));
        assert_eq!(ep.to_string(), "132.235.1.2:6275");
        let ep = parse_eprt_arg(b"|2|1080::8:800:200C:417A|5282|").unwrap();
        assert_eq!(ep.addr, Some("1080::8:800:200C:417A".parse().unwrap()));
        assert_eq!(ep.port, 5282);
        assert_eq!(ep.to_string(), "[1080::8:800:200c:417a]:5282");
    }

    #[test]
    fn eprt_any_delimiter() {
        for d in [b'!', b'#', b'~', b'$', b'/'] {
            let arg = format!("{0}1{0}10.1.2.3{0}4000{0}", d as char);
            assert_eq!(
                parse_eprt_arg(arg.as_bytes()).unwrap().port,
                4000,
                "delimiter {}",
                d as char
            );
        }
    }

    #[test]
    fn eprt_errors() {
        assert_eq!(
            parse_eprt_arg(b"|3|1.2.3.4|5|"),
            Err(AddressError::UnsupportedFamily)
        );
        assert_eq!(
            parse_eprt_arg(b"|1|1.2.3.4|65536|"),
            Err(AddressError::OutOfRange)
        );
        assert_eq!(
            parse_eprt_arg(b"|1|1.2.3.4|0|"),
            Err(AddressError::OutOfRange)
        );
        assert_eq!(
            parse_eprt_arg(b"|1|1.2.3.400|5|"),
            Err(AddressError::Malformed)
        );
        assert_eq!(parse_eprt_arg(b"|1|::1|5|"), Err(AddressError::Malformed));
        assert_eq!(
            parse_eprt_arg(b"|1|1.2.3.4|5"),
            Err(AddressError::BadDelimiter)
        );
        assert_eq!(
            parse_eprt_arg(b" 1 1.2.3.4 5 "),
            Err(AddressError::BadDelimiter)
        );
        assert_eq!(
            parse_eprt_arg(b"\x7f1\x7f1.2.3.4\x7f5\x7f"),
            Err(AddressError::BadDelimiter)
        );
        assert_eq!(parse_eprt_arg(b""), Err(AddressError::Malformed));
    }

    #[test]
    fn epsv_229_rfc2428_example_and_odd_delimiters() {
        // RFC 2428 section 3: 229 Entering Extended Passive Mode (|||6446|)
        let ep = parse_229(b"Entering Extended Passive Mode (|||6446|)").unwrap();
        assert_eq!((ep.addr, ep.port), (None, 6446));
        assert_eq!(ep.to_string(), "port 6446");
        assert_eq!(
            parse_229(b"Entering Extended Passive Mode (!!!40000!)")
                .unwrap()
                .port,
            40000
        );
        assert_eq!(parse_229(b"EPSV ok (~~~21~)").unwrap().port, 21);
        assert_eq!(parse_229(b"no parens |||5000|").unwrap().port, 5000);
    }

    #[test]
    fn epsv_229_errors() {
        assert!(parse_229(b"Entering Extended Passive Mode (|||70000|)").is_err());
        assert!(parse_229(b"Entering Extended Passive Mode (|||0|)").is_err());
        assert!(parse_229(b"Entering Extended Passive Mode (|!|6446|)").is_err());
        assert!(parse_229(b"Entering Extended Passive Mode").is_err());
    }

    #[test]
    fn lprt_rfc1639() {
        // RFC 1639 section 2 example shape: LPRT 4,4,132,235,1,2,2,24,131
        let ep = parse_lprt_arg(b"4,4,132,235,1,2,2,24,131").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([132, 235, 1, 2]), 24 * 256 + 131));
        let six = b"6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,4,1";
        let ep = parse_lprt_arg(six).unwrap();
        assert_eq!(ep.addr, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ep.port, 1025);
        assert_eq!(ep.to_string(), "[2001:db8::1]:1025 (4*256+1)");
    }

    #[test]
    fn lprt_errors() {
        assert_eq!(
            parse_lprt_arg(b"4,4,1,2,3,4,2,1"),
            Err(AddressError::Malformed)
        );
        assert_eq!(
            parse_lprt_arg(b"5,4,1,2,3,4,2,1,1"),
            Err(AddressError::UnsupportedFamily)
        );
        assert_eq!(
            parse_lprt_arg(b"4,4,1,2,3,4,3,1,1"),
            Err(AddressError::UnsupportedFamily)
        );
        assert_eq!(
            parse_lprt_arg(b"4,4,1,2,3,999,2,1,1"),
            Err(AddressError::OutOfRange)
        );
        assert_eq!(
            parse_lprt_arg(b"4,4,1,2,3,4,2,1,1,1"),
            Err(AddressError::Malformed)
        );
    }

    #[test]
    fn lpsv_228() {
        let ep = parse_228(b"Entering Long Passive Mode (4,4,192,168,1,109,2,104,134)").unwrap();
        assert_eq!((ep.addr, ep.port), (v4([192, 168, 1, 109]), 26758));
        assert!(parse_228(b"Entering Long Passive Mode (4,4,1,2,3)").is_err());
    }
}
