//! Every bound a hostile peer could otherwise push on. Each has a default, and each raises its own
//! anomaly when hit (see [`crate::Anomaly`]).
//!
//! The `limits!` table below declares each limit once: the field of [`Limits`], its default, its
//! maximum, its words for users and the anomaly it raises. [`LIMITS`] names them for users: the
//! CLI's `--limit NAME=N` and its help, the Wireshark plugin's and the Lua fallback's preferences and
//! the C ABI's `ftplens_limit_get` all read this one table (and `build.rs` makes the build fail when
//! the C header's `ftplens_limits` fields are not the table's names in its order).

use crate::Anomaly;
use std::fmt;

/// A limit's field as the table sets and reads it: whole numbers, from `1..=max`.
trait LimitValue: Copy {
    fn from_u64(v: u64) -> Self;
    fn to_u64(self) -> u64;
}

impl LimitValue for usize {
    fn from_u64(v: u64) -> Self {
        // Every maximum is at most u32::MAX (a test checks), so this never cuts.
        v as usize
    }
    fn to_u64(self) -> u64 {
        self as u64
    }
}

impl LimitValue for u32 {
    fn from_u64(v: u64) -> Self {
        v as u32
    }
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
}

/// Seconds: set in whole seconds, read back truncated to whole seconds.
impl LimitValue for f64 {
    fn from_u64(v: u64) -> Self {
        v as f64
    }
    fn to_u64(self) -> u64 {
        self as u64
    }
}

/// Declares every limit once: the field of [`Limits`] (with its doc), then its default, maximum,
/// anomaly, title and description in [`LIMITS`]. The order is the limits' index everywhere.
macro_rules! limits {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ty = $default:expr, max $max:expr, anomaly $anomaly:expr,
            title $title:literal, $description:literal;
    )*) => {
        /// Caps that keep one session's memory bounded.
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct Limits {
            $( $(#[$doc])* pub $field: $ty, )*
        }

        impl Default for Limits {
            fn default() -> Self {
                Limits { $( $field: LimitValue::from_u64($default), )* }
            }
        }

        /// Reads limit `index` of [`LIMITS`]; the same order.
        const GETTERS: &[fn(&Limits) -> u64] = &[$( |l| l.$field.to_u64(), )*];
        /// Sets limit `index` of [`LIMITS`] (the value already in range); the same order.
        const SETTERS: &[fn(&mut Limits, u64)] =
            &[$( |l, v| l.$field = LimitValue::from_u64(v), )*];

        /// Every limit, in the order of [`Limits::get`] and [`Limits::set`].
        pub static LIMITS: &[LimitInfo] = &[$(
            LimitInfo {
                name: stringify!($field),
                title: $title,
                description: $description,
                default: $default,
                max: $max,
                anomaly: $anomaly,
            },
        )*];
    };
}

limits! {
    /// Bytes in one line before it is cut and the rest skipped to the next LF (`line_too_long`).
    max_line: usize = Limits::DEFAULT_MAX_LINE as u64, max 1 << 24, anomaly Some(Anomaly::LineTooLong),
        title "Longest line kept (bytes)",
        "Bytes in one command or reply line; a longer line is cut and the rest skipped to its end";
    /// Lines kept in one multi-line reply (`reply_too_long`).
    max_reply_lines: usize = 256, max 1 << 20, anomaly Some(Anomaly::ReplyTooLong),
        title "Lines kept of a multi-line reply",
        "Lines kept of one multi-line reply";
    /// Commands waiting for a reply (`too_many_pending`).
    max_pending_commands: usize = 64, max 1 << 20, anomaly Some(Anomaly::TooManyPending),
        title "Commands awaiting a reply",
        "Commands waiting for their replies; beyond it the oldest is dropped";
    /// Open data-channel predictions in one session (`expectations_full`).
    max_expectations: usize = 16, max 1 << 16, anomaly Some(Anomaly::ExpectationsFull),
        title "Open data-channel predictions per session",
        "Open data-channel predictions of one session (a new PORT or passive reply already closes the unused one, so this is a backstop)";
    /// Seconds an unused prediction lives.
    expectation_timeout: f64 = 300, max u32::MAX as u64, anomaly None,
        title "Unused data-channel prediction lifetime (seconds)",
        "Seconds of capture time an unused data-channel prediction stays open";
    /// Failed logins that raise `repeated_login_failures`.
    failed_login_alarm: u32 = 3, max u32::MAX as u64, anomaly Some(Anomaly::RepeatedLoginFailures),
        title "Failed logins before the alarm",
        "Failed logins in one session from which each failure raises an alarm";
}

impl Limits {
    pub const DEFAULT_MAX_LINE: usize = 8192;

    /// The value of limit `index` of [`LIMITS`] (whole seconds for the timeout).
    pub fn get(&self, index: usize) -> Option<u64> {
        GETTERS.get(index).map(|get| get(self))
    }

    /// Set limit `index` of [`LIMITS`] to `value`, which must lie in `1..=`[`LimitInfo::max`].
    pub fn set(&mut self, index: usize, value: u64) -> Result<(), LimitError> {
        let info = LIMITS.get(index).ok_or(LimitError::Unknown)?;
        if value == 0 || value > info.max {
            return Err(LimitError::OutOfRange(info));
        }
        SETTERS[index](self, value);
        Ok(())
    }

    /// Set limit `index` from a setting that reaches the core unchecked (a C caller's
    /// `ftplens_limits`, a Wireshark preference): 0 keeps the current value, and a value above the
    /// limit's maximum is taken as the maximum. An unknown index changes nothing.
    pub fn set_clamped(&mut self, index: usize, value: u64) {
        if let Some(info) = LIMITS.get(index) {
            if value != 0 {
                // In range after the cut, so set cannot fail.
                let _ = self.set(index, value.min(info.max));
            }
        }
    }

    /// Apply `NAME=VALUE`, as a user writes it (`max_line=65536`).
    pub fn set_by_name(&mut self, assignment: &str) -> Result<(), LimitError> {
        let (name, value) = assignment.split_once('=').ok_or(LimitError::Syntax)?;
        let index = LIMITS
            .iter()
            .position(|l| l.name == name.trim())
            .ok_or(LimitError::Unknown)?;
        let value = value
            .trim()
            .parse::<u64>()
            .map_err(|_| LimitError::OutOfRange(&LIMITS[index]))?;
        self.set(index, value)
    }
}

/// One limit as users see it.
#[derive(Debug, PartialEq, Eq)]
pub struct LimitInfo {
    /// The name users type (`max_line`); also the Wireshark preference's name.
    pub name: &'static str,
    /// What a preference dialog shows as the setting's label, in words ("Longest line kept
    /// (bytes)"), with its unit in brackets.
    pub title: &'static str,
    /// One line for help texts and preference dialogs.
    pub description: &'static str,
    pub default: u64,
    /// The largest value accepted.
    pub max: u64,
    /// The anomaly raised when the limit is hit (`None` when hitting it is not an anomaly).
    pub anomaly: Option<Anomaly>,
}

impl LimitInfo {
    /// The name of the anomaly raised when the limit is hit; empty when none.
    pub fn anomaly_name(&self) -> &'static str {
        self.anomaly.map_or("", Anomaly::name)
    }

    /// The text of a preference dialog or help entry: the description, the default and maximum, and
    /// what hitting the limit raises. Static: made once for the whole table.
    pub fn help(&self) -> &'static str {
        static HELP: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let help = HELP.get_or_init(|| {
            LIMITS
                .iter()
                .map(|l| {
                    let mut h = format!(
                        "{} (default {}, at most {})",
                        l.description, l.default, l.max
                    );
                    if let Some(a) = l.anomaly {
                        let expert = crate::fields::EXPERTS[a.expert() as usize].abbrev;
                        h += &format!("; when hit: expert info {expert}");
                    }
                    &*Box::leak(h.into_boxed_str())
                })
                .collect()
        });
        LIMITS
            .iter()
            .position(|l| l.name == self.name)
            .map_or(self.description, |i| help[i])
    }
}

