//! The dissector field and expert registries: the one list that the C plugin's `hf` table, the Lua
//! `ProtoField`s and any other presenter are built from. Field names are public API (users' display
//! filters depend on them): add freely, rename none.

/// How a field's value is typed in Wireshark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A label that opens a subtree.
    None = 0,
    String = 1,
    Uint = 2,
    Bool = 3,
    Frame = 4,
    RelTime = 5,
    Ipv4 = 6,
    Ipv6 = 7,
}

/// For frame fields: which arrow Wireshark draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRole {
    Plain = 0,
    Request = 1,
    Response = 2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    pub abbrev: &'static str,
    pub name: &'static str,
    pub blurb: &'static str,
    pub ftype: FieldType,
    pub frame_role: FrameRole,
}

impl FieldInfo {
    /// `ftplens-data.*` fields belong to the data protocol.
    pub fn is_data(&self) -> bool {
        self.abbrev.starts_with("ftplens-data.")
    }
}

macro_rules! registry {
    ($( $id:ident => ($abbrev:literal, $name:literal, $ty:ident, $role:ident, $blurb:literal), )*) => {
        /// Field identifiers; the discriminant is the index in [`FIELDS`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Field { $($id,)* }

        impl Field {
            /// The field whose discriminant (registry index) is `i`.
            pub fn from_index(i: usize) -> Option<Field> {
                const ALL: &[Field] = &[$(Field::$id,)*];
                ALL.get(i).copied()
            }
        }

        /// Every field, in registration order.
        pub static FIELDS: &[FieldInfo] = &[
            $(FieldInfo { abbrev: $abbrev, name: $name, blurb: $blurb, ftype: FieldType::$ty, frame_role: FrameRole::$role },)*
        ];
    };
}

