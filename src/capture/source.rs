//! Streaming reader for pcap and pcapng: one record at a time through a fixed buffer, never the
//! whole file. Gzip-compressed captures (`.pcap.gz`) are recognised by their magic and inflated on
//! the fly. The reader stops at the first record it cannot parse and says how far it got.

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

/// Buffer for one read; grown up to [`MAX_BLOCK`] for a record that does not fit.
const BUFFER: usize = 1 << 20;
/// The largest record accepted (pcapng allows larger, no real link does).
const MAX_BLOCK: usize = 64 << 20;

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number, as Wireshark counts.
    pub number: u64,
    /// Seconds since the epoch.
    pub ts: f64,
    pub linktype: i32,
    pub data: &'a [u8],
    /// Length on the wire (`data` may be shorter when the snap length cut it).
    pub orig_len: u32,
}

/// Why reading stopped before the end of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// The input ended inside a record.
    Truncated,
    /// Bytes that are not a record.
    Garbage(String),
    /// A record larger than the reader accepts.
    TooLarge,
    /// The operating system refused a read.
    Io(String),
}

/// The input ended inside a record: a record cut short (truncated), or bytes whose header makes
/// no sense (garbage that happens to end the file).
fn judge_tail(rest: &[u8], pcapng: bool, big_endian: bool, snaplen: u32) -> StopReason {
    let word = |at: usize| {
        rest.get(at..at + 4).map(|b| {
            let b = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        })
    };
    if pcapng {
        match word(4) {
            Some(len) if len < 12 || len % 4 != 0 || len as usize > MAX_BLOCK => {
                StopReason::Garbage(format!("a block claims {len} bytes"))
            }
            _ => StopReason::Truncated,
        }
    } else {
        match (word(8), word(12)) {
            (Some(cap), _) if cap > snaplen.max(262_144) => {
                StopReason::Garbage(format!("a record claims {cap} captured bytes"))
            }
            (Some(cap), Some(orig)) if cap > orig && orig != 0 => StopReason::Garbage(format!(
                "a record claims {cap} captured bytes of a {orig}-byte packet"
            )),
            _ => StopReason::Truncated,
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Truncated => {
                write!(f, "the input ends inside a record (truncated capture)")
            }
            StopReason::Garbage(what) => write!(f, "bytes that are not a capture record ({what})"),
            StopReason::TooLarge => write!(f, "a record larger than {} MiB", MAX_BLOCK >> 20),
            StopReason::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

/// How a read went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    pub frames: u64,
    /// Bytes of the (decompressed) input consumed as whole records.
    pub bytes: u64,
    pub format: &'static str,
    /// Set when reading stopped early: the rest of the input was not analysed.
    pub stopped: Option<StopReason>,
}

/// The input could not be opened as a capture at all.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    Empty,
    NotACapture,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{e}"),
            OpenError::Empty => write!(f, "empty input"),
            OpenError::NotACapture => write!(f, "not a pcap or pcapng capture"),
        }
    }
}

impl std::error::Error for OpenError {}

/// Per-interface facts a pcapng section declares.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: i32,
    ts_offset: u64,
    ts_resolution: u64,
}

/// A capture being read.
pub struct CaptureReader<'r> {
    inner: Box<dyn PcapReaderIterator + Send + 'r>,
    format: &'static str,
    /// The block buffer's size; it grows (up to the largest block allowed) for bigger blocks.
    capacity: usize,
}