/// Why a limit could not be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitError {
    /// Not `NAME=VALUE`.
    Syntax,
    /// No limit has that name or index.
    Unknown,
    /// Zero, too large, or not a number.
    OutOfRange(&'static LimitInfo),
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = || LIMITS.iter().map(|l| l.name).collect::<Vec<_>>().join(", ");
        match self {
            LimitError::Syntax => {
                write!(f, "expected NAME=VALUE, where NAME is one of {}", names())
            }
            LimitError::Unknown => write!(f, "unknown limit; the limits are {}", names()),
            LimitError::OutOfRange(l) => {
                write!(f, "{} takes a whole number from 1 to {}", l.name, l.max)
            }
        }
    }
}

impl std::error::Error for LimitError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_defaults_are_the_defaults() {
        let d = Limits::default();
        assert_eq!(LIMITS.len(), 6);
        for (i, l) in LIMITS.iter().enumerate() {
            assert_eq!(d.get(i), Some(l.default), "{}", l.name);
            assert!(
                l.max <= u64::from(u32::MAX),
                "{}: the C ABI carries u32",
                l.name
            );
        }
        assert_eq!(d.get(LIMITS.len()), None);
    }

    #[test]
    fn every_limit_can_be_set_and_read_back() {
        for (i, l) in LIMITS.iter().enumerate() {
            let mut x = Limits::default();
            x.set(i, 7).unwrap();
            assert_eq!(x.get(i), Some(7), "{}", l.name);
            let mut y = Limits::default();
            y.set_by_name(&format!("{} = 9", l.name)).unwrap();
            assert_eq!(y.get(i), Some(9), "{}", l.name);
            assert_eq!(y.set(i, 0), Err(LimitError::OutOfRange(l)));
            assert_eq!(y.set(i, l.max + 1), Err(LimitError::OutOfRange(l)));
        }
    }

    #[test]
    fn set_clamped_keeps_zero_and_cuts_at_the_maximum() {
        let mut l = Limits::default();
        l.set_clamped(0, 0);
        assert_eq!(l.max_line, Limits::DEFAULT_MAX_LINE);
        l.set_clamped(0, u64::MAX);
        assert_eq!(l.max_line as u64, LIMITS[0].max);
        l.set_clamped(0, 100);
        assert_eq!(l.max_line, 100);
        l.set_clamped(LIMITS.len(), 5);
        assert_eq!(l.get(0), Some(100));
    }

    #[test]
    fn help_says_default_maximum_and_anomaly() {
        assert_eq!(
            LIMITS[5].help(),
            "Failed logins in one session from which each failure raises an alarm (default 3, at \
             most 4294967295); when hit: expert info ftplens.repeated_login_failures"
        );
        assert!(
            LIMITS[4]
                .help()
                .ends_with("(default 300, at most 4294967295)")
        );
    }

    #[test]
    fn bad_assignments_say_what_is_wrong() {
        let mut l = Limits::default();
        let e = l.set_by_name("max_lines=5").unwrap_err();
        assert_eq!(e, LimitError::Unknown);
        assert!(e.to_string().contains("max_line, max_reply_lines"));
        assert_eq!(l.set_by_name("max_line"), Err(LimitError::Syntax));
        assert_eq!(
            l.set_by_name("max_line=lots").unwrap_err().to_string(),
            "max_line takes a whole number from 1 to 16777216"
        );
        assert_eq!(l, Limits::default(), "nothing changed");
    }
}
