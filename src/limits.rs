//! Every bound a hostile peer could otherwise push on. Each has a default, and each raises its own
//! anomaly when hit (see [`crate::Anomaly`]).

/// Caps that keep one session's memory bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Bytes in one line before it is cut and the rest skipped to the next LF (`line_too_long`).
    pub max_line: usize,
    /// Lines kept in one multi-line reply (`reply_too_long`).
    pub max_reply_lines: usize,
    /// Commands waiting for a reply (`too_many_pending`).
    pub max_pending_commands: usize,
    /// Open data-channel predictions in one session (`expectations_full`).
    pub max_expectations: usize,
    /// Seconds an unused prediction lives.
    pub expectation_timeout: f64,
    /// Failed logins that raise `repeated_login_failures`.
    pub failed_login_alarm: u32,
}

impl Limits {
    pub const DEFAULT_MAX_LINE: usize = 8192;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: Self::DEFAULT_MAX_LINE,
            max_reply_lines: 256,
            max_pending_commands: 64,
            max_expectations: 16,
            expectation_timeout: 300.0,
            failed_login_alarm: 3,
        }
    }
}
