//! The Wireshark glue's core: the conversation layer for a host that dissects packet by packet and
//! comes back to packets later (the C plugin through `ftplens_dissector_*`, the Lua fallback
//! directly).
//!
//! ```text
//! host, first pass          Dissector                                   host, any pass
//!   segment(seg, offer) ->  stream map, TCP sequence per direction  ->  view(frame): kind, Info,
//!                           (retransmission, gap), claim                title, items, statistics,
//!                           Conversations (keep_events)                 ladder text, export piece
//!                           event batches -> stored per-frame views
//!   actions()           <-  Expect / StartTls
//!   finish()            ->  open transfers end, cut lines are reported
//! ```
//!
//! The glue knows no FTP: every decision (which connection is control or data, which side serves,
//! what each frame shows) is made here, once, on the first pass, and stored. Later passes only read.
//!
//! Memory: a control frame keeps its items, compact (`items.rs`); a data frame keeps a few numbers
//! and the index of its channel, whose items are stored once and shown on every frame of the data
//! connection.

use crate::conversation::{
    Action, Config, ConnRef, Conversations, DataDirection, EventBatch, LoginSummary, Output,
    RoleKind, SessionSummary, TransferDone,
};
use crate::fields::Field;
use crate::parse::listing::{Expect, Item as ListingLine, ListingLimits, ListingParser};
use crate::present::{self, Target, listing};
use crate::{DataMode, Direction, Event, EventKind, Limits, LoginState};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

mod cover;
mod items;
#[cfg(test)]
mod tests;

use cover::Cover;
use items::StoredItem;
pub use items::{ItemView, ValueView};

/// The segment is the sender's SYN, or the host saw that the sender opened the connection (its
/// SYN) earlier.
pub const TCP_SYN: u8 = 0x01;
/// The sender closes its direction.
pub const TCP_FIN: u8 = 0x02;
/// The connection was reset.
pub const TCP_RST: u8 = 0x04;
/// The segment is the sender's SYN-ACK, or the host saw that the sender accepted the connection
/// earlier: the other side opened it.
pub const TCP_SYN_ACK: u8 = 0x08;
/// Not a flag of the segment but of the host: its TCP hands no retransmitted or out-of-order
/// segment to subdissectors (Wireshark's default, `tcp.no_subdissector_on_error`), so a hole in a
/// data connection may be bytes the capture holds. A partial transfer's expert info then says so.
pub const TCP_HIDES_REORDERED: u8 = 0x10;

/// Streams tracked at once (connections offered to ftplens). Past it, new connections are
/// rejected: a capture of that many connections offered to the heuristic would otherwise grow the
/// map without bound. The first rejection is reported: the next control frame shown carries the
/// `stream_cap` anomaly and its expert.
pub const MAX_STREAMS: usize = 1 << 20;

/// Listing entries kept as tree items across a capture file (about nine items each); entries past
/// it are not shown, and the frame where the cap was hit says so (`listing_cap`).
pub const MAX_LISTING_ENTRIES: usize = 200_000;

/// Statistics root nodes (the `-z ftplens,tree` names users know).
pub mod stats {
    pub const SESSIONS: &str = "FTP sessions";
    pub const LOGINS: &str = "Logins by user and outcome";
    pub const TRANSFERS: &str = "Transfers by command and path";
    /// One node per session, its facts beneath, ticked at the session's last frame.
    pub const SESSION_DETAILS: &str = "Session details";
}

/// How the dissector is set up.
#[derive(Debug, Clone, Default)]
pub struct DissectConfig {
    pub limits: Limits,
    /// Every password as one '*' per byte, in items, Info, statistics and the ladder.
    pub hide_passwords: bool,
    /// The host learns nothing of TCP handshakes and FINs (Wireshark's Lua API gives a dissector
    /// payload only, and no TCP state on tshark's first pass): a data connection's unseen SYN or FIN
    /// then says nothing about whether the capture holds its transfer.
    pub payload_only: bool,
    /// Directory listings are export objects too (`<directory>.listing`), besides files.
    pub export_listings: bool,
}

/// How a segment reached the host's dissector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// A port registered for ftplens: FTP control. The server is the side the opener reached
    /// (the handshake's flags), else the side the lines show (replies), else the lower port.
    Port,
    /// Another connection, offered to the heuristic.
    Heuristic,
    /// A connection an [`HostAction::Expect`] routed to ftplens.
    Expected,
}

/// One TCP segment as the host saw it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// The host's number for the TCP connection.
    pub stream: u32,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frame: u64,
    pub ts: f64,
    /// Sequence number of `data[0]` (relative or absolute, one kind per stream).
    pub seq: u32,
    /// [`TCP_SYN`], [`TCP_FIN`], [`TCP_RST`], [`TCP_SYN_ACK`]; 0 when unknown.
    pub flags: u8,
    pub data: &'a [u8],
}

/// What a connection is, as far as ftplens knows after a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Not ftplens's (yet): offer the next segment again.
    None,
    Control,
    Data,
    /// Not FTP: stop offering it.
    Rejected,
}

/// What the host should do so that later packets reach ftplens.
#[derive(Debug, Clone, PartialEq)]
pub enum HostAction {
    /// Route a connection from `connector` (any address when `None`, any port) to `listener`, or
    /// to `alt_listener` on the same port (NAT), to ftplens from `frame` on.
    Expect {
        listener: SocketAddr,
        alt_listener: Option<IpAddr>,
        connector: Option<IpAddr>,
        frame: u64,
        /// For a host that routes connections by port alone (the Lua fallback before Wireshark
        /// 4.6): the ports to claim, the listening port first
        /// ([`crate::Expectation::host_ports`]).
        ports: Vec<u16>,
    },
    /// The control connection `stream` carries TLS after `frame`.
    StartTls { stream: u32, frame: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    Control,
    Data,
}

/// A data frame's share of a transferred object (Export Objects). A transfer's final reply carries
/// one with `len` 0: the object's final name (a rename), since in a single pass its data frames
/// were shown before the outcome was known.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPiece<'a> {
    /// 1-based id of the object.
    pub object: u64,
    /// The object's name, final after the first pass; ends in ".partial" when the capture lacks
    /// some of its bytes or the server did not confirm it.
    pub filename: Cow<'a, str>,
    /// The session's server address.
    pub server: &'a str,
    /// Where this frame's new bytes go in the object.
    pub offset: u64,
    /// Payload bytes at the start already exported (a retransmission overlap).
    pub skip: u32,
    /// New payload bytes.
    pub len: u32,
    /// The payload is TLS: export the clear bytes TLS gives back instead, in order.
    pub tls: bool,
}

/// A view's text (the Info column, the title): kept text, or a data frame's, written from its
/// length and its channel when the host writes it out (every data packet has one, and most are
/// never shown, so none is made in advance).
#[derive(Debug, Clone, Copy)]
pub struct Text<'a>(TextKind<'a>);

