//! Frames from a network interface as they arrive, through libpcap (the `pcap` crate). It lives in
//! the command, not the library: the C library and the Wireshark plugin must not need libpcap.
//!
//! Immediate mode hands each packet over at once (no buffering until a block fills). A read blocks
//! until a packet comes (libpcap's read timeout is not honoured in immediate mode on Linux), so a
//! watcher thread turns a stop request into `pcap_breakloop`, which wakes the read at once. libpcap's own counters
//! say what the kernel dropped; they are read when the capture ends.

#[cfg(feature = "live")]
pub use capture::LiveCapture;

/// How a live capture went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSummary {
    pub frames: u64,
    pub bytes: u64,
    /// libpcap's counters (`pcap_stats`): packets the filter passed, dropped because the buffer
    /// was full, and dropped by the interface or its driver.
    pub received: u32,
    pub dropped: u32,
    pub if_dropped: u32,
    /// A read error that ended the capture (the interface went down).
    pub error: Option<String>,
}

#[cfg(feature = "live")]
mod capture {
    use super::LiveSummary;
    use ftplens::capture::Frame;
    use pcap::{Active, Capture, Error};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// How often the watcher looks for a stop request.
    const WATCH_EVERY: Duration = Duration::from_millis(50);
    /// Bytes kept of each packet: the largest a link delivers (and libpcap's own default).
    const SNAPLEN: i32 = 262_144;
    /// The kernel's ring for packets not yet read: generous, so that a burst is not dropped.
    const BUFFER_BYTES: i32 = 32 << 20;

    /// An open interface.
    pub struct LiveCapture {
        cap: Capture<Active>,
        interface: String,
    }

    impl LiveCapture {
        /// Open `interface` (promiscuous), with a BPF `filter` when given.
        pub fn open(interface: &str, filter: Option<&str>) -> Result<LiveCapture, String> {
            let mut cap = Capture::from_device(interface)
                .and_then(|c| {
                    c.promisc(true)
                        .snaplen(SNAPLEN)
                        .buffer_size(BUFFER_BYTES)
                        .immediate_mode(true)
                        .open()
                })
                .map_err(|e| format!("cannot capture on {interface}: {e}"))?;
            if let Some(f) = filter {
                cap.filter(f, true)
                    .map_err(|e| format!("bad filter {f:?}: {e}"))?;
            }
            Ok(LiveCapture {
                cap,
                interface: interface.to_string(),
            })
        }

        pub fn interface(&self) -> &str {
            &self.interface
        }

        /// Hand every packet to `f` until `stop` is set (checked at least every 100 ms).
        pub fn for_each(mut self, stop: &AtomicBool, mut f: impl FnMut(&Frame<'_>)) -> LiveSummary {
            let linktype = self.cap.get_datalink().0;
            let mut summary = LiveSummary::default();
            let done = AtomicBool::new(false);
            let breaker = self.cap.breakloop_handle();
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        if stop.load(Ordering::Relaxed) {
                            breaker.breakloop();
                            break;
                        }
                        std::thread::sleep(WATCH_EVERY);
                    }
                });
                while !stop.load(Ordering::Relaxed) {
                    match self.cap.next_packet() {
                        Ok(p) => {
                            summary.frames += 1;
                            summary.bytes += p.data.len() as u64;
                            // The pcap file reader's arithmetic, so that a live record and the
                            // record of the same packet read from a file agree to the bit.
                            let ts = p.header.ts.tv_sec as f64 + p.header.ts.tv_usec as f64 * 1e-6;
                            f(&Frame {
                                number: summary.frames,
                                ts,
                                linktype,
                                data: p.data,
                                orig_len: p.header.len,
                            });
                        }
                        Err(Error::TimeoutExpired) => {}
                        // pcap_breakloop: the watcher saw the stop request.
                        Err(Error::NoMorePackets) => break,
                        Err(e) => {
                            summary.error = Some(e.to_string());
                            break;
                        }
                    }
                }
                done.store(true, Ordering::Relaxed);
            });
            if let Ok(s) = self.cap.stats() {
                summary.received = s.received;
                summary.dropped = s.dropped;
                summary.if_dropped = s.if_dropped;
            }
            summary
        }
    }
}
