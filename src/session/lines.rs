//! Line framing for one direction: reassembly across segments, several lines per segment, a length
//! cap with resync, and Telnet IAC removal.
//!
//! RFC 959 section 4 makes the control connection a Telnet NVT (RFC 854): lines end in CRLF, and
//! clients may interleave Telnet commands, most visibly `IAC IP IAC DM ABOR` (RFC 959 4.1.3).

use memchr::memchr;
use std::borrow::Cow;

/// A line cut out of the stream.
#[derive(Debug)]
pub(crate) struct FramedLine<'a> {
    /// The line without its end, Telnet commands still in.
    pub bytes: Cow<'a, [u8]>,
    /// Where it begins in the buffer of this feed (0 when it began in an earlier feed).
    pub offset: usize,
    /// Its length in this feed's buffer, line end included.
    pub length: usize,
    /// Cut at the length cap.
    pub truncated: bool,
    /// No further complete line follows in this feed.
    pub last_in_feed: bool,
}

/// Reassembles lines of one direction. Memory is bounded by `max_line`.
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    partial: Vec<u8>,
    /// Discarding the rest of an over-long line until the next LF.
    skipping: bool,
}

impl LineBuffer {
    /// Split `data` into lines, calling `on_line` for each complete (or cut) line.
    pub fn feed(&mut self, data: &[u8], max_line: usize, mut on_line: impl FnMut(FramedLine<'_>)) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let Some(nl) = memchr(b'\n', rest) else {
                self.hold(rest, pos, max_line, &mut on_line);
                return;
            };
            let end = pos + nl + 1;
            let last_in_feed = memchr(b'\n', &data[end..]).is_none();
            let chunk = &data[pos..end];
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                let body = crate::parse::trim_line_end(chunk);
                let truncated = body.len() > max_line;
                let body = &body[..body.len().min(max_line)];
                on_line(FramedLine {
                    bytes: Cow::Borrowed(body),
                    offset: pos,
                    length: chunk.len(),
                    truncated,
                    last_in_feed,
                });
            } else {
                let body = crate::parse::trim_line_end(chunk);
                let room = max_line.saturating_sub(self.partial.len());
                let truncated = body.len() > room;
                self.partial
                    .extend_from_slice(&body[..body.len().min(room)]);
                let line = std::mem::take(&mut self.partial);
                on_line(FramedLine {
                    bytes: Cow::Owned(line),
                    offset: 0,
                    length: end,
                    truncated,
                    last_in_feed,
                });
            }
            pos = end;
        }
    }

    /// Keep an unterminated tail; cut it once it would exceed the cap.
    fn hold(
        &mut self,
        rest: &[u8],
        pos: usize,
        max_line: usize,
        on_line: &mut impl FnMut(FramedLine<'_>),
    ) {
        if self.skipping {
            return;
        }
        if self.partial.len() + rest.len() <= max_line {
            self.partial.extend_from_slice(rest);
            return;
        }
        let offset = if self.partial.is_empty() { pos } else { 0 };
        let room = max_line - self.partial.len();
        self.partial.extend_from_slice(&rest[..room]);
        let line = std::mem::take(&mut self.partial);
        self.skipping = true;
        on_line(FramedLine {
            bytes: Cow::Owned(line),
            offset,
            length: rest.len(),
            truncated: true,
            last_in_feed: true,
        });
    }

    /// Inside an over-long line, discarding bytes until its end.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// Drop spare capacity (the partial line keeps its bytes).
    pub fn shrink(&mut self) {
        self.partial.shrink_to_fit();
    }

    /// Bytes held waiting for a line end.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The unterminated tail held so far (none while skipping an over-long line, whose head was
    /// already reported), and a fresh start: the stream ends or a gap follows.
    pub fn take_partial(&mut self) -> Option<Vec<u8>> {
        let partial = std::mem::take(&mut self.partial);
        let skipping = std::mem::take(&mut self.skipping);
        (!skipping && !partial.is_empty()).then_some(partial)
    }
}