#[derive(Debug, Clone, Copy)]
enum TextKind<'a> {
    Kept(&'a str),
    /// "FTP data, 1460 bytes, download (passive), RETR big.bin".
    DataInfo(u32, &'a Chan),
    /// " (1460 bytes)".
    DataTitle(u32),
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            TextKind::Kept(s) => f.write_str(s),
            TextKind::DataInfo(len, ch) => {
                write!(f, "FTP data, {len} bytes")?;
                if let Some(d) = ch.direction {
                    write!(f, ", {}", d.name())?;
                }
                if let Some(m) = ch.mode {
                    f.write_str(if m.is_passive() {
                        " (passive)"
                    } else {
                        " (active)"
                    })?;
                }
                match &ch.command {
                    Some(c) => write!(f, ", {c}"),
                    None => Ok(()),
                }
            }
            TextKind::DataTitle(len) => write!(f, " ({len} bytes)"),
        }
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        /// What is left of the string to match, as the text is written piece by piece.
        struct Rest<'s>(&'s str);
        impl std::fmt::Write for Rest<'_> {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                self.0 = self.0.strip_prefix(s).ok_or(std::fmt::Error)?;
                Ok(())
            }
        }
        let mut rest = Rest(other);
        std::fmt::write(&mut rest, format_args!("{self}")).is_ok() && rest.0.is_empty()
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        *self == other.to_string().as_str()
    }
}

/// What one frame shows.
#[derive(Debug, Clone, PartialEq)]
pub struct View<'a> {
    pub kind: ViewKind,
    /// The Info column ("" none).
    pub info: Text<'a>,
    /// Text after the protocol item's name.
    pub title: Text<'a>,
    /// Display order, every one for this frame; offsets are into this frame's payload, length 0
    /// means generated.
    pub items: Vec<ItemView<'a>>,
    /// A data frame's channel (an index, unique in the capture file): every frame of one data
    /// connection shows that channel's items, one list that changes only during the first pass (an
    /// item added, or a fact restated), so a host may keep what it made of them under
    /// `(channel, revision)`. `None` for control frames, and for the connection's first frame,
    /// whose list alone carries the transfer's expert info.
    pub channel: Option<u32>,
    /// Changes of the channel's items so far (0 for control frames).
    pub revision: u32,
    /// Items of this frame alone, shown after `items`: the listing entries a data frame's lines
    /// complete. Empty for control frames.
    pub frame_items: Vec<ItemView<'a>>,
    /// Statistics ticks: a node under the root, one under it, one under that (unused: `None`).
    pub stats: Vec<[Option<&'a str>; 3]>,
    /// The ladder (Flow Graph) text; `None` when the frame is not an entry.
    pub flow: Option<Cow<'a, str>>,
    pub export: Option<ExportPiece<'a>>,
    /// The payload is TLS (a protected data connection).
    pub tls: bool,
    /// The payload is text (a listing, TYPE A); for a TLS channel, the clear bytes TLS gives back.
    pub text: bool,
}

// ------------------------------------------------------------------------------ storage

#[derive(Debug)]
struct Stream {
    conn: ConnRef,
    /// Side 0 sent the first segment seen.
    sides: [SocketAddr; 2],
    /// Per direction: the bytes seen, by position.
    cover: [Option<Cover>; 2],
    fin: [bool; 2],
    closed: bool,
    /// Counted as a session (the first control frame was seen).
    counted: bool,
    /// A control connection's server side.
    server: Option<SocketAddr>,
    /// Its address as text, made once for all its channels.
    server_text: Option<Arc<str>>,
    /// PROT P was accepted: later data channels carry TLS.
    prot_p: bool,
    /// The last frame with payload, and its time.
    last_frame: u64,
    last_ts: f64,
    /// Bytes of the transfers reported on this control connection.
    transfer_bytes: u64,
    /// A data connection's channel (index into `chans`).
    chan: Option<u32>,
}

/// One data channel: what every frame of its data connection shows, stored once.
#[derive(Debug, Default)]
struct Chan {
    items: Vec<StoredItem>,
    /// Counts changes of `items` (an item added or replaced): hosts key what they made of them on
    /// it.
    revision: u32,
    /// "RETR big.bin".
    command: Option<String>,
    mode: Option<DataMode>,
    direction: Option<DataDirection>,
    export_name: Option<String>,
    object: u64,
    /// The session's server address, shared by the channels of its control connection.
    server: Arc<str>,
    tls: bool,
    text: bool,
    /// The data connection's stream, and the side whose bytes make the file: the side the
    /// transfer's command sends from (RETR and listings: the server; STOR, APPE, STOU: the
    /// client), else the first sender. On a TLS connection the first sender is the TLS client
    /// whatever the transfer's direction, so only the command can tell.
    stream: Option<u32>,
    file_side: Option<u8>,
    /// Which side of the data connection is the FTP server (from the prediction's port and mode).
    data_server: Option<u8>,
    /// New bytes of the file side.
    bytes: u64,
    first_frame: u64,
    last_frame: u64,
    first_ts: f64,
    last_ts: f64,
    /// A LIST, NLST or MLSD connection's parser (clear data only).
    listing: Option<Box<Listing>>,
}

/// Channel `i`, unless it was retired: a prediction that ended unused, before any data
/// connection, is shown by no frame, so nothing of it is kept (a PASV storm leaves one such
/// channel per reply).
fn slot(chans: &mut [Option<Box<Chan>>], i: u32) -> Option<&mut Chan> {
    chans.get_mut(i as usize)?.as_deref_mut()
}

/// What one call of a listing parser gave: the items of at most `room` entries, and whether a cap
/// (the parser's, or `room`) was hit.
struct Entries {
    room: usize,
    items: Vec<StoredItem>,
    count: usize,
    capped: bool,
}

impl Entries {
    fn new(room: usize) -> Self {
        Entries {
            room,
            items: Vec::new(),
            count: 0,
            capped: false,
        }
    }

    /// One parsed line; `payload` is the frame's payload, where an entry's name is highlighted when
    /// it lies in it.
    fn take(&mut self, line: ListingLine<'_>, payload: &[u8]) {
        match line {
            ListingLine::Entry(e) if self.count < self.room => {
                self.count += 1;
                let at = listing::span_in(payload, e.name);
                let items = listing::entry_items(&e, at);
                self.items
                    .extend(items.iter().map(|it| StoredItem::keep(it, 0, true)));
            }
            ListingLine::Entry(_) | ListingLine::Cap(_) => self.capped = true,
            ListingLine::Unparsed { .. } => {}
        }
    }
}

/// A directory listing being read from its data connection, in stream order.
#[derive(Debug)]
struct Listing {
    parser: ListingParser,
    /// Where the next in-order byte of the listing side lies; a segment elsewhere (out of order)
    /// is not parsed, since lines cannot be cut across a hole.
    next: Option<i64>,
    /// The frame of the last bytes parsed: a last line without a line end shows there.
    last_frame: u64,
    /// A cap was hit (the parser's, or the capture-wide entry cap): said once.
    capped: bool,
}

#[derive(Debug, Default)]
struct ControlFrame {
    items: Vec<StoredItem>,
    /// Without spare capacity: control frames are kept for the whole capture file.
    info: Box<str>,
    to_server: bool,
    /// Bytes at the start of the payload not fed (a retransmission overlap): item offsets of the
    /// frame's own lines are shifted by it.
    skip: u32,
    stats: Vec<[Option<Box<str>>; 3]>,
    flow: Flow,
    /// The channel whose transfer this frame ends (its final reply, at its event): the frame
    /// renames the channel's exported object to its final name, since in a single pass the data
    /// frames were shown before the outcome was known.
    renames: Option<u32>,
}

/// A control frame's ladder text. Most frames carry one command or reply, whose ladder text is
/// the end of the Info text ("Request: PASV" and "PASV"): kept as where it starts there rather
/// than as a second copy.
#[derive(Debug, Default)]
enum Flow {
    #[default]
    None,
    InfoTail(u32),
    Own(Box<str>),
}