registry! {
    RequestCommand => ("ftplens.request.command", "Request command", String, Plain, "The command verb as sent"),
    RequestArg => ("ftplens.request.arg", "Request arg", String, Plain, "The command argument exactly as sent"),
    RequestDescription => ("ftplens.request.description", "Command description", String, Plain, "What the command does, from its RFC"),
    ResponseCode => ("ftplens.response.code", "Response code", Uint, Plain, "The 3-digit reply code"),
    ResponseClass => ("ftplens.response.class", "Response class", String, Plain, "Meaning of the first digit (RFC 959 4.2.1)"),
    ResponseCategory => ("ftplens.response.category", "Response category", String, Plain, "Meaning of the second digit (RFC 959 4.2.1)"),
    ResponseMeaning => ("ftplens.response.meaning", "Response meaning", String, Plain, "RFC text for a standard reply code"),
    ResponseArg => ("ftplens.response.arg", "Response arg", String, Plain, "The reply text; multi-line replies joined by newlines"),
    ResponseLines => ("ftplens.response.lines", "Multi-line reply", Uint, Plain, "Number of lines in a multi-line reply"),
    ResponseLine => ("ftplens.response.line", "Reply line", String, Plain, "One line of a multi-line reply"),
    User => ("ftplens.user", "User", String, Plain, "User name as sent"),
    Password => ("ftplens.password", "Password", String, Plain, "Password as sent, in clear"),
    Anonymous => ("ftplens.login.anonymous", "Anonymous login", Bool, Plain, "USER anonymous or ftp"),
    LoginSuccess => ("ftplens.login.success", "Login success", Bool, Plain, "On the reply that ends a login attempt"),
    LoginUser => ("ftplens.login.user", "Logged-in user", String, Plain, "The user the login reply is about"),
    LoginFailures => ("ftplens.login.failures", "Failed logins", Uint, Plain, "Failed logins so far in this session"),
    DataIp => ("ftplens.data.ip", "Data IPv4 address", Ipv4, Plain, "The advertised data-channel IPv4 address"),
    DataIpv6 => ("ftplens.data.ipv6", "Data IPv6 address", Ipv6, Plain, "The advertised data-channel IPv6 address"),
    DataPort => ("ftplens.data.port", "Data port", Uint, Plain, "The advertised data-channel port"),
    DataMode => ("ftplens.data.mode", "Data mode", String, Plain, "PORT, PASV, EPRT, EPSV, LPRT or LPSV"),
    DataArithmetic => ("ftplens.data.arithmetic", "Data endpoint", String, Plain, "The address with the port arithmetic written out"),
    DataAltIp => ("ftplens.data.nat_ip", "Also expected at (control-connection address, IPv4)", Ipv4, Plain, "The listening side's control-connection address, also expected when the advertised one differs (NAT)"),
    DataAltIpv6 => ("ftplens.data.nat_ipv6", "Also expected at (control-connection address, IPv6)", Ipv6, Plain, "The listening side's control-connection address, also expected when the advertised one differs (NAT)"),
    DataChannel => ("ftplens.data.channel", "Data channel", Uint, Plain, "Data channel number within the session"),
    RequestIn => ("ftplens.request_in", "Request in", Frame, Request, "The frame of the command this reply answers"),
    ResponseIn => ("ftplens.response_in", "Response in", Frame, Response, "The frame of the final reply to this command"),
    Time => ("ftplens.time", "Response time", RelTime, Plain, "Time between the command and this reply"),
    TransferFile => ("ftplens.transfer.file", "Transfer file", String, Plain, "File of the transfer this reply ends"),
    TransferOutcome => ("ftplens.transfer.outcome", "Transfer outcome", String, Plain, "complete, failed, aborted, unknown or unused"),
    TlsUpgrade => ("ftplens.tls.mechanism", "TLS upgrade", String, Plain, "AUTH mechanism accepted with 234; TLS follows"),
    Anomaly => ("ftplens.anomaly", "Anomaly", String, Plain, "Stable name of an anomaly"),
    DataCommand => ("ftplens-data.command", "Command", String, Plain, "The transfer command that used this data connection"),
    DataFile => ("ftplens-data.file", "File", String, Plain, "The transfer command's argument"),
    DataPath => ("ftplens-data.path", "Path", String, Plain, "The file resolved against the known working directory"),
    DataSetupFrame => ("ftplens-data.setup_frame", "Setup frame", Frame, Plain, "The frame that announced this data connection"),
    DataCommandFrame => ("ftplens-data.command_frame", "Command frame", Frame, Plain, "The frame of the transfer command"),
    DataEndFrame => ("ftplens-data.end_frame", "End frame", Frame, Plain, "The frame of the final reply of the transfer"),
    DataModeName => ("ftplens-data.mode", "Mode", String, Plain, "PORT, PASV, EPRT, EPSV, LPRT or LPSV"),
    DataOffset => ("ftplens-data.offset", "REST offset", Uint, Plain, "The REST position the transfer starts at; only on a transfer that a REST moved"),
    DataType => ("ftplens-data.type", "Transfer type", String, Plain, "TYPE in force (A, I, ...)"),
    DataOutcome => ("ftplens-data.outcome", "Outcome", String, Plain, "complete, failed, aborted, unknown or unused"),
    DataReplyCode => ("ftplens-data.reply_code", "Final reply code", Uint, Plain, "The reply that ended the transfer"),
    DataSize => ("ftplens-data.size", "Announced size", Uint, Plain, "Size from SIZE or the 150 reply"),
    DataChannelId => ("ftplens-data.channel", "Channel", Uint, Plain, "Data channel number within its control session"),
    DataTls => ("ftplens-data.tls", "Protected (PROT P)", Bool, Plain, "The data channel carries TLS"),
    TransferDataFrame => ("ftplens.transfer.data_frame", "Data in", Frame, Plain, "The first frame of the data connection this command or reply announced or used"),
    TransferBytes => ("ftplens.transfer.bytes", "Transferred bytes", Uint, Plain, "Bytes the data connection carried, on the final reply of its transfer"),
    TransferDuration => ("ftplens.transfer.duration", "Transfer duration", RelTime, Plain, "Time from the first to the last data frame of the transfer"),
    TransferThroughput => ("ftplens.transfer.throughput", "Throughput (bytes/s)", Uint, Plain, "Transferred bytes divided by the transfer duration"),
    TransferFirstFrame => ("ftplens.transfer.first_frame", "First data frame", Frame, Plain, "The first frame of the transfer's data connection that carried data"),
    TransferLastFrame => ("ftplens.transfer.last_frame", "Last data frame", Frame, Plain, "The last frame of the transfer's data connection that carried data"),
    DataListing => ("ftplens-data.listing", "Listing entry", None, Plain, "One entry of a directory listing (LIST, NLST, MLSD), from the line that carries it"),
    DataListingName => ("ftplens-data.listing.name", "Name", String, Plain, "The entry's name as listed"),
    DataListingType => ("ftplens-data.listing.type", "Type", String, Plain, "file, dir, link, other, or unknown (a bare NLST name)"),
    DataListingSize => ("ftplens-data.listing.size", "Size", Uint, Plain, "Bytes, as the listing gives them"),
    DataListingModify => ("ftplens-data.listing.modify", "Modified", String, Plain, "Last modification, ISO 8601, as precise as the listing gives it"),
    DataListingPerm => ("ftplens-data.listing.perm", "Permissions", String, Plain, "ls -l's rwx characters or MLSD's perm fact, as written"),
    DataListingTarget => ("ftplens-data.listing.target", "Link target", String, Plain, "A symbolic link's target (ls -l: name -> target)"),
    DataComplete => ("ftplens-data.complete", "Complete", Bool, Plain, "Every byte of the transfer was captured, in the direction its command asks, and the server confirmed it"),
    DataPartialReason => ("ftplens-data.partial_reason", "Partial because", String, Plain, "Why the transfer is not complete: gaps, short, no_fin, not_confirmed, data_not_captured, started_before_capture, rest_offset, append, encrypted, direction_mismatch, no_command"),
    DataListingForm => ("ftplens-data.listing.form", "Listing form", String, Plain, "mlsd (RFC 3659), unix (ls -l), dos (IIS), eplf, or name (NLST)"),
}

