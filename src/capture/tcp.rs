//! One direction of a TCP connection, put back in order.
//!
//! Sequence numbers are unwrapped into 64-bit stream offsets relative to the SYN (or, for a
//! connection that began before the capture, to the first segment seen), so transfers over 4 GiB
//! work. In-order data is handed on without a copy. Out-of-order segments wait in a buffer capped
//! in bytes; retransmitted and overlapping bytes are dropped (the first copy wins). A hole is never
//! filled with invented bytes: it is skipped and reported as a gap when the buffer is over its cap,
//! when the peer acknowledges data the capture missed, or when the stream ends.

use std::collections::BTreeMap;

/// What the reassembler hands on, in stream order.
#[derive(Debug, PartialEq)]
pub enum Chunk<'a> {
    /// Bytes at `offset` in the stream.
    Data {
        offset: u64,
        bytes: &'a [u8],
        frame: u64,
        ts: f64,
    },
    /// Bytes the capture does not have.
    Gap { offset: u64, len: u64 },
}

/// Why a gap was declared; the first reason per stream is kept for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// The out-of-order buffer was over its cap.
    Memcap,
    /// The peer acknowledged bytes the capture never showed.
    Acked,
    /// The stream ended (FIN, RST, timeout, end of input) with a hole before buffered data.
    End,
}

#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    frame: u64,
    ts: f64,
}

/// One direction's reassembly state. Most streams only ever see the next bytes in order, so what
/// out-of-order delivery, its counters and the end of the stream need lives behind one box,
/// made at the first segment that is not simply the next one or at the FIN: an open stream
/// costs 24 bytes (a million idle connections hold two each).
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Sequence number of stream offset 0.
    base: u32,
    anchored: bool,
    /// A SYN was seen: offset 0 is the true start of the stream.
    pub syn_seen: bool,
    /// Next offset to deliver.
    next: u64,
    disorder: Option<Box<Disorder>>,
}

/// The out-of-order side of a [`HalfStream`]: held segments, what reordering showed, and where
/// the stream ends.
#[derive(Debug, Default)]
struct Disorder {
    /// Stream offset of the FIN, when seen.
    fin_at: Option<u64>,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    /// Bytes skipped as gaps, and how many gaps.
    gap_bytes: u64,
    gaps: u32,
    first_gap_cause: Option<GapCause>,
    /// Segments that only repeated delivered bytes.
    retransmitted: u64,
    /// Segments that partly overlapped delivered or held bytes.
    overlaps: u64,
}