impl ControlFrame {
    fn flow(&self) -> Option<&str> {
        match &self.flow {
            Flow::None => None,
            Flow::InfoTail(at) => self.info.get(*at as usize..),
            Flow::Own(text) => Some(text),
        }
    }

    /// Add to the Info text (joined by ", ") and to the ladder text (joined by " | ").
    fn append(&mut self, info: &str, flow: Option<&str>) {
        let mut flow_text = self.flow().map(str::to_owned);
        if !info.is_empty() {
            let mut text = String::from(std::mem::take(&mut self.info));
            append_text(&mut text, info, ", ");
            self.info = text.into_boxed_str();
        }
        if let Some(part) = flow {
            append_text(flow_text.get_or_insert_with(String::new), part, " | ");
        }
        self.flow = match flow_text {
            None => Flow::None,
            Some(f) if self.info.ends_with(f.as_str()) => {
                Flow::InfoTail(u32::try_from(self.info.len() - f.len()).unwrap_or(0))
            }
            Some(f) => Flow::Own(f.into_boxed_str()),
        };
    }
}

#[derive(Debug, Clone, Copy)]
struct DataFrame {
    chan: u32,
    len: u32,
    side: u8,
    /// The first frame of its data connection with payload.
    first: bool,
    /// Position of the first new byte in its direction ([`Cover`]).
    at: i64,
    skip: u32,
    new_len: u32,
}

#[derive(Debug)]
enum FrameRec {
    /// Boxed: control frames are few, data frames many, and the enum takes the larger size.
    Control(Box<ControlFrame>),
    Data(DataFrame),
}

/// The dissection state of one capture file.
#[derive(Debug)]
pub struct Dissector {
    conv: Conversations,
    hide_passwords: bool,
    export_listings: bool,
    streams: HashMap<u32, Stream, ByNumber>,
    by_conn: HashMap<ConnRef, u32>,
    /// Control connections by uid (the layer's session summaries name them so).
    by_uid: HashMap<String, u32>,
    /// By frame number: the first pass adds frames in capture order and the second reads them in
    /// the same order, so neighbours in the file are neighbours in memory (a hash table scattered
    /// them, and each view paid a cache miss).
    frames: BTreeMap<u64, FrameRec>,
    /// Boxed: a retired channel keeps only its slot.
    chans: Vec<Option<Box<Chan>>>,
    chan_keys: HashMap<(ConnRef, u32), u32>,
    actions: Vec<HostAction>,
    next_object: u64,
    /// Capture time of the last [`Conversations::advance`].
    advanced: f64,
    finished: bool,
    outputs: Vec<Output>,
    /// Where control items meant for a data frame go (see `control_view`).
    scratch: ControlFrame,
    /// Listing entries by the data frame that completed their line.
    listing_items: HashMap<u64, Vec<StoredItem>, ByNumber>,
    /// Listing entries kept so far, against [`MAX_LISTING_ENTRIES`].
    listing_entries: usize,
    /// [`MAX_STREAMS`] (lowered by tests).
    max_streams: usize,
    /// The host said [`TCP_HIDES_REORDERED`].
    tcp_hides_reordered: bool,
    /// Streams rejected at the cap; reported once, on the next control frame.
    streams_rejected: u64,
    stream_cap_said: bool,
}

/// Hashing for the host's frame and stream numbers: the host numbers them one after another, so
/// a multiplication spreads them well, and every view looks its frame up (SipHash, the default,
/// guards against chosen keys, which these are not).
#[derive(Debug, Clone, Copy, Default)]
struct ByNumber;

impl std::hash::BuildHasher for ByNumber {
    type Hasher = NumberHasher;
    fn build_hasher(&self) -> NumberHasher {
        NumberHasher(0)
    }
}

#[derive(Debug, Default)]
struct NumberHasher(u64);

impl std::hash::Hasher for NumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        // Fibonacci hashing: the product's high bits (the table's tag) depend on every bit of n.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Which side of `sides` sent from `addr`.
fn side_of(sides: &[SocketAddr; 2], addr: SocketAddr) -> usize {
    usize::from(addr != sides[0])
}

/// A generated item.
fn generated(field: Field, value: ValueView<'_>) -> StoredItem {
    StoredItem::generated(field, value)
}

// The Lua module keeps a dissector in a userdata that may move between threads.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Dissector>();
};

/// Seconds between two advances of the layer's clock (expiry of predictions and pending
/// connections needs no finer step).
const ADVANCE_STEP: f64 = 1.0;

impl Dissector {
    pub fn new(cfg: DissectConfig) -> Self {
        let conv = Conversations::new(Config {
            // The host says which ports are control (Offer::Port); no port is control by itself.
            control_ports: Vec::new(),
            limits: cfg.limits,
            keep_events: true,
            handshakes_unseen: cfg.payload_only,
            ..Config::default()
        });
        Dissector {
            conv,
            hide_passwords: cfg.hide_passwords,
            export_listings: cfg.export_listings,
            streams: HashMap::default(),
            by_conn: HashMap::new(),
            by_uid: HashMap::new(),
            frames: BTreeMap::new(),
            chans: Vec::new(),
            chan_keys: HashMap::new(),
            actions: Vec::new(),
            next_object: 0,
            advanced: f64::NEG_INFINITY,
            finished: false,
            outputs: Vec::new(),
            scratch: ControlFrame::default(),
            listing_items: HashMap::default(),
            listing_entries: 0,
            max_streams: MAX_STREAMS,
            tcp_hides_reordered: false,
            streams_rejected: 0,
            stream_cap_said: false,
        }
    }

    /// The actions of the last [`Dissector::segment`] or [`Dissector::finish`].
    pub fn actions(&self) -> &[HostAction] {
        &self.actions
    }

