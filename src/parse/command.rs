//! Commands: RFC 959 section 5.3, with the verbs of RFC 2228, 2389, 2428, 3659, 1639 and 7151.
//!
//! ```text
//! RFC 959 5.3.1:  <command> ::= <verb> [<SP> <argument>] <CRLF>
//! RFC 959 5.3:    "The command codes themselves are alphabetic characters terminated by the
//!                  character <SP> (Space) if parameters follow and Telnet-EOL otherwise.
//!                  ... may be upper or lower case."
//! ```

use nom::{
    IResult, Parser,
    bytes::complete::{take_while, take_while_m_n},
    combinator::{opt, rest},
    sequence::preceded,
};

/// A command line, borrowing the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// The verb exactly as sent (case preserved).
    pub verb: &'a [u8],
    /// The argument exactly as sent, without the separating space and the line end.
    pub arg: Option<&'a [u8]>,
}

impl Command<'_> {
    /// The verb's entry in the command table, matched case-insensitively.
    pub fn info(&self) -> Option<&'static CommandInfo> {
        lookup_verb(self.verb)
    }
}

/// What a transfer command moves over the data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Server to client: a file (RETR).
    Download,
    /// Client to server: a file (STOR, STOU, APPE).
    Upload,
    /// Server to client: a listing (LIST, NLST, MLSD).
    Listing,
}

/// One row of the command table: the single place that knows FTP verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    pub verb: &'static str,
    pub rfc: u16,
    pub description: &'static str,
    /// Set for the commands that use the data channel.
    pub transfer: Option<TransferKind>,
}

const fn cmd(verb: &'static str, rfc: u16, description: &'static str) -> CommandInfo {
    CommandInfo {
        verb,
        rfc,
        description,
        transfer: None,
    }
}

const fn xfer(
    verb: &'static str,
    rfc: u16,
    description: &'static str,
    kind: TransferKind,
) -> CommandInfo {
    CommandInfo {
        verb,
        rfc,
        description,
        transfer: Some(kind),
    }
}

/// Every verb ftplens knows, sorted by verb so that lookup can binary-search.
pub static COMMANDS: &[CommandInfo] = &[
    cmd("ABOR", 959, "Abort"),
    cmd("ACCT", 959, "Account"),
    cmd("ADAT", 2228, "Authentication/security data"),
    cmd("ALLO", 959, "Allocate"),
    xfer("APPE", 959, "Append (with create)", TransferKind::Upload),
    cmd("AUTH", 2228, "Authentication/security mechanism"),
    cmd("CCC", 2228, "Clear command channel"),
    cmd("CDUP", 959, "Change to parent directory"),
    // Not in an RFC: sent by many clients (draft-ietf-ftpext-... never published); 0 marks it.
    cmd("CLNT", 0, "Client name (non-standard)"),
    cmd("CONF", 2228, "Confidentiality protected command"),
    cmd("CWD", 959, "Change working directory"),
    cmd("DELE", 959, "Delete"),
    cmd("ENC", 2228, "Privacy protected command"),
    cmd("EPRT", 2428, "Extended port"),
    cmd("EPSV", 2428, "Extended passive mode"),
    cmd("FEAT", 2389, "Feature negotiation"),
    cmd("HELP", 959, "Help"),
    cmd("HOST", 7151, "Virtual host"),
    xfer("LIST", 959, "List", TransferKind::Listing),
    cmd("LPRT", 1639, "Long port"),
    cmd("LPSV", 1639, "Long passive mode"),
    cmd("MDTM", 3659, "File modification time"),
    cmd("MIC", 2228, "Integrity protected command"),
    cmd("MKD", 959, "Make directory"),
    xfer(
        "MLSD",
        3659,
        "List directory (machine-readable)",
        TransferKind::Listing,
    ),
    cmd("MLST", 3659, "List single object (machine-readable)"),
    cmd("MODE", 959, "Transfer mode"),
    xfer("NLST", 959, "Name list", TransferKind::Listing),
    cmd("NOOP", 959, "No operation"),
    cmd("OPTS", 2389, "Options"),
    cmd("PASS", 959, "Password"),
    cmd("PASV", 959, "Passive mode"),
    cmd("PBSZ", 2228, "Protection buffer size"),
    cmd("PORT", 959, "Data port"),
    cmd("PROT", 2228, "Data channel protection level"),
    cmd("PWD", 959, "Print working directory"),
    cmd("QUIT", 959, "Logout"),
    cmd("REIN", 959, "Reinitialize"),
    cmd("REST", 959, "Restart"),
    xfer("RETR", 959, "Retrieve", TransferKind::Download),
    cmd("RMD", 959, "Remove directory"),
    cmd("RNFR", 959, "Rename from"),
    cmd("RNTO", 959, "Rename to"),
    cmd("SITE", 959, "Site parameters"),
    cmd("SIZE", 3659, "File size"),
    cmd("SMNT", 959, "Structure mount"),
    cmd("STAT", 959, "Status"),
    xfer("STOR", 959, "Store", TransferKind::Upload),
    xfer("STOU", 959, "Store unique", TransferKind::Upload),
    cmd("STRU", 959, "File structure"),
    cmd("SYST", 959, "System"),
    cmd("TYPE", 959, "Representation type"),
    cmd("USER", 959, "User name"),
    cmd("XCUP", 775, "Change to parent directory"),
    cmd("XMKD", 775, "Make directory"),
    cmd("XPWD", 775, "Print working directory"),
    cmd("XRMD", 775, "Remove directory"),
];

