//! Modification times as the listing forms give them, written out as ISO 8601.
//!
//! The forms differ in precision and zone: MLSD's `modify` is UTC to the second or better (RFC 3659
//! 2.3); `ls -l` gives the server's local time to the minute without a year for recent files, and
//! a day with a year otherwise (POSIX `ls`); DOS gives local time to the minute; EPLF gives Unix
//! seconds (UTC). [`Time`] keeps exactly what was given, and [`Time::iso`] writes no more.

use std::fmt;

/// A point in time, as precise as the listing gave it. Every field was range-checked on parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// `None` for `ls -l`'s recent form (`Dec  7 00:33`), which has no year.
    pub year: Option<u16>,
    pub month: u8,
    pub day: u8,
    /// `None` when only the day is known (`ls -l`'s older form, `Nov 30  2021`).
    pub hour: Option<u8>,
    pub minute: Option<u8>,
    pub second: Option<u8>,
    /// Milliseconds: the first three digits of an RFC 3659 fraction.
    pub millis: Option<u16>,
    /// True when the form says the time is UTC (MLSD, EPLF); otherwise it is the server's local time.
    pub utc: bool,
}

impl Time {
    /// A day and optional time, checked: month 1-12, day 1-31, hour 0-23, minute 0-59, second
    /// 0-60 (a leap second).
    pub fn new(
        year: Option<u16>,
        month: u8,
        day: u8,
        hms: Option<(u8, u8, Option<u8>)>,
    ) -> Option<Time> {
        let ok_day = (1..=12).contains(&month) && (1..=31).contains(&day);
        let ok_time = hms.is_none_or(|(h, m, s)| h < 24 && m < 60 && s.is_none_or(|s| s <= 60));
        (ok_day && ok_time).then_some(Time {
            year,
            month,
            day,
            hour: hms.map(|t| t.0),
            minute: hms.map(|t| t.1),
            second: hms.and_then(|t| t.2),
            millis: None,
            utc: false,
        })
    }

    /// Unix seconds (UTC) to a civil date and time, for EPLF's `m` fact. Days to year-month-day by
    /// Howard Hinnant's `civil_from_days` (proleptic Gregorian), in checked arithmetic; `None`
    /// outside years 0..=65535.
    pub fn from_unix(secs: i64) -> Option<Time> {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = era
            .checked_mul(400)?
            .checked_add(yoe)?
            .checked_add(i64::from(month <= 2))?;
        let mut t = Time::new(
            Some(u16::try_from(year).ok()?),
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
            Some((
                u8::try_from(rem / 3600).ok()?,
                u8::try_from(rem % 3600 / 60).ok()?,
                Some(u8::try_from(rem % 60).ok()?),
            )),
        )?;
        t.utc = true;
        Some(t)
    }

    /// ISO 8601 text with exactly the precision known: `2019-03-14T15:09:26Z`,
    /// `2012-07-26T13:30` (local), `2021-11-30` (a day), or `--12-07T00:33` for a day without a
    /// year (the year-less form vCard uses, RFC 6350 4.3.1).
    pub fn iso(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}-{:02}-{:02}", self.month, self.day)?,
            None => write!(f, "--{:02}-{:02}", self.month, self.day)?,
        }
        if let (Some(h), Some(m)) = (self.hour, self.minute) {
            write!(f, "T{h:02}:{m:02}")?;
            if let Some(s) = self.second {
                write!(f, ":{s:02}")?;
                if let Some(ms) = self.millis {
                    write!(f, ".{ms:03}")?;
                }
            }
            if self.utc {
                f.write_str("Z")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_to_civil() {
        // `date -u -d @825718503` = Fri Mar  1 22:15:03 UTC 1996 (EPLF's own example).
        assert_eq!(
            Time::from_unix(825_718_503).unwrap().iso(),
            "1996-03-01T22:15:03Z"
        );
        assert_eq!(Time::from_unix(0).unwrap().iso(), "1970-01-01T00:00:00Z");
        // 2020-02-29 23:59:00 UTC: a leap day.
        assert_eq!(
            Time::from_unix(1_583_020_740).unwrap().iso(),
            "2020-02-29T23:59:00Z"
        );
        assert_eq!(Time::from_unix(i64::MAX), None);
        assert_eq!(Time::from_unix(i64::MIN), None);
        assert_eq!(Time::from_unix(-1).unwrap().iso(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn ranges_are_checked() {
        assert!(Time::new(Some(2020), 13, 1, None).is_none());
        assert!(Time::new(Some(2020), 1, 0, None).is_none());
        assert!(Time::new(None, 1, 1, Some((24, 0, None))).is_none());
        assert!(Time::new(None, 1, 1, Some((23, 60, None))).is_none());
        assert_eq!(
            Time::new(None, 12, 7, Some((0, 33, None))).unwrap().iso(),
            "--12-07T00:33"
        );
        assert_eq!(
            Time::new(Some(2021), 11, 30, None).unwrap().iso(),
            "2021-11-30"
        );
    }
}