    /// One segment of the first pass, in capture order. Says what the connection is now.
    pub fn segment(&mut self, seg: &Segment<'_>, offer: Offer) -> Claim {
        self.actions.clear();
        self.tcp_hides_reordered |= seg.flags & TCP_HIDES_REORDERED != 0;
        // After the first pass nothing is fed. A frame may be offered more than once: the same
        // segment again (its bytes are a retransmission, fed once), or several pieces of one
        // frame, such as the records TLS decrypts, with sequence numbers that follow each other.
        if self.finished {
            return self.claim_of(seg.stream);
        }
        if seg.ts - self.advanced >= ADVANCE_STEP {
            self.advanced = seg.ts;
            self.conv.advance(seg.ts);
        }
        let initiator = if seg.flags & TCP_SYN != 0 {
            Some(seg.src)
        } else if seg.flags & TCP_SYN_ACK != 0 {
            Some(seg.dst)
        } else {
            None
        };
        if !self.streams.contains_key(&seg.stream) {
            if self.streams.len() >= self.max_streams {
                self.streams_rejected += 1;
                return Claim::Rejected;
            }
            let conn = self
                .conv
                .connect(seg.src, seg.dst, initiator, seg.frame, seg.ts);
            if offer == Offer::Port && self.conv.role(conn) == RoleKind::Pending {
                // The connection's opener is the client; else the lower port serves.
                let server = match initiator {
                    Some(i) if i == seg.src => seg.dst,
                    Some(_) => seg.src,
                    None if seg.dst.port() <= seg.src.port() => seg.dst,
                    None => seg.src,
                };
                self.conv.expect_control(conn, server);
            }
            self.by_conn.insert(conn, seg.stream);
            self.streams.insert(
                seg.stream,
                Stream {
                    conn,
                    sides: [seg.src, seg.dst],
                    cover: [None, None],
                    fin: [false; 2],
                    closed: false,
                    counted: false,
                    server: None,
                    server_text: None,
                    prot_p: false,
                    last_frame: 0,
                    last_ts: seg.ts,
                    transfer_bytes: 0,
                    chan: None,
                },
            );
        } else if let (Some(i), Some(st)) = (initiator, self.streams.get(&seg.stream)) {
            self.conv.open(st.conn, i);
        }
        let Some(st) = self.streams.get_mut(&seg.stream) else {
            return Claim::None;
        };
        let conn = st.conn;
        let side = side_of(&st.sides, seg.src);
        // Which bytes are new. A data connection's bytes are placed by position: a segment that
        // comes after a later one still fills its place. Other connections are fed in stream order
        // only: bytes behind the furthest seen are a retransmission, a jump ahead is a capture gap.
        // A segment without payload (a SYN, a bare FIN) moves nothing: its sequence number may
        // stand for a flag, not a byte.
        let len = seg.data.len();
        let by_position = self.conv.role(conn) == RoleKind::Data;
        let (mut skip, mut n, mut gap, mut gap_at, mut at) = (0, 0, 0u64, 0i64, 0i64);
        if len > 0 {
            let cover = st.cover[side].get_or_insert_with(|| Cover::new(seg.seq));
            let p = cover.position(seg.seq);
            if by_position {
                (skip, n) = cover.first_new(p, len);
            } else {
                let end = cover.end().unwrap_or(p);
                skip = (end - p).clamp(0, len as i64) as usize;
                n = len - skip;
                gap = (p - end).max(0) as u64;
                gap_at = end;
            }
            at = p + skip as i64;
            cover.add(at, at + n as i64, seg.seq.wrapping_add(skip as u32));
            st.last_frame = seg.frame;
            st.last_ts = seg.ts;
        }
        let new = &seg.data[skip..skip + n];
        if gap > 0 && n > 0 {
            // Positions may go below 0 (a segment before the first one seen); the layer only
            // names offsets in messages and hands them back in replays, so they travel as u64 bits.
            self.conv
                .gap(conn, seg.src, gap_at as u64, gap, seg.frame, seg.ts);
        }
        let role = if new.is_empty() {
            self.conv.role(conn)
        } else {
            self.conv
                .payload(conn, seg.src, at as u64, new, seg.frame, seg.ts)
        };
        if len > 0 {
            match role {
                RoleKind::Control => self.control_frame(seg, skip),
                RoleKind::Data => self.data_frame(seg, side, at, skip, n),
                _ => {}
            }
        }
        let mut close = seg.flags & TCP_RST != 0;
        if let Some(st) = self.streams.get_mut(&seg.stream) {
            if seg.flags & TCP_FIN != 0 {
                st.fin[side] = true;
                self.conv.fin(conn, seg.src);
            }
            close |= st.fin[0] && st.fin[1];
            if close && !st.closed {
                st.closed = true;
            } else {
                close = false;
            }
        }
        if close {
            self.declare_holes(seg.stream);
            self.conv.close(conn);
        }
        self.drain();
        let claim = self.claim_of(seg.stream);
        if claim == Claim::Rejected {
            // The host stops offering it: nothing more to keep.
            if let Some(st) = self.streams.remove(&seg.stream) {
                self.by_conn.remove(&st.conn);
            }
        }
        claim
    }

    /// What stream `stream` is now.
    fn claim_of(&self, stream: u32) -> Claim {
        let Some(st) = self.streams.get(&stream) else {
            return Claim::None;
        };
        if st.chan.is_some() {
            return Claim::Data;
        }
        if st.server.is_some() {
            return Claim::Control;
        }
        match self.conv.role(st.conn) {
            RoleKind::Control => Claim::Control,
            RoleKind::Data => Claim::Data,
            RoleKind::Pending if self.conv.judged_not_control(st.conn) => Claim::Rejected,
            RoleKind::Pending => Claim::None,
            RoleKind::Other => Claim::Rejected,
        }
    }

