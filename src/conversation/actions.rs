//! What the layer asks a host to do so that later packets reach it: the Wireshark glue turns these
//! into conversations and dissector hand-overs, the Lua glue into port claims. The CLI, which sees
//! every packet anyway, ignores them.

use crate::predict::Expectation;
use std::net::IpAddr;

/// One request to the host, in the order the layer made them.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Expect a connection from `connector` (any port; any host when `None`) to `listener:port`
    /// (and to `alt_listener:port` when set: NAT), to be dissected as data channel `channel` of
    /// the control connection `control`. Made when a PORT-family command or a passive reply is seen.
    ExpectConnection {
        control: super::ConnRef,
        channel: u32,
        listener: Option<IpAddr>,
        alt_listener: Option<IpAddr>,
        port: u16,
        connector: Option<IpAddr>,
        frame: u64,
        expectation: Expectation,
    },
    /// The control connection `conn` carries TLS from the frame after `frame` (AUTH TLS answered
    /// by 234): hand it to the TLS dissector.
    StartTls { conn: super::ConnRef, frame: u64 },
}
