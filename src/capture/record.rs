//! What the analyser reports: the conversation layer's records (serde-serialized JSON lines), and
//! the MIME sniffing the analyser adds from a transfer's first bytes (shared with the C ABI).

pub use crate::conversation::ConnId;
pub use crate::conversation::anomaly;
pub use crate::conversation::records::*;

pub use crate::mime::sniff_mime;