    /// The first pass is over: every connection ends (open transfers get outcome unknown, cut
    /// lines are reported at the frames that carried them).
    pub fn finish(&mut self) {
        self.actions.clear();
        if self.finished {
            return;
        }
        let mut open: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, st)| !st.closed && st.chan.is_some())
            .map(|(k, _)| *k)
            .collect();
        open.sort_unstable();
        for stream in open {
            self.declare_holes(stream);
        }
        self.conv.finish();
        self.drain();
        self.finish_listings();
        self.finished = true;
        // The layer is done with; what the views need is stored. Give its memory back.
        self.conv = Conversations::new(Config::default());
        self.by_uid = HashMap::new();
    }

    // ------------------------------------------------------------------ first pass: recording

    /// A control frame's view, made at its segment so that a frame whose line is not complete yet
    /// still shows which way it went.
    fn control_frame(&mut self, seg: &Segment<'_>, skip: usize) {
        let Some(st) = self.streams.get_mut(&seg.stream) else {
            return;
        };
        if st.server.is_none() {
            let client = self.conv.control_client(st.conn);
            st.server = client.map(|c| st.sides[1 - side_of(&st.sides, c)]);
            if let Some((uid, _)) = self.conv.conn_id(st.conn) {
                self.by_uid.insert(uid.to_string(), seg.stream);
            }
        }
        let to_server = st.server == Some(seg.dst);
        let first = !st.counted;
        st.counted = true;
        // The first piece of a frame sets where its fed bytes begin (a later piece, already
        // seen or not, does not move the items of the first).
        let seen = self.frames.contains_key(&seg.frame);
        let v = self.control_view(seg.frame, to_server);
        if !seen {
            v.to_server = to_server;
            v.skip = u32::try_from(skip).unwrap_or(u32::MAX);
        }
        if first {
            v.stats.push([Some(stats::SESSIONS.into()), None, None]);
        }
        if self.streams_rejected > 0 && !self.stream_cap_said {
            self.stream_cap_said = true;
            let name = crate::conversation::anomaly::STREAM_CAP;
            let mut item = generated(Field::Anomaly, ValueView::Str(name));
            if let Some(e) = crate::fields::Expert::for_anomaly_name(name) {
                let detail = format!(
                    "{} connections tracked at once: later ones are not dissected",
                    self.max_streams
                );
                item.set_expert(e, &detail);
            }
            self.control_view(seg.frame, to_server).items.push(item);
        }
    }

    fn data_frame(&mut self, seg: &Segment<'_>, side: usize, at: i64, skip: usize, n: usize) {
        let Some(conn) = self.streams.get(&seg.stream).map(|s| s.conn) else {
            return;
        };
        let Some(chan) = self.chan_of_data(seg.stream, conn) else {
            return;
        };
        let len = seg.data.len();
        self.record_data(seg.frame, seg.ts, chan, side, len, at, skip, n);
        self.read_listing(chan, seg, side, at, skip, n);
    }

    /// The listing entries whose lines this data segment completes, kept for its frame. The
    /// listing side's bytes only, in stream order.
    fn read_listing(
        &mut self,
        chan: u32,
        seg: &Segment<'_>,
        side: usize,
        at: i64,
        skip: usize,
        n: usize,
    ) {
        let Some(ch) = slot(&mut self.chans, chan) else {
            return;
        };
        if n == 0 || ch.file_side != Some(side as u8) {
            return;
        }
        let Some(l) = ch.listing.as_mut() else {
            return;
        };
        if l.next.is_some_and(|next| next != at) {
            return;
        }
        l.next = Some(at + n as i64);
        l.last_frame = seg.frame;
        let mut got = Entries::new(MAX_LISTING_ENTRIES.saturating_sub(self.listing_entries));
        l.parser.feed(&seg.data[skip..skip + n], &mut |line| {
            got.take(line, seg.data)
        });
        let note = got.capped && !std::mem::replace(&mut l.capped, true);
        self.keep_listing(seg.frame, got.items, got.count, note);
    }

    /// Store listing items for `frame`, with the `listing_cap` anomaly when a cap was just hit.
    fn keep_listing(&mut self, frame: u64, mut items: Vec<StoredItem>, entries: usize, note: bool) {
        self.listing_entries += entries;
        if note {
            let mut it = generated(
                Field::Anomaly,
                ValueView::Str(crate::conversation::anomaly::LISTING_CAP),
            );
            if let Some(e) =
                crate::fields::Expert::for_anomaly_name(crate::conversation::anomaly::LISTING_CAP)
            {
                it.set_expert(
                    e,
                    "the listing has more entries, or longer lines, than are kept: some are not shown",
                );
            }
            items.push(it);
        }
        if !items.is_empty() {
            self.listing_items.entry(frame).or_default().extend(items);
        }
    }

    /// The end of the data: each listing's last line without a line end is still an entry.
    fn finish_listings(&mut self) {
        for i in 0..self.chans.len() {
            let Some(l) = self.chans[i].as_mut().and_then(|c| c.listing.as_mut()) else {
                continue;
            };
            let frame = l.last_frame;
            let mut got = Entries::new(MAX_LISTING_ENTRIES.saturating_sub(self.listing_entries));
            l.parser.finish(&mut |line| got.take(line, &[]));
            // The last line may be the first one past a cap: said as on any other frame.
            let note = got.capped && !std::mem::replace(&mut l.capped, true);
            if frame > 0 {
                self.keep_listing(frame, got.items, got.count, note);
            }
        }
    }

    /// The bytes a data connection never got are capture gaps: told to the layer once the
    /// connection ends (a hole may still be filled by a late segment before).
    fn declare_holes(&mut self, stream: u32) {
        let Some(st) = self.streams.get(&stream).filter(|st| st.chan.is_some()) else {
            return;
        };
        let mut holes = Vec::new();
        for (side, cover) in st.cover.iter().enumerate() {
            if let Some(c) = cover {
                for (at, len) in c.holes() {
                    holes.push((st.sides[side], (at - c.start()) as u64, len));
                }
            }
        }
        let (conn, frame, ts) = (st.conn, st.last_frame, st.last_ts);
        for (from, offset, len) in holes {
            self.conv.gap(conn, from, offset, len, frame, ts);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record_data(
        &mut self,
        frame: u64,
        ts: f64,
        chan: u32,
        side: usize,
        len: usize,
        at: i64,
        skip: usize,
        new_len: usize,
    ) {
        // A frame offered again with nothing new keeps what its first offer recorded.
        if new_len == 0 && self.frames.contains_key(&frame) {
            return;
        }
        let Some(ch) = slot(&mut self.chans, chan) else {
            return;
        };
        let first = ch.first_frame == 0;
        if first {
            ch.first_frame = frame;
            ch.first_ts = ts;
        }
        ch.last_frame = frame;
        ch.last_ts = ts;
        let file_side = *ch
            .file_side
            .get_or_insert_with(|| match (ch.direction, ch.data_server) {
                (Some(DataDirection::Upload), Some(server)) => 1 - server,
                (Some(_), Some(server)) => server,
                _ => side as u8,
            });
        if file_side as usize == side {
            ch.bytes += new_len as u64;
        }
        self.frames.insert(
            frame,
            FrameRec::Data(DataFrame {
                chan,
                len: u32::try_from(len).unwrap_or(u32::MAX),
                side: side as u8,
                first,
                at,
                skip: u32::try_from(skip).unwrap_or(u32::MAX),
                new_len: u32::try_from(new_len).unwrap_or(u32::MAX),
            }),
        );
    }

    /// The channel of data connection `conn` (stream `stream`), made at its first frame.
    fn chan_of_data(&mut self, stream: u32, conn: ConnRef) -> Option<u32> {
        if let Some(c) = self.streams.get(&stream).and_then(|s| s.chan) {
            return Some(c);
        }
        let dc = self.conv.data_channel(conn)?;
        let (control, channel) = (dc.control, dc.channel);
        let mode = dc.expectation.map(|e| e.mode);
        let data_server = self
            .streams
            .get(&stream)
            .and_then(|st| crate::conversation::transfers::server_side(dc.expectation, st.sides));
        let transfer = dc.transfer.cloned();
        let idx = self.chan(control, channel);
        if self.chans[idx as usize].is_none() {
            // A connection for a prediction already given up: its facts start afresh.
            self.chans[idx as usize] = Some(Box::new(self.new_chan(control)));
        }
        let ch = slot(&mut self.chans, idx)?;
        if ch.mode.is_none() {
            ch.mode = mode;
        }
        if ch.data_server.is_none() {
            ch.data_server = data_server.map(|s| s as u8);
        }
        if let Some(t) = transfer {
            if ch.command.is_none() {
                Self::note_transfer(ch, &t, &mut self.next_object, self.export_listings);
            }
        }
        if let Some(st) = self.streams.get_mut(&stream) {
            st.chan = Some(idx);
        }
        slot(&mut self.chans, idx)?.stream.get_or_insert(stream);
        Some(idx)
    }

    /// The channel `channel` of control connection `control`, made when first named.
    fn chan(&mut self, control: ConnRef, channel: u32) -> u32 {
        if let Some(&i) = self.chan_keys.get(&(control, channel)) {
            return i;
        }
        let chan = self.new_chan(control);
        let i = self.chans.len() as u32;
        self.chans.push(Some(Box::new(chan)));
        self.chan_keys.insert((control, channel), i);
        i
    }

    /// A new channel of control connection `control`.
    fn new_chan(&mut self, control: ConnRef) -> Chan {
        let ctrl = self
            .by_conn
            .get(&control)
            .and_then(|s| self.streams.get_mut(s));
        let server = ctrl.as_ref().and_then(|s| s.server);
        let tls = ctrl.as_ref().is_some_and(|s| s.prot_p);
        let server = match (ctrl, server) {
            (Some(st), Some(addr)) => st
                .server_text
                .get_or_insert_with(|| addr.ip().to_string().into())
                .clone(),
            _ => Arc::from(""),
        };
        Chan {
            server,
            tls,
            ..Chan::default()
        }
    }

    /// What a transfer event tells its channel.
    fn note_transfer(ch: &mut Chan, t: &crate::Transfer, next_object: &mut u64, listings: bool) {
        if t.command.is_empty() {
            return;
        }
        ch.command = Some(if t.arg.is_empty() {
            t.command.clone()
        } else {
            format!("{} {}", t.command, t.arg)
        });
        if t.mode.is_some() {
            ch.mode = t.mode;
        }
        let asked = DataDirection::of_command(&t.command);
        if ch.direction.is_none() {
            ch.direction = asked;
        }
        ch.tls = t.data_tls;
        ch.text = asked == Some(DataDirection::Listing) || t.transfer_type.starts_with('A');
        if let (None, false, Some(expect)) = (
            &ch.listing,
            t.data_tls,
            Expect::for_command(t.command.as_bytes()),
        ) {
            ch.listing = Some(Box::new(Listing {
                parser: ListingParser::new(expect, ListingLimits::default()),
                next: None,
                last_frame: 0,
                capped: false,
            }));
        }
        ch.export_name = transfer_export_name(t, listings);
        if ch.export_name.is_some() && ch.object == 0 {
            *next_object += 1;
            ch.object = *next_object;
        }
    }

    /// The control view of `frame`, made when missing.
    fn control_view(&mut self, frame: u64, to_server: bool) -> &mut ControlFrame {
        let rec = self.frames.entry(frame).or_insert_with(|| {
            FrameRec::Control(Box::new(ControlFrame {
                to_server,
                ..ControlFrame::default()
            }))
        });
        match rec {
            FrameRec::Control(c) => c,
            // A frame is one segment of one connection; a control event naming a data frame
            // would be a bug upstream: the data view stays, what was meant for it goes nowhere.
            FrameRec::Data(_) => {
                self.scratch = ControlFrame::default();
                &mut self.scratch
            }
        }
    }

    /// Take what the layer made: event batches into views, outputs into figures and statistics,
    /// actions for the host.
    fn drain(&mut self) {
        for b in self.conv.take_batches() {
            self.batch(b);
        }
        let mut outputs = std::mem::take(&mut self.outputs);
        self.conv.take_outputs(&mut outputs);
        for o in outputs.drain(..) {
            match o {
                Output::Transfer(t) => self.transfer_done(&t),
                Output::Session(s) => self.session_done(&s),
                Output::Replay(r) => {
                    let Some(&stream) = self.by_conn.get(&r.conn) else {
                        continue;
                    };
                    let Some(chan) = self.chan_of_data(stream, r.conn) else {
                        continue;
                    };
                    let side = self
                        .streams
                        .get(&stream)
                        .map_or(0, |s| side_of(&s.sides, r.from));
                    let n = r.bytes.len();
                    // The position travelled through the layer as u64 bits (see `segment`).
                    let at = r.offset as i64;
                    self.record_data(r.frame, r.ts, chan, side, n, at, 0, n);
                }
                Output::Anomaly(note) => self.note(&note),
                Output::Exchange(_) => {}
            }
        }
        self.outputs = outputs;
        for a in self.conv.take_actions() {
            match a {
                Action::ExpectConnection {
                    control,
                    listener,
                    alt_listener,
                    port,
                    connector,
                    frame,
                    expectation,
                    ..
                } => {
                    let server = self
                        .by_conn
                        .get(&control)
                        .and_then(|s| self.streams.get(s))
                        .and_then(|s| s.server);
                    let Some(ip) = listener.or(server.map(|s| s.ip())) else {
                        continue;
                    };
                    let control_port = server.map_or(21, |s| s.port());
                    self.actions.push(HostAction::Expect {
                        listener: SocketAddr::new(ip, port),
                        alt_listener,
                        connector,
                        frame,
                        ports: expectation.host_ports(control_port),
                    });
                }
                Action::StartTls { conn, frame } => {
                    if let Some(&stream) = self.by_conn.get(&conn) {
                        self.actions.push(HostAction::StartTls { stream, frame });
                    }
                }
            }
        }
    }

    /// One batch of a control connection's events: items to the frames they name (this frame, an
    /// earlier one, a data channel), Info and ladder text, statistics, channel facts.
    fn batch(&mut self, b: EventBatch) {
        let events: Cow<'_, [Event]> = if self.hide_passwords {
            Cow::Owned(present::hide_passwords(&b.events).into_owned())
        } else {
            Cow::Borrowed(&b.events)
        };
        let ctrl_stream = self.by_conn.get(&b.control).copied();
        let mut fed_frame_labelled = false;
        for run in events.chunk_by(|x, y| x.frame == y.frame) {
            let frame = run[0].frame;
            let to_server = run[0].direction == Direction::ToServer;
            for ev in run {
                self.channel_facts(b.control, ctrl_stream, ev);
            }
            let mut summary = present::summary(run);
            if frame == b.frame && summary.is_empty() {
                summary.clone_from(&b.open_reply);
            }
            fed_frame_labelled |= frame == b.frame;
            let flow = flow_text(run);
            let ticks = stat_ticks(run);
            let view = self.control_view(frame, to_server);
            let base = if frame == b.frame {
                b.base + view.skip as usize
            } else {
                0
            };
            view.append(&summary, flow.as_deref());
            if !ticks.is_empty() {
                view.stats.extend(ticks);
                view.stats.shrink_to_fit();
            }
            for it in present::item_refs(run) {
                match it.target {
                    Target::Frame => {
                        let kept = StoredItem::keep(&it, base, true);
                        // A reply reported without its bytes (cut off by a gap or the end) lands on
                        // the frame where it began: it replaces the code shown there as its
                        // beginning (generated, with this code; a reply read whole has a span).
                        let late = kept.field() == Field::ResponseCode && kept.view().generated;
                        let view = self.control_view(frame, to_server);
                        if late {
                            let code = kept.view().value;
                            if let Some(i) = view.items.iter().position(|x| {
                                x.field() == Field::ResponseCode
                                    && x.view().generated
                                    && x.view().value == code
                            }) {
                                view.items.remove(i);
                            }
                        }
                        view.items.push(kept);
                    }
                    Target::Earlier(f) => {
                        let kept = StoredItem::keep(&it, 0, false);
                        let earlier = self.control_view(f, to_server);
                        earlier.items.push(kept);
                        earlier.items.shrink_to_fit();
                    }
                    Target::Channel(c) => {
                        let kept = StoredItem::keep(&it, 0, false);
                        let i = self.chan(b.control, c);
                        // Each channel fact has one value: a later one (a transfer updated with
                        // the server's file name) replaces it where it stands.
                        let Some(ch) = slot(&mut self.chans, i) else {
                            continue;
                        };
                        ch.revision = ch.revision.wrapping_add(1);
                        match ch.items.iter_mut().find(|x| x.field() == kept.field()) {
                            Some(old) => *old = kept,
                            None => ch.items.push(kept),
                        }
                    }
                }
            }
            // Kept for the whole capture file: no spare capacity.
            self.control_view(frame, to_server).items.shrink_to_fit();
        }
        if let Some(code) = b.begins_reply {
            // The frame where a multi-line reply begins shows its code, as the frame where it
            // ends does (with the pairing): a filter on the code finds both.
            self.control_view(b.frame, false).items.push(generated(
                Field::ResponseCode,
                ValueView::Uint(u64::from(code)),
            ));
        }
        if !fed_frame_labelled && !b.open_reply.is_empty() {
            // A feed with first or middle lines of a multi-line reply: labelled with them.
            self.control_view(b.frame, false)
                .append(&b.open_reply, None);
        }
    }

    /// An anomaly the layer found (a capture gap, a transfer whose bytes went the wrong way, the
    /// capture-wide prediction table full): an item on the control frame it names. A session
    /// anomaly the layer restates is not one: its event is shown with its frame's batch. One tied to no
    /// frame, or to a data frame (a data connection's gap: its file is named partial), shows none.
    fn note(&mut self, note: &crate::conversation::Note) {
        // A session event the batches carry is shown by its batch already.
        let Some(frame) = note.frame.filter(|_| !note.restated) else {
            return;
        };
        let Some(FrameRec::Control(view)) = self.frames.get_mut(&frame) else {
            return;
        };
        let mut item = generated(Field::Anomaly, ValueView::Str(note.name));
        if let Some(e) = crate::fields::Expert::for_anomaly_name(note.name) {
            item.set_expert(e, &note.detail);
        }
        view.items.push(item);
    }

    /// What an event tells the control connection's channels.
    fn channel_facts(&mut self, control: ConnRef, ctrl_stream: Option<u32>, ev: &Event) {
        match &ev.kind {
            EventKind::DataProtected => {
                if let Some(st) = ctrl_stream.and_then(|s| self.streams.get_mut(&s)) {
                    st.prot_p = true;
                }
            }
            EventKind::DataExpected(e) => {
                let i = self.chan(control, e.channel_id);
                if let Some(ch) = slot(&mut self.chans, i) {
                    ch.mode = Some(e.mode);
                }
            }
            EventKind::TransferStarted(t) | EventKind::TransferUpdated(t) if t.channel_id != 0 => {
                let i = self.chan(control, t.channel_id);
                let listings = self.export_listings;
                if let Some(ch) = slot(&mut self.chans, i) {
                    Self::note_transfer(ch, t, &mut self.next_object, listings);
                }
            }
            EventKind::TransferEnded(t) if t.channel_id != 0 && !t.command.is_empty() => {
                let i = self.chan(control, t.channel_id);
                let listings = self.export_listings;
                if let Some(ch) = slot(&mut self.chans, i) {
                    ch.export_name = transfer_export_name(t, listings);
                }
                // The final reply names the object as it ends; the layer may report the
                // transfer itself later (once its data connection closes), when a single pass
                // has shown this frame already.
                if let Some(FrameRec::Control(c)) = self.frames.get_mut(&ev.frame) {
                    c.renames = Some(i);
                }
            }
            EventKind::TransferEnded(t) if t.channel_id != 0 => {
                let i = self.chan(control, t.channel_id);
                if slot(&mut self.chans, i).is_some_and(|ch| ch.stream.is_none()) {
                    self.chans[i as usize] = None;
                }
            }
            _ => {}
        }
    }

    /// A transfer is over: its figures on its final reply, and links to its data from the frames
    /// that announced and used it.
    fn transfer_done(&mut self, t: &TransferDone) {
        let (Some(tr), Some(data)) = (&t.transfer, &t.data) else {
            return;
        };
        let Some(chan) = self
            .by_conn
            .get(&data.conn)
            .and_then(|s| self.streams.get(s))
            .and_then(|s| s.chan)
        else {
            return;
        };
        let Some(ch) = slot(&mut self.chans, chan) else {
            return;
        };
        if t.direction.is_some() {
            ch.direction = t.direction;
        }
        // Whether the capture holds the whole transfer, as the CLI's records say it, on every
        // frame of its data connection.
        let mut complete = generated(Field::DataComplete, ValueView::Bool(t.complete));
        if !t.complete {
            let mut text = format!("partial: {}", t.partial_reasons.join(", "));
            if self.tcp_hides_reordered
                && t.partial_reasons
                    .contains(&crate::conversation::transfers::PARTIAL_GAPS)
            {
                text.push_str(
                    " (TCP hands no out-of-order segment to ftplens while \"Do not call \
                     subdissectors for error packets\", tcp.no_subdissector_on_error, is on: the \
                     capture may hold the bytes)",
                );
            }
            complete.set_expert(crate::fields::Expert::DataPartial, &text);
        }
        ch.revision = ch.revision.wrapping_add(1);
        ch.items.push(complete);
        for reason in &t.partial_reasons {
            ch.items
                .push(generated(Field::DataPartialReason, ValueView::Str(reason)));
        }
        if ch.first_frame == 0 {
            return;
        }
        let (bytes, first, last) = (ch.bytes, ch.first_frame, ch.last_frame);
        let duration = (ch.last_ts - ch.first_ts).max(0.0);
        if let Some(ctrl) = self
            .by_uid
            .get(&t.uid)
            .and_then(|s| self.streams.get_mut(s))
        {
            ctrl.transfer_bytes += bytes;
        }
        let end = if tr.end_frame != 0 {
            Some(tr.end_frame)
        } else {
            t.exchange
                .as_ref()
                .and_then(|e| e.reply.as_ref())
                .map(|r| r.frame)
        };
        if let Some(end) = end {
            let mut figures = vec![
                generated(Field::TransferBytes, ValueView::Uint(bytes)),
                generated(Field::TransferDuration, ValueView::Time(duration)),
            ];
            if duration > 0.0 {
                let rate = (bytes as f64 / duration).round() as u64;
                figures.push(generated(Field::TransferThroughput, ValueView::Uint(rate)));
            }
            figures.push(generated(
                Field::TransferFirstFrame,
                ValueView::Frame(first),
            ));
            figures.push(generated(Field::TransferLastFrame, ValueView::Frame(last)));
            self.control_view(end, false).items.extend(figures);
        }
        let mut linked = Vec::with_capacity(2);
        for f in [tr.setup_frame, tr.command_frame] {
            if f != 0 && !linked.contains(&f) {
                linked.push(f);
                let link = generated(Field::TransferDataFrame, ValueView::Frame(first));
                self.control_view(f, true).items.push(link);
            }
        }
    }

    /// A control connection ended: its facts as statistics at its last frame.
    fn session_done(&mut self, s: &SessionSummary) {
        let Some(stream) = self.by_uid.remove(&s.uid) else {
            return;
        };
        let Some(st) = self.streams.get(&stream) else {
            return;
        };
        let (frame, bytes) = (st.last_frame, st.transfer_bytes);
        if frame == 0 {
            return;
        }
        let node = format!("{} -> {}", s.id.orig, s.id.resp);
        let login = match s.login {
            LoginSummary::None => "none",
            LoginSummary::Attempt => "attempt",
            LoginSummary::Success => "success",
            LoginSummary::Failure => "failure",
        };
        let facts = [
            format!("user: {}", s.user.as_deref().unwrap_or("(none)")),
            format!("login: {login}"),
            format!("duration: {:.3} s", (s.end_ts - s.ts).max(0.0)),
            format!("transfers: {}", s.transfers),
            format!("bytes: {bytes}"),
            format!("failed logins: {}", s.failed_logins),
            format!("TLS: {}", s.tls.as_deref().unwrap_or("no")),
        ];
        let view = self.control_view(frame, false);
        for fact in facts {
            view.stats.push([
                Some(stats::SESSION_DETAILS.into()),
                Some(node.as_str().into()),
                Some(fact.into()),
            ]);
        }
    }

    // ------------------------------------------------------------------ any pass: views

    /// Whether frame `frame` is a data frame of a protected (TLS) data connection: the host hands
    /// its payload to TLS even when it draws nothing.
    pub fn is_tls_data(&self, frame: u64) -> bool {
        match self.frames.get(&frame) {
            Some(FrameRec::Data(d)) => self
                .chans
                .get(d.chan as usize)
                .and_then(|c| c.as_deref())
                .is_some_and(|c| c.tls),
            _ => false,
        }
    }

    /// What frame `frame` shows (the first pass sees what is known so far).
    pub fn view(&self, frame: u64) -> Option<View<'_>> {
        self.view_unless_kept(frame, |_, _| false)
    }

    /// [`Dissector::view`] for a host that keeps what it made of channels' items: when
    /// `kept(channel, revision)` says it has the frame's, its `items` are left empty.
    pub fn view_unless_kept(
        &self,
        frame: u64,
        kept: impl Fn(u32, u32) -> bool,
    ) -> Option<View<'_>> {
        match self.frames.get(&frame)? {
            FrameRec::Control(c) => Some(View {
                kind: ViewKind::Control,
                info: Text(TextKind::Kept(&c.info)),
                title: Text(TextKind::Kept(if c.to_server {
                    ", to server"
                } else {
                    ", to client"
                })),
                items: c.items.iter().map(StoredItem::view).collect(),
                frame_items: Vec::new(),
                channel: None,
                revision: 0,
                stats: c
                    .stats
                    .iter()
                    .map(|s| [s[0].as_deref(), s[1].as_deref(), s[2].as_deref()])
                    .collect(),
                flow: c.flow().map(Cow::Borrowed),
                export: c.renames.and_then(|chan| self.rename_piece(chan)),
                tls: false,
                text: false,
            }),
            FrameRec::Data(d) => {
                let ch = self.chans.get(d.chan as usize)?.as_deref()?;
                // Every frame of the connection shows the transfer's facts, but its expert info (a
                // partial transfer) is raised once, on the connection's first frame: Expert Info
                // then lists each partial transfer once, not once per packet. That frame's list
                // differs from the others', so it is not offered for keeping (`channel` None).
                Some(View {
                    kind: ViewKind::Data,
                    info: Text(TextKind::DataInfo(d.len, ch)),
                    title: Text(TextKind::DataTitle(d.len)),
                    items: if !d.first && kept(d.chan, ch.revision) {
                        Vec::new()
                    } else {
                        ch.items
                            .iter()
                            .map(|it| channel_item(it, d.first))
                            .collect()
                    },
                    frame_items: self
                        .listing_items
                        .get(&frame)
                        .map_or_else(Vec::new, |v| v.iter().map(StoredItem::view).collect()),
                    channel: (!d.first).then_some(d.chan),
                    revision: ch.revision,
                    stats: Vec::new(),
                    flow: d.first.then(|| {
                        let way = ch.direction.map_or("", |w| w.name());
                        Cow::Owned(if way.is_empty() {
                            format!("data: {} bytes", ch.bytes)
                        } else {
                            format!("data: {} bytes, {way}", ch.bytes)
                        })
                    }),
                    export: export_piece(d, ch, self.file_cover(ch)),
                    tls: ch.tls,
                    text: ch.text,
                })
            }
        }
    }
}