impl HalfStream {
    /// Bytes delivered or skipped so far: the stream length known in order.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    pub fn held_bytes(&self) -> usize {
        self.disorder.as_ref().map_or(0, |d| d.held_bytes)
    }

    /// Stream offset of the FIN, when seen.
    pub fn fin_at(&self) -> Option<u64> {
        self.disorder.as_ref()?.fin_at
    }

    /// Bytes skipped as gaps.
    pub fn gap_bytes(&self) -> u64 {
        self.disorder.as_ref().map_or(0, |d| d.gap_bytes)
    }

    /// How many gaps were skipped.
    pub fn gaps(&self) -> u32 {
        self.disorder.as_ref().map_or(0, |d| d.gaps)
    }

    /// Why the first gap was declared.
    pub fn first_gap_cause(&self) -> Option<GapCause> {
        self.disorder.as_ref().and_then(|d| d.first_gap_cause)
    }

    /// Segments that only repeated delivered bytes.
    pub fn retransmitted(&self) -> u64 {
        self.disorder.as_ref().map_or(0, |d| d.retransmitted)
    }

    /// Segments that partly overlapped delivered or held bytes.
    pub fn overlaps(&self) -> u64 {
        self.disorder.as_ref().map_or(0, |d| d.overlaps)
    }

    fn disorder(&mut self) -> &mut Disorder {
        self.disorder.get_or_insert_with(Box::default)
    }

    fn nothing_held(&self) -> bool {
        self.disorder.as_ref().is_none_or(|d| d.held.is_empty())
    }

    /// A SYN (or SYN-ACK) from this side: data starts at `seq + 1`.
    pub fn syn(&mut self, seq: u32) {
        if self.anchored && self.next > 0 {
            return; // a late duplicate SYN changes nothing
        }
        self.base = seq.wrapping_add(1);
        self.anchored = true;
        self.syn_seen = true;
        self.next = 0;
    }

    /// Unwrap a 32-bit sequence number to a stream offset near `next`.
    fn offset_of(&mut self, seq: u32) -> Option<u64> {
        if !self.anchored {
            self.base = seq;
            self.anchored = true;
        }
        let expected = self.base.wrapping_add(self.next as u32);
        let delta = seq.wrapping_sub(expected) as i32 as i64;
        let off = self.next as i64 + delta;
        (off >= 0).then_some(off as u64)
    }

    /// The offset the peer acknowledges, if this side is anchored.
    pub fn ack_offset(&self, ack: u32) -> Option<u64> {
        if !self.anchored {
            return None;
        }
        let expected = self.base.wrapping_add(self.next as u32);
        let delta = ack.wrapping_sub(expected) as i32 as i64;
        let off = self.next as i64 + delta;
        (off >= 0).then_some(off as u64)
    }

    /// A FIN at the end of this segment's payload.
    pub fn fin(&mut self, seq: u32, payload_len: usize) {
        if let Some(off) = self.offset_of(seq) {
            self.disorder().fin_at = Some(off + payload_len as u64);
        }
    }

    /// True once every byte up to the FIN has been delivered or skipped.
    pub fn finished(&self) -> bool {
        self.fin_at().is_some_and(|f| self.next >= f) && self.nothing_held()
    }

    /// Add a segment; in-order bytes (and any held bytes they unblock) go to `out`. `memcap` caps
    /// the held bytes of this stream; `budget` is what the whole capture may still hold.
    /// Returns true when the cap forced a gap.
    pub fn segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        frame: u64,
        ts: f64,
        memcap: usize,
        out: &mut impl FnMut(Chunk<'_>),
    ) -> bool {
        if payload.is_empty() {
            return false;
        }
        let Some(mut off) = self.offset_of(seq) else {
            self.disorder().retransmitted += 1;
            return false;
        };
        let mut data = payload;
        let end = off + data.len() as u64;
        if end <= self.next {
            self.disorder().retransmitted += 1;
            return false;
        }
        if off < self.next {
            self.disorder().overlaps += 1;
            data = &data[(self.next - off) as usize..];
            off = self.next;
        }
        if off == self.next && self.nothing_held() {
            self.next = end;
            out(Chunk::Data {
                offset: off,
                bytes: data,
                frame,
                ts,
            });
            return false;
        }
        // Out of order (or held bytes are waiting): keep a copy, unless an equal or longer
        // segment at the same offset is already held.
        let d = self.disorder();
        match d.held.get(&off) {
            Some(h) if h.bytes.len() >= data.len() => d.overlaps += 1,
            _ => {
                if let Some(old) = d.held.insert(
                    off,
                    Held {
                        bytes: data.to_vec(),
                        frame,
                        ts,
                    },
                ) {
                    d.held_bytes -= old.bytes.len();
                    d.overlaps += 1;
                }
                d.held_bytes += data.len();
            }
        }
        self.drain(out);
        let mut forced = false;
        while self.held_bytes() > memcap {
            forced = true;
            self.skip_to_first_held(GapCause::Memcap, out);
        }
        forced
    }

    /// Deliver held segments that are now in order.
    fn drain(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        let Some(d) = self.disorder.as_mut() else {
            return;
        };
        while let Some(entry) = d.held.first_entry() {
            let off = *entry.key();
            if off > self.next {
                break;
            }
            let h = entry.remove();
            d.held_bytes -= h.bytes.len();
            let end = off + h.bytes.len() as u64;
            if end <= self.next {
                d.overlaps += 1;
                continue;
            }
            let skip = (self.next - off) as usize;
            if skip > 0 {
                d.overlaps += 1;
            }
            let start = self.next;
            self.next = end;
            out(Chunk::Data {
                offset: start,
                bytes: &h.bytes[skip..],
                frame: h.frame,
                ts: h.ts,
            });
        }
    }

    /// The first held segment's offset.
    fn first_held(&self) -> Option<u64> {
        self.disorder
            .as_ref()?
            .held
            .first_key_value()
            .map(|(&k, _)| k)
    }

    /// Declare the hole before the first held segment a gap, and deliver what follows it.
    fn skip_to_first_held(&mut self, cause: GapCause, out: &mut impl FnMut(Chunk<'_>)) {
        let Some(first) = self.first_held() else {
            return;
        };
        if first > self.next {
            self.gap(first - self.next, cause, out);
        }
        self.drain(out);
    }

    fn gap(&mut self, len: u64, cause: GapCause, out: &mut impl FnMut(Chunk<'_>)) {
        out(Chunk::Gap {
            offset: self.next,
            len,
        });
        self.next += len;
        let d = self.disorder();
        d.gap_bytes += len;
        d.gaps += 1;
        d.first_gap_cause.get_or_insert(cause);
    }

    /// The peer acknowledged up to `ack`: bytes before it that the capture lacks will never come.
    pub fn acked(&mut self, ack: u32, out: &mut impl FnMut(Chunk<'_>)) {
        if self.nothing_held() {
            return;
        }
        let Some(acked) = self.ack_offset(ack) else {
            return;
        };
        while let Some(first) = self.first_held() {
            if first > acked || first <= self.next {
                break;
            }
            self.skip_to_first_held(GapCause::Acked, out);
        }
    }

    /// The stream ends: deliver everything held, skipping holes; a hole before a FIN is a gap too.
    pub fn flush(&mut self, out: &mut impl FnMut(Chunk<'_>)) {
        while !self.nothing_held() {
            self.skip_to_first_held(GapCause::End, out);
        }
        if let Some(fin) = self.fin_at() {
            if fin > self.next && fin - self.next < (1 << 31) {
                self.gap(fin - self.next, GapCause::End, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(h: &mut HalfStream, seq: u32, data: &[u8], cap: usize) -> (Vec<u8>, Vec<(u64, u64)>) {
        let mut bytes = Vec::new();
        let mut gaps = Vec::new();
        h.segment(seq, data, 1, 0.0, cap, &mut |c| match c {
            Chunk::Data { bytes: b, .. } => bytes.extend_from_slice(b),
            Chunk::Gap { offset, len } => gaps.push((offset, len)),
        });
        (bytes, gaps)
    }

    #[test]
    fn in_order_out_of_order_retransmit_overlap() {
        let mut h = HalfStream::default();
        h.syn(99);
        assert_eq!(run(&mut h, 100, b"abc", 1000).0, b"abc");
        assert_eq!(run(&mut h, 106, b"ghi", 1000).0, b"");
        assert_eq!(run(&mut h, 100, b"abc", 1000).0, b""); // retransmission
        assert_eq!(run(&mut h, 102, b"cdef", 1000).0, b"defghi"); // overlap on both sides
        assert_eq!(h.next_offset(), 9);
        assert_eq!(h.retransmitted(), 1);
    }

    #[test]
    fn sequence_wrap() {
        let mut h = HalfStream::default();
        h.syn(u32::MAX - 2);
        assert_eq!(run(&mut h, u32::MAX - 1, b"ab", 10).0, b"ab");
        assert_eq!(run(&mut h, 0, b"cd", 10).0, b"cd");
        assert_eq!(h.next_offset(), 4);
    }

    #[test]
    fn memcap_forces_a_gap() {
        let mut h = HalfStream::default();
        h.syn(0);
        assert_eq!(run(&mut h, 1, b"a", 4).0, b"a");
        let (b, g) = run(&mut h, 10, b"0123456789", 4);
        assert_eq!(b, b"0123456789");
        assert_eq!(g, vec![(1, 8)]);
        assert_eq!(h.gap_bytes(), 8);
        assert_eq!(h.first_gap_cause(), Some(GapCause::Memcap));
    }

    #[test]
    fn ack_beyond_hole_and_flush() {
        let mut h = HalfStream::default();
        h.syn(0);
        run(&mut h, 5, b"xyz", 100);
        let mut got = Vec::new();
        h.acked(8, &mut |c| got.push(format!("{c:?}")));
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("Gap { offset: 0, len: 4 }"));
        h.fin(8, 0);
        assert!(h.finished());
        let mut h = HalfStream::default();
        run(&mut h, 1000, b"mid", 100); // began before the capture
        run(&mut h, 1010, b"late", 100);
        let mut got = Vec::new();
        h.flush(&mut |c| got.push(format!("{c:?}")));
        assert_eq!(got.len(), 2);
        assert!(!h.syn_seen);
    }
}