/// Expert-info groups (Wireshark PI_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpertGroup {
    Security = 1,
    Protocol = 2,
    Malformed = 3,
    Sequence = 4,
    ResponseCode = 5,
}

/// Expert-info severities (Wireshark PI_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Chat = 1,
    Note = 2,
    Warn = 3,
    Error = 4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpertInfo {
    pub abbrev: &'static str,
    pub summary: &'static str,
    pub group: ExpertGroup,
    pub severity: Severity,
}

macro_rules! experts {
    ($( $id:ident => ($abbrev:literal, $group:ident, $sev:ident, $summary:literal), )*) => {
        /// Expert identifiers; the discriminant is the index in [`EXPERTS`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Expert { $($id,)* }

        impl Expert {
            /// The expert whose discriminant (registry index) is `i`.
            pub fn from_index(i: usize) -> Option<Expert> {
                const ALL: &[Expert] = &[$(Expert::$id,)*];
                ALL.get(i).copied()
            }
        }

        pub static EXPERTS: &[ExpertInfo] = &[
            $(ExpertInfo { abbrev: $abbrev, summary: $summary, group: ExpertGroup::$group, severity: Severity::$sev },)*
        ];
    };
}

experts! {
    CleartextCredentials => ("ftplens.cleartext_credentials", Security, Warn, "Credentials sent in clear text"),
    AnonymousLogin => ("ftplens.anonymous_login", Security, Note, "Anonymous login"),
    LoginFailed => ("ftplens.login_failed", Security, Note, "Login failed"),
    RepeatedLoginFailures => ("ftplens.repeated_login_failures", Security, Warn, "Repeated failed logins"),
    Bounce => ("ftplens.bounce", Security, Warn, "FTP bounce: data address is not the client's"),
    PrivilegedPort => ("ftplens.privileged_port", Security, Warn, "Active data channel to a privileged port"),
    NatMismatch => ("ftplens.nat_mismatch", Protocol, Note, "Passive address is not the server's (NAT)"),
    LineTooLong => ("ftplens.line_too_long", Malformed, Warn, "Line too long; cut and resynchronised"),
    InvalidReplyCode => ("ftplens.invalid_reply_code", Malformed, Warn, "Invalid reply code"),
    TransferFailed => ("ftplens.transfer_failed", ResponseCode, Warn, "Transfer aborted or failed"),
    MalformedAddress => ("ftplens.malformed_address", Malformed, Error, "Malformed data-channel address"),
    TooManyPending => ("ftplens.too_many_pending", Sequence, Warn, "Too many commands waiting for replies"),
    ExpectationsFull => ("ftplens.expectations_full", Sequence, Warn, "Too many open data-channel predictions"),
    ReplyTooLong => ("ftplens.reply_too_long", Malformed, Warn, "Multi-line reply too long"),
    UnmatchedReply => ("ftplens.unmatched_reply", Sequence, Note, "Reply without a command"),
    UnknownCommand => ("ftplens.unknown_command", Protocol, Note, "Unknown command"),
    TlsUpgrade => ("ftplens.tls_upgrade", Protocol, Chat, "Control connection switches to TLS"),
    CaptureGap => ("ftplens.capture_gap", Sequence, Warn, "Bytes missing from the capture"),
    DirectionMismatch => ("ftplens.direction_mismatch", Protocol, Warn, "Transfer bytes went the other way than the command asks"),
    DataPartial => ("ftplens-data.partial", Sequence, Warn, "The transfer is not complete in the capture"),
    StreamCap => ("ftplens.stream_cap", Sequence, Warn, "Too many connections tracked: new ones are not dissected"),
}

