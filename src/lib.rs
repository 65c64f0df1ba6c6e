//! # ftplens: FTP traffic analysis
//!
//! The protocol knowledge of ftplens lives in this crate and nowhere else. The Wireshark plugin, the Lua
//! fallback, the Python package and the CLI are presenters over it.
//!
//! ```text
//! TCP payload bytes
//!   -> Session::feed(direction, bytes, frame, ts)   line reassembly, Telnet IAC strip, length caps
//!   -> parse::{command, reply, address}             nom, zero-copy, RFC cited per rule
//!   -> session state                                pairing, login, cwd, TYPE, REST, SIZE, predictions
//!   -> events                                       Command, Reply, Login, DataExpected, Transfer*, Tls*, Anomaly
//!   -> present::items                               flat dissector items for Wireshark (C and Lua)
//! ```
//!
//! Above the sessions, [`conversation::Conversations`] owns what every presenter needs across
//! connections: which connection is control or data, exchanges, transfers bound to their data
//! connections (late binding included), per-frame storage, actions for a host, and the CLI's
//! records (see `docs/architecture.md`).
//!
//! Specifications: RFC 959 (FTP), RFC 1123 4.1 (host requirements for FTP), RFC 1639 (LPRT/LPSV),
//! RFC 2228 (security extensions), RFC 2389 (FEAT/OPTS), RFC 2428 (EPRT/EPSV), RFC 3659 (SIZE, MDTM,
//! REST STREAM, MLST/MLSD), RFC 7151 (HOST), RFC 854 (Telnet, for IAC).
//!
//! ```
//! use ftplens::{Direction, Session, EventKind};
//! let mut s = Session::default();
//! s.feed(Direction::ToClient, b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n", 7, 0.0);
//! let port = s.events().iter().find_map(|e| match &e.kind {
//!     EventKind::DataExpected(x) => Some(x.port),
//!     _ => None,
//! });
//! assert_eq!(port, Some(26758));
//! ```
#![deny(unsafe_code)]

#[cfg(feature = "cli")]
pub mod capture;
pub mod conversation;
pub mod dissect;
pub mod ffi;
pub mod fields;
pub mod heuristic;
pub mod limits;
pub mod mime;
pub mod parse;
pub mod predict;
pub mod present;
pub mod session;

pub use limits::Limits;
pub use predict::{DataMode, Expectation};
pub use session::{Anomaly, Direction, Event, EventKind, LoginState, Outcome, Session, Transfer};
