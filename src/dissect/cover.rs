//! Which bytes of one direction of a TCP connection have been seen, by position (sequence numbers
//! unwrapped to 64 bits, 0 at the first byte seen). Hosts hand segments over in capture order, which
//! is not always stream order: a segment may arrive after a later one (out of order) or twice
//! (retransmission). A data connection's file is put together from these positions, so a late
//! segment still lands at its place, and only bytes never seen leave a hole.

/// Covered byte ranges kept per direction; past it the oldest hole is given up (it stays a hole).
const MAX_SPANS: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Cover {
    /// A sequence number and its position, to unwrap the next ones: the end of the furthest bytes.
    seq: u32,
    pos: i64,
    /// Covered ranges `[start, end)`, sorted, neither overlapping nor touching.
    spans: Vec<(i64, i64)>,
    /// A hole was given up at the cap.
    given_up: bool,
}

impl Cover {
    /// A direction whose first bytes seen start at sequence number `seq` (position 0).
    pub fn new(seq: u32) -> Self {
        Cover {
            seq,
            pos: 0,
            spans: Vec::new(),
            given_up: false,
        }
    }

    /// The position of sequence number `seq` (within 2 GiB of the furthest bytes seen).
    pub fn position(&self, seq: u32) -> i64 {
        self.pos + i64::from(seq.wrapping_sub(self.seq) as i32)
    }

    /// The end of the furthest bytes seen, if any.
    pub fn end(&self) -> Option<i64> {
        self.spans.last().map(|s| s.1)
    }

    /// The lowest position seen.
    pub fn start(&self) -> i64 {
        self.spans.first().map_or(0, |s| s.0)
    }

    /// The first run of `[at, at + len)` not seen yet: (bytes before it, its length). `(len, 0)`
    /// when every byte was seen.
    pub fn first_new(&self, at: i64, len: usize) -> (usize, usize) {
        let end = at + len as i64;
        let mut a = at;
        for &(s, e) in &self.spans {
            if s >= end || a >= end {
                break;
            }
            if e <= a {
                continue;
            }
            if s <= a {
                a = e;
            } else {
                break;
            }
        }
        if a >= end {
            return (len, 0);
        }
        let stop = self
            .spans
            .iter()
            .map(|s| s.0)
            .find(|&s| s > a)
            .map_or(end, |s| s.min(end));
        ((a - at) as usize, (stop - a) as usize)
    }

    /// `[a, b)` was seen, at sequence number `seq_a` for position `a`.
    pub fn add(&mut self, a: i64, b: i64, seq_a: u32) {
        if b <= a {
            return;
        }
        if b > self.end().unwrap_or(i64::MIN) {
            self.pos = b;
            self.seq = seq_a.wrapping_add((b - a) as u32);
        }
        // Merge with every span it overlaps or touches.
        let first = self.spans.partition_point(|s| s.1 < a);
        let mut last = first;
        let (mut lo, mut hi) = (a, b);
        while last < self.spans.len() && self.spans[last].0 <= b {
            lo = lo.min(self.spans[last].0);
            hi = hi.max(self.spans[last].1);
            last += 1;
        }
        self.spans.splice(first..last, [(lo, hi)]);
        if self.spans.len() > MAX_SPANS {
            // The oldest hole is given up: the bytes around it join, it stays a hole.
            let merged = (self.spans[0].0, self.spans[1].1);
            self.spans.splice(0..2, [merged]);
            self.given_up = true;
        }
    }

    /// The holes between the bytes seen: `(position, length)`.
    pub fn holes(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.spans
            .windows(2)
            .map(|w| (w[0].1, (w[1].0 - w[0].1) as u64))
    }

    /// Some bytes between the first and the last seen are missing.
    pub fn has_hole(&self) -> bool {
        self.spans.len() > 1 || self.given_up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_then_retransmitted() {
        let mut c = Cover::new(1000);
        let at = c.position(1000);
        assert_eq!((at, c.first_new(at, 100)), (0, (0, 100)));
        c.add(0, 100, 1000);
        // The same bytes again, then half old, half new.
        assert_eq!(c.first_new(c.position(1000), 100), (100, 0));
        assert_eq!(c.first_new(c.position(1050), 100), (50, 50));
        assert!(!c.has_hole());
    }

    #[test]
    fn out_of_order_fills_its_hole() {
        // The second segment (bytes 100..200) comes first.
        let mut c = Cover::new(1100);
        c.add(0, 100, 1100);
        // The first one (sequence 1000) lands 100 bytes before.
        let at = c.position(1000);
        assert_eq!(at, -100);
        assert_eq!(c.first_new(at, 100), (0, 100));
        c.add(-100, 0, 1000);
        assert_eq!(c.start(), -100);
        assert!(!c.has_hole());
        // A segment across a hole: its first new run ends where seen bytes begin again.
        let mut c = Cover::new(0);
        c.add(0, 10, 0);
        c.add(20, 30, 20);
        assert!(c.has_hole());
        assert_eq!(c.holes().collect::<Vec<_>>(), vec![(10, 10)]);
        assert_eq!(c.first_new(5, 20), (5, 10));
        c.add(10, 20, 10);
        assert!(!c.has_hole());
        assert_eq!(c.end(), Some(30));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut c = Cover::new(u32::MAX - 9);
        c.add(0, 10, u32::MAX - 9);
        // The next byte's sequence number wrapped to 0.
        assert_eq!(c.position(0), 10);
        c.add(10, 20, 0);
        assert_eq!(c.position(10), 20);
    }

    #[test]
    fn holes_past_the_cap_are_given_up_but_stay_holes() {
        let mut c = Cover::new(0);
        for i in 0..(MAX_SPANS as i64 + 5) {
            c.add(i * 10, i * 10 + 5, (i * 10) as u32);
        }
        assert!(c.spans.len() <= MAX_SPANS);
        assert!(c.has_hole());
    }
}
