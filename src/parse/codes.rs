//! Reply codes: RFC 959 section 4.2.1 (the meaning of each digit) and 4.2.2 (the standard codes).

/// A reply code as sent. Open: an unknown code is still a code (the "open newtype" of rusticata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(pub u16);

impl ReplyCode {
    pub fn first_digit(self) -> u16 {
        self.0 / 100
    }
    pub fn second_digit(self) -> u16 {
        (self.0 / 10) % 10
    }
    /// RFC 959 4.2.1: the first digit is 1 to 5; RFC 2228 section 9 adds 6 (protected replies).
    pub fn is_valid(self) -> bool {
        (100..700).contains(&self.0)
    }
    /// 1yz: the action is being started; expect another reply.
    pub fn is_preliminary(self) -> bool {
        self.first_digit() == 1
    }
    /// 2yz.
    pub fn is_completion(self) -> bool {
        self.first_digit() == 2
    }
    /// 3yz.
    pub fn is_intermediate(self) -> bool {
        self.first_digit() == 3
    }
    /// 4yz or 5yz (RFC 2228 adds 6yz protected replies, which are not failures).
    pub fn is_failure(self) -> bool {
        matches!(self.first_digit(), 4 | 5)
    }
}

/// RFC 959 4.2.1, the first digit.
pub fn reply_class(code: ReplyCode) -> &'static str {
    match code.first_digit() {
        1 => "Positive Preliminary",
        2 => "Positive Completion",
        3 => "Positive Intermediate",
        4 => "Transient Negative Completion",
        5 => "Permanent Negative Completion",
        // RFC 2228 section 9: 6yz are protected replies.
        6 => "Protected",
        _ => "",
    }
}

/// RFC 959 4.2.1, the second digit.
pub fn reply_category(code: ReplyCode) -> &'static str {
    if !(100..700).contains(&code.0) {
        return "";
    }
    match code.second_digit() {
        0 => "Syntax",
        1 => "Information",
        2 => "Connections",
        3 => "Authentication and accounting",
        4 => "Unspecified",
        5 => "File system",
        _ => "",
    }
}

/// RFC 959 4.2.2 (and RFC 2228, 2428, 3659, 1639 for their codes): the text for a standard code.
pub fn reply_meaning(code: ReplyCode) -> &'static str {
    match code.0 {
        110 => "Restart marker reply",
        120 => "Service ready in nnn minutes",
        125 => "Data connection already open; transfer starting",
        150 => "File status okay; about to open data connection",
        200 => "Command okay",
        202 => "Command not implemented, superfluous at this site",
        211 => "System status, or system help reply",
        212 => "Directory status",
        213 => "File status",
        214 => "Help message",
        215 => "NAME system type",
        220 => "Service ready for new user",
        221 => "Service closing control connection",
        225 => "Data connection open; no transfer in progress",
        226 => "Closing data connection; requested file action successful",
        227 => "Entering Passive Mode (h1,h2,h3,h4,p1,p2)",
        228 => "Entering Long Passive Mode",
        229 => "Entering Extended Passive Mode (|||port|)",
        230 => "User logged in, proceed",
        232 => "User logged in, authorized by security data exchange",
        234 => "Security data exchange complete",
        235 => "Security data exchange completed successfully",
        250 => "Requested file action okay, completed",
        257 => "\"PATHNAME\" created",
        331 => "User name okay, need password",
        332 => "Need account for login",
        334 => "Requested security mechanism is ok",
        335 => "Security data is acceptable; more is required",
        336 => "Username okay, need password; challenge is ...",
        350 => "Requested file action pending further information",
        421 => "Service not available, closing control connection",
        425 => "Can't open data connection",
        426 => "Connection closed; transfer aborted",
        431 => "Need some unavailable resource to process security",
        450 => "Requested file action not taken; file unavailable",
        451 => "Requested action aborted: local error in processing",
        452 => "Requested action not taken; insufficient storage space",
        500 => "Syntax error, command unrecognized",
        501 => "Syntax error in parameters or arguments",
        502 => "Command not implemented",
        503 => "Bad sequence of commands",
        504 => "Command not implemented for that parameter",
        522 => "Network protocol not supported",
        530 => "Not logged in",
        532 => "Need account for storing files",
        533 => "Command protection level denied for policy reasons",
        534 => "Request denied for policy reasons",
        535 => "Failed security check",
        536 => "Data protection level not supported by security mechanism",
        537 => "Command protection level not supported by security mechanism",
        550 => "Requested action not taken; file unavailable",
        551 => "Requested action aborted: page type unknown",
        552 => "Requested file action aborted; exceeded storage allocation",
        553 => "Requested action not taken; file name not allowed",
        631 => "Integrity protected reply",
        632 => "Confidentiality and integrity protected reply",
        633 => "Confidentiality protected reply",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_rfc959_4_2_1() {
        let c = ReplyCode(530);
        assert_eq!(reply_class(c), "Permanent Negative Completion");
        assert_eq!(reply_category(c), "Authentication and accounting");
        assert_eq!(reply_class(ReplyCode(150)), "Positive Preliminary");
        assert_eq!(reply_category(ReplyCode(150)), "File system");
        assert_eq!(reply_class(ReplyCode(227)), "Positive Completion");
        assert_eq!(reply_category(ReplyCode(227)), "Connections");
        assert_eq!(reply_class(ReplyCode(331)), "Positive Intermediate");
        assert_eq!(reply_class(ReplyCode(421)), "Transient Negative Completion");
        assert_eq!(reply_category(ReplyCode(500)), "Syntax");
        assert_eq!(reply_category(ReplyCode(214)), "Information");
        assert_eq!(reply_category(ReplyCode(540)), "Unspecified");
    }

    #[test]
    fn invalid_codes_have_no_meaning() {
        assert!(!ReplyCode(99).is_valid());
        assert!(ReplyCode(631).is_valid());
        assert!(!ReplyCode(700).is_valid());
        assert_eq!(reply_class(ReplyCode(700)), "");
        assert_eq!(reply_category(ReplyCode(999)), "");
        assert_eq!(reply_category(ReplyCode(190)), "");
    }

    #[test]
    fn standard_texts() {
        assert_eq!(reply_meaning(ReplyCode(220)), "Service ready for new user");
        assert_eq!(reply_meaning(ReplyCode(425)), "Can't open data connection");
        assert_eq!(reply_meaning(ReplyCode(299)), "");
    }
}