impl Dissector {
    /// A final reply's piece for the channel it ends: the object's final name, no bytes.
    fn rename_piece(&self, chan: u32) -> Option<ExportPiece<'_>> {
        let ch = self.chans.get(chan as usize)?.as_deref()?;
        if ch.object == 0 {
            return None;
        }
        Some(ExportPiece {
            object: ch.object,
            filename: export_name(ch, self.file_cover(ch))?,
            server: &ch.server,
            offset: 0,
            skip: 0,
            len: 0,
            tls: ch.tls,
        })
    }

    /// What was seen of the side of a channel's data connection whose bytes make its file.
    fn file_cover(&self, ch: &Chan) -> Option<&Cover> {
        let st = self.streams.get(&ch.stream?)?;
        st.cover.get(usize::from(ch.file_side?))?.as_ref()
    }
}

/// `to` joined with `part` by `sep` (nothing for an empty part).
/// The name a transfer's bytes are exported under: a file's ([`crate::Transfer::export_name`]), or,
/// when asked, a listing's ([`crate::Transfer::listing_name`], else named after its command frame).
fn transfer_export_name(t: &crate::Transfer, listings: bool) -> Option<String> {
    t.export_name().or_else(|| {
        let listing = DataDirection::of_command(&t.command) == Some(DataDirection::Listing);
        (listings && listing).then(|| {
            t.listing_name()
                .unwrap_or_else(|| format!("listing-frame{}.listing", t.command_frame))
        })
    })
}