/// RFC 854 constants.
const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

/// Remove Telnet commands: `IAC IAC` is a literal 255; `IAC WILL/WONT/DO/DONT opt` and
/// `IAC SB ... IAC SE` are options; any other `IAC x` (IP, DM, AYT...) is a two-byte command.
pub(crate) fn strip_telnet(line: &[u8]) -> Cow<'_, [u8]> {
    if memchr(IAC, line).is_none() {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != IAC {
            out.push(line[i]);
            i += 1;
            continue;
        }
        match line.get(i + 1) {
            Some(&IAC) => {
                out.push(IAC);
                i += 2;
            }
            Some(&(WILL..=DONT)) => i += 3,
            Some(&SB) => {
                i += 2;
                while i < line.len() && !(line[i] == IAC && line.get(i + 1) == Some(&SE)) {
                    i += 1;
                }
                i += 2;
            }
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        buf: &mut LineBuffer,
        data: &[u8],
        max: usize,
    ) -> Vec<(Vec<u8>, usize, usize, bool)> {
        let mut out = Vec::new();
        buf.feed(data, max, |l| {
            out.push((l.bytes.to_vec(), l.offset, l.length, l.truncated))
        });
        out
    }

    #[test]
    fn several_lines_in_one_segment() {
        let mut b = LineBuffer::default();
        let got = collect(&mut b, b"TYPE I\r\nPASV\r\n", 100);
        assert_eq!(
            got,
            vec![
                (b"TYPE I".to_vec(), 0, 8, false),
                (b"PASV".to_vec(), 8, 6, false)
            ]
        );
    }

    #[test]
    fn line_split_across_segments() {
        let mut b = LineBuffer::default();
        assert!(collect(&mut b, b"227 Entering Passive Mode (192,168", 100).is_empty());
        assert_eq!(b.pending(), 34);
        let got = collect(&mut b, b",1,109,104,134).\r\nX", 100);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].0,
            b"227 Entering Passive Mode (192,168,1,109,104,134).".to_vec()
        );
        assert_eq!((got[0].1, got[0].2), (0, 18));
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn overlong_line_is_cut_and_resynced() {
        let mut b = LineBuffer::default();
        let got = collect(&mut b, &[b'A'; 50], 16);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.len(), 16);
        assert!(got[0].3);
        // Still inside the long line: nothing buffered, nothing emitted.
        assert!(collect(&mut b, &[b'A'; 5000], 16).is_empty());
        assert_eq!(b.pending(), 0);
        let got = collect(&mut b, b"AAAA\r\nNOOP\r\n", 16);
        assert_eq!(got, vec![(b"NOOP".to_vec(), 6, 6, false)]);
    }

    #[test]
    fn overlong_terminated_line() {
        let mut b = LineBuffer::default();
        let mut data = vec![b'B'; 40];
        data.extend_from_slice(b"\r\nQUIT\r\n");
        let got = collect(&mut b, &data, 16);
        assert_eq!(got.len(), 2);
        assert!(got[0].3 && got[0].0.len() == 16);
        assert_eq!(got[1].0, b"QUIT".to_vec());
    }

    #[test]
    fn telnet_ip_dm_abor() {
        // RFC 959 4.1.3: IAC IP, then IAC DM (sent urgent), then ABOR.
        assert_eq!(&*strip_telnet(b"\xff\xf4\xff\xf2ABOR"), b"ABOR");
        assert_eq!(&*strip_telnet(b"\xff\xfb\x01USER x"), b"USER x");
        assert_eq!(&*strip_telnet(b"a\xff\xffb"), b"a\xffb");
        assert_eq!(&*strip_telnet(b"\xff\xfa\x18\x01\xff\xf0NOOP"), b"NOOP");
        assert_eq!(&*strip_telnet(b"NOOP\xff"), b"NOOP");
        assert!(matches!(strip_telnet(b"NOOP"), Cow::Borrowed(_)));
    }
}