impl CommandInfo {
    /// The description with its RFC, as dissectors show it: `Enter passive mode (RFC 959)`. Static:
    /// made once for the whole table.
    pub fn full_description(&self) -> &'static str {
        static FULL: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let full = FULL.get_or_init(|| {
            COMMANDS
                .iter()
                .map(|c| match c.rfc {
                    0 => c.description,
                    rfc => &*Box::leak(format!("{} (RFC {rfc})", c.description).into_boxed_str()),
                })
                .collect()
        });
        COMMANDS
            .binary_search_by(|c| c.verb.cmp(self.verb))
            .map_or(self.description, |i| full[i])
    }
}

/// Find a verb in [`COMMANDS`], ignoring case (RFC 959 5.3).
pub fn lookup_verb(verb: &[u8]) -> Option<&'static CommandInfo> {
    if verb.len() > 4 {
        return None;
    }
    let mut upper = [0u8; 4];
    for (dst, src) in upper.iter_mut().zip(verb) {
        *dst = src.to_ascii_uppercase();
    }
    let key = &upper[..verb.len()];
    COMMANDS
        .binary_search_by(|c| c.verb.as_bytes().cmp(key))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// `<verb>`: RFC 959 uses 3 or 4 letters; extensions and real clients use up to 8 (e.g. `XSHA256`),
/// sometimes with digits after the first letter.
fn verb(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (rest_i, v) = take_while_m_n(1, 16, |c: u8| c.is_ascii_alphanumeric())(i)?;
    if !v[0].is_ascii_alphabetic() {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Alpha,
        )));
    }
    Ok((rest_i, v))
}

/// `[<SP> <argument>]`: everything after the first space, exactly as sent. Extra spaces are kept:
/// file names may begin with one.
fn argument(i: &[u8]) -> IResult<&[u8], Option<&[u8]>> {
    opt(preceded(take_while_m_n(1, 1, |c| c == b' '), rest)).parse(i)
}

/// Parse one command line (the line end is optional and ignored).
pub fn parse_command(line: &[u8]) -> IResult<&[u8], Command<'_>> {
    let line = super::trim_line_end(line);
    let (i, verb) = verb(line)?;
    let (i, arg) = argument(i)?;
    // Anything left (a tab, a NUL straight after the verb) means this is not a command line.
    let (i, junk) = take_while(|_| true)(i)?;
    if !junk.is_empty() {
        return Err(nom::Err::Error(nom::error::Error::new(
            junk,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, Command { verb, arg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(COMMANDS.windows(2).all(|w| w[0].verb < w[1].verb));
    }

    #[test]
    fn rfc959_user_example() {
        // RFC 959 5.3.1: USER <SP> <username> <CRLF>
        let (_, c) = parse_command(b"USER anonymous\r\n").unwrap();
        assert_eq!(
            c,
            Command {
                verb: b"USER",
                arg: Some(b"anonymous")
            }
        );
        assert_eq!(c.info().unwrap().rfc, 959);
    }

    #[test]
    fn verbs_are_case_insensitive_and_kept_as_sent() {
        let (_, c) = parse_command(b"auth tls\r\n").unwrap();
        assert_eq!(c.verb, b"auth");
        assert_eq!(c.info().unwrap().verb, "AUTH");
        assert_eq!(c.info().unwrap().rfc, 2228);
    }

    #[test]
    fn argument_kept_exactly() {
        let (_, c) = parse_command(b"RETR  two spaces.txt \r\n").unwrap();
        assert_eq!(c.arg, Some(&b" two spaces.txt "[..]));
    }

    #[test]
    fn no_argument() {
        let (_, c) = parse_command(b"PASV\r\n").unwrap();
        assert_eq!(
            c,
            Command {
                verb: b"PASV",
                arg: None
            }
        );
        let (_, c) = parse_command(b"PASV\n").unwrap();
        assert_eq!(c.verb, b"PASV");
    }

    #[test]
    fn extension_verbs() {
        for (line, rfc) in [
            (&b"EPRT |1|132.235.1.2|6275|"[..], 2428),
            (b"FEAT", 2389),
            (b"MLSD /pub", 3659),
            (b"LPRT 4,4,132,235,1,2,2,24,131", 1639),
            (b"HOST ftp.example.com", 7151),
            (b"PBSZ 0", 2228),
        ] {
            let (_, c) = parse_command(line).unwrap();
            assert_eq!(
                c.info().map(|i| i.rfc),
                Some(rfc),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn unknown_verb_still_parses() {
        let (_, c) = parse_command(b"XSHA256 file").unwrap();
        assert_eq!(c.verb, b"XSHA256");
        assert!(c.info().is_none());
    }

    #[test]
    fn not_a_command() {
        assert!(parse_command(b"").is_err());
        assert!(parse_command(b"220 ready").is_err());
        assert!(parse_command(b"\x16\x03\x01\x02").is_err());
        assert!(parse_command(b"USER\tbob").is_err());
    }

    #[test]
    fn transfer_commands() {
        let kinds: Vec<_> = COMMANDS
            .iter()
            .filter(|c| c.transfer.is_some())
            .map(|c| c.verb)
            .collect();
        assert_eq!(
            kinds,
            ["APPE", "LIST", "MLSD", "NLST", "RETR", "STOR", "STOU"]
        );
    }
}