impl Expert {
    /// The expert raised for an anomaly (declared with the anomaly).
    pub fn for_anomaly(a: crate::Anomaly) -> Expert {
        a.expert()
    }

    /// The expert raised for an anomaly by its stable name: the session's
    /// ([`crate::Anomaly::name`]) and the conversation layer's
    /// ([`crate::conversation::anomaly`]) that a dissector shows. `None` for the others (found by
    /// the CLI only, or tied to no frame).
    pub fn for_anomaly_name(name: &str) -> Option<Expert> {
        use crate::conversation::anomaly;
        if let Some(a) = crate::Anomaly::ALL.iter().find(|a| a.name() == name) {
            return Some(a.expert());
        }
        match name {
            anomaly::CAPTURE_GAP => Some(Expert::CaptureGap),
            anomaly::DIRECTION_MISMATCH => Some(Expert::DirectionMismatch),
            anomaly::STREAM_CAP => Some(Expert::StreamCap),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut seen = HashSet::new();
        for f in FIELDS {
            assert!(seen.insert(f.abbrev), "duplicate {}", f.abbrev);
            assert!(f.abbrev.starts_with("ftplens.") || f.abbrev.starts_with("ftplens-data."));
        }
        for e in EXPERTS {
            assert!(seen.insert(e.abbrev), "duplicate {}", e.abbrev);
        }
    }

    #[test]
    fn enum_indexes_the_table() {
        assert_eq!(FIELDS[Field::DataPort as usize].abbrev, "ftplens.data.port");
        assert_eq!(FIELDS[Field::DataTls as usize].abbrev, "ftplens-data.tls");
        assert_eq!(
            EXPERTS[Expert::TlsUpgrade as usize].abbrev,
            "ftplens.tls_upgrade"
        );
    }

    /// An anomaly's expert is named after it (`bounce` raises `ftplens.bounce`), one expert each:
    /// users filter on either name and expect the other.
    #[test]
    fn each_anomaly_raises_the_expert_of_its_name() {
        let mut seen = HashSet::new();
        for a in crate::Anomaly::ALL {
            let abbrev = EXPERTS[a.expert() as usize].abbrev;
            assert_eq!(abbrev.strip_prefix("ftplens."), Some(a.name()));
            assert!(seen.insert(abbrev), "{abbrev} raised twice");
        }
    }

    #[test]
    fn design_contract_fields_exist() {
        // docs/architecture.md, "The Wireshark field contract".
        let contract = [
            "ftplens.request.command",
            "ftplens.request.arg",
            "ftplens.response.code",
            "ftplens.response.arg",
            "ftplens.response.class",
            "ftplens.response.category",
            "ftplens.user",
            "ftplens.password",
            "ftplens.login.success",
            "ftplens.data.ip",
            "ftplens.data.ipv6",
            "ftplens.data.port",
            "ftplens.data.mode",
            "ftplens.request_in",
            "ftplens.response_in",
            "ftplens.time",
            "ftplens-data.command",
            "ftplens-data.file",
            "ftplens-data.path",
            "ftplens-data.setup_frame",
            "ftplens-data.command_frame",
            "ftplens-data.offset",
            "ftplens-data.mode",
        ];
        for name in contract {
            assert!(FIELDS.iter().any(|f| f.abbrev == name), "missing {name}");
        }
    }
}