fn append_text(to: &mut String, part: &str, sep: &str) {
    if part.is_empty() {
        return;
    }
    if !to.is_empty() {
        to.push_str(sep);
    }
    to.push_str(part);
}

/// The ladder text of a frame's events: its commands and replies.
fn flow_text(run: &[Event]) -> Option<String> {
    let mut out = String::new();
    for ev in run {
        let part = match &ev.kind {
            EventKind::Command {
                verb,
                arg: Some(arg),
                ..
            } => format!("{verb} {arg}"),
            EventKind::Command { verb, .. } => verb.clone(),
            EventKind::Reply(r) => {
                format!(
                    "{} {}",
                    r.code.0,
                    r.lines.first().map_or("", String::as_str)
                )
            }
            _ => continue,
        };
        append_text(&mut out, part.trim_end(), " | ");
    }
    (!out.is_empty()).then_some(out)
}

/// Statistics ticks of a frame's events: ended logins and started transfers.
fn stat_ticks(run: &[Event]) -> Vec<[Option<Box<str>>; 3]> {
    let mut out = Vec::new();
    for ev in run {
        match &ev.kind {
            EventKind::Login(l) if l.state != LoginState::Attempt => {
                let user = if l.user.is_empty() { "(none)" } else { &l.user };
                let outcome = if l.state == LoginState::Success {
                    "success"
                } else {
                    "failure"
                };
                out.push([
                    Some(stats::LOGINS.into()),
                    Some(user.into()),
                    Some(outcome.into()),
                ]);
            }
            EventKind::TransferStarted(t) => {
                let path = [t.path.as_str(), t.arg.as_str(), "(none)"]
                    .into_iter()
                    .find(|p| !p.is_empty())
                    .unwrap_or("(none)");
                out.push([
                    Some(stats::TRANSFERS.into()),
                    Some(t.command.as_str().into()),
                    Some(path.into()),
                ]);
            }
            _ => {}
        }
    }
    out
}

