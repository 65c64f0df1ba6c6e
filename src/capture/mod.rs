//! Reading captures for the `ftplens` command: streaming pcap/pcapng input, link and IP decoding,
//! TCP reassembly, and the analyser that drives [`crate::Session`] over every FTP control
//! connection and matches data connections to it with [`crate::predict`].
//!
//! Only built with the `cli` feature (on by default).

pub mod analyze;
pub mod decode;
pub mod extract;
pub mod hash;
pub mod record;
pub mod source;
pub mod tcp;
pub mod tls;

pub use analyze::{Analyzer, Options, Sink, Stats};
pub use record::Record;
pub use source::{CaptureReader, Frame, OpenError, ReadSummary, StopReason};