impl<'r> CaptureReader<'r> {
    /// Open any byte stream: pcap (either byte order, micro or nanoseconds), pcapng, or either one
    /// gzip-compressed.
    pub fn new<R: Read + Send + 'r>(input: R) -> Result<Self, OpenError> {
        Self::with_buffer(input, BUFFER)
    }

    /// [`CaptureReader::new`] with a block buffer of `capacity` bytes to start with (1 MiB for
    /// `new`: big files read in few refills; the fuzzer, reading many small inputs, asks for less).
    pub fn with_buffer<R: Read + Send + 'r>(input: R, capacity: usize) -> Result<Self, OpenError> {
        let capacity = capacity.max(4096);
        let mut buffered = BufReader::with_capacity(64 * 1024, input);
        let head = buffered.fill_buf().map_err(OpenError::Io)?;
        if head.is_empty() {
            return Err(OpenError::Empty);
        }
        let gz = head.starts_with(&[0x1f, 0x8b]);
        let format_hint = |b: &[u8]| {
            if b.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
                "pcapng"
            } else {
                "pcap"
            }
        };
        let (reader, format): (Box<dyn Read + Send + 'r>, &'static str) = if gz {
            let mut dec = BufReader::new(flate2::read::MultiGzDecoder::new(buffered));
            let inner = dec.fill_buf().map_err(OpenError::Io)?;
            if inner.is_empty() {
                return Err(OpenError::Empty);
            }
            let f = if format_hint(inner) == "pcapng" {
                "pcapng.gz"
            } else {
                "pcap.gz"
            };
            (Box::new(dec), f)
        } else {
            let f = format_hint(head);
            (Box::new(buffered), f)
        };
        let inner = pcap_parser::create_reader(capacity, reader).map_err(|e| match e {
            PcapError::Eof => OpenError::Empty,
            PcapError::ReadError => OpenError::Io(io::Error::other("read error")),
            _ => OpenError::NotACapture,
        })?;
        Ok(CaptureReader {
            inner,
            format,
            capacity,
        })
    }

    /// Call `f` for every frame, in file order. Stops early (and says why) on a damaged record.
    pub fn for_each(mut self, mut f: impl FnMut(&Frame<'_>)) -> ReadSummary {
        let mut frames = 0u64;
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut legacy_linktype = Linktype::ETHERNET.0;
        let mut legacy_nanos = false;
        let mut legacy_be = false;
        let mut legacy_snaplen = 0u32;
        let mut ng_be = false;
        let mut last_ts = 0.0;
        let mut stopped = None;
        let mut capacity = self.capacity;
        loop {
            match self.inner.next() {
                Ok((offset, block)) => {
                    let mut frame = None;
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            legacy_linktype = h.network.0;
                            legacy_nanos = h.is_nanosecond_precision();
                            legacy_be = h.is_bigendian();
                            legacy_snaplen = h.snaplen;
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let frac = if legacy_nanos { 1e-9 } else { 1e-6 };
                            let ts = b.ts_sec as f64 + b.ts_usec as f64 * frac;
                            let len = (b.caplen as usize).min(b.data.len());
                            frame = Some((ts, legacy_linktype, &b.data[..len], b.origlen));
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                            interfaces.clear();
                            ng_be = shb.big_endian();
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            interfaces.push(Interface {
                                linktype: idb.linktype.0,
                                ts_offset: idb.if_tsoffset as u64,
                                ts_resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            });
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            if let Some(i) = interfaces.get(epb.if_id as usize) {
                                let ts = epb.decode_ts_f64(i.ts_offset, i.ts_resolution);
                                let len = (epb.caplen as usize).min(epb.data.len());
                                frame = Some((ts, i.linktype, &epb.data[..len], epb.origlen));
                            } else {
                                frames += 1; // counted, but its link type is unknown
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            if let Some(i) = interfaces.first() {
                                let len = (spb.origlen as usize).min(spb.data.len());
                                frame = Some((last_ts, i.linktype, &spb.data[..len], spb.origlen));
                            } else {
                                frames += 1;
                            }
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    if let Some((ts, linktype, data, orig_len)) = frame {
                        frames += 1;
                        last_ts = ts;
                        f(&Frame {
                            number: frames,
                            ts,
                            linktype,
                            data,
                            orig_len,
                        });
                    }
                    // No shift here: `refill` moves only the partial record left at the end.
                    self.inner.consume_noshift(offset);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.inner.refill() {
                        stopped = Some(StopReason::Io(format!("{e:?}")));
                        break;
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    if capacity >= MAX_BLOCK {
                        stopped = Some(StopReason::TooLarge);
                        break;
                    }
                    capacity *= 4;
                    self.inner.grow(capacity);
                    if let Err(e) = self.inner.refill() {
                        stopped = Some(StopReason::Io(format!("{e:?}")));
                        break;
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    let ng = self.format.starts_with("pcapng");
                    let be = if ng { ng_be } else { legacy_be };
                    stopped = Some(judge_tail(self.inner.data(), ng, be, legacy_snaplen));
                    break;
                }
                Err(PcapError::ReadError) => {
                    stopped = Some(StopReason::Io("read failed".into()));
                    break;
                }
                Err(e) => {
                    let what = match e {
                        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
                            format!("{k:?}")
                        }
                        PcapError::HeaderNotRecognized => "unknown header".into(),
                        _ => "parse error".into(),
                    };
                    stopped = Some(StopReason::Garbage(what));
                    break;
                }
            }
        }
        ReadSummary {
            frames,
            bytes: self.inner.consumed() as u64,
            format: self.format,
            stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap with frames of the given sizes (raw IPv4 link type; the bytes are not looked at).
    fn pcap(sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0xa1b2c3d4u32, 0x0004_0002, 0, 0, 262_144, 101] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for (i, &n) in sizes.iter().enumerate() {
            for v in [i as u32, 0, n as u32, n as u32] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend(std::iter::repeat_n(0x45u8, n));
        }
        out
    }

    /// A buffer smaller than a record grows to take it: every frame is read, whatever the start.
    #[test]
    fn small_buffers_grow_for_large_records() {
        let sizes = [60, 9000, 40_000, 150_000, 60];
        let data = pcap(&sizes);
        for start in [4096, 16 * 1024, BUFFER] {
            let mut seen = Vec::new();
            let summary = CaptureReader::with_buffer(&data[..], start)
                .unwrap()
                .for_each(|f| seen.push(f.data.len()));
            assert_eq!(seen, sizes, "start {start}: {summary:?}");
        }
    }
}