/// A channel's object name: ".partial" when the file side has a hole.
fn export_name<'a>(ch: &'a Chan, cover: Option<&Cover>) -> Option<Cow<'a, str>> {
    let name = ch.export_name.as_deref()?;
    let hole = cover.is_some_and(Cover::has_hole);
    Some(if hole && !name.ends_with(".partial") {
        Cow::Owned(format!("{name}.partial"))
    } else {
        Cow::Borrowed(name)
    })
}

/// A channel item as a data frame shows it: with its expert info on the connection's first frame
/// only (see `view_unless_kept`).
fn channel_item(it: &StoredItem, first: bool) -> ItemView<'_> {
    let mut v = it.view();
    if !first {
        v.expert = None;
    }
    v
}

/// A data frame's export piece: only the file side's new bytes of a transfer that has a file, at
/// their place from the first byte seen.
fn export_piece<'a>(d: &DataFrame, ch: &'a Chan, cover: Option<&Cover>) -> Option<ExportPiece<'a>> {
    if ch.object == 0 || ch.file_side != Some(d.side) {
        return None;
    }
    let filename = export_name(ch, cover)?;
    let start = cover.map_or(0, Cover::start);
    Some(ExportPiece {
        object: ch.object,
        filename,
        server: &ch.server,
        offset: (d.at - start).max(0) as u64,
        skip: d.skip,
        len: d.new_len,
        tls: ch.tls,
    })
}
