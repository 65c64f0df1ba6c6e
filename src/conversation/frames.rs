//! The session events of control connections, kept in batches for a host that shows what each frame
//! carries (the Wireshark glue's core, [`crate::dissect`]): it turns them into per-frame views once,
//! on the first pass, and reads those back on later passes. Off unless
//! [`super::Config::keep_events`] is set (the CLI does not need it).
//!
//! The layer hands over the events rather than views so that the storage of what a frame shows
//! lives in one place, the dissector, next to the rest of what it keeps per frame (data frames,
//! export pieces, statistics ticks).

use super::ConnRef;
use crate::Event;

/// The events one feed, gap or end of one control connection produced.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    /// The control connection.
    pub control: ConnRef,
    /// The frame whose bytes were fed (the last frame of the connection for its end). Events name
    /// their own frame: a gap or the end reports lines of earlier frames.
    pub frame: u64,
    /// Where the fed bytes begin within the bytes the host passed for `frame`: a greeting and the
    /// commands after it in one segment are fed in two parts. Event spans are relative to the fed
    /// bytes.
    pub base: usize,
    pub events: Vec<Event>,
    /// The Info label of a feed that carried only first or middle lines of a multi-line reply
    /// ([`crate::present::feed_summary`] without events); empty otherwise.
    pub open_reply: String,
    /// The code of a multi-line reply whose first line this feed carried and that is not over yet:
    /// the host shows the code at the frame where the reply begins, as well as where it ends.
    pub begins_reply: Option<u16>,
}

/// Batches not taken yet.
#[derive(Debug, Default)]
pub(crate) struct BatchQueue {
    batches: Vec<EventBatch>,
}

impl BatchQueue {
    pub fn push(&mut self, batch: EventBatch) {
        if !batch.events.is_empty() || !batch.open_reply.is_empty() {
            self.batches.push(batch);
        }
    }

    pub fn take(&mut self) -> Vec<EventBatch> {
        std::mem::take(&mut self.batches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_batches_are_not_kept() {
        let mut q = BatchQueue::default();
        let control = ConnRef {
            index: 0,
            generation: 0,
        };
        q.push(EventBatch {
            control,
            frame: 3,
            base: 0,
            events: Vec::new(),
            open_reply: String::new(),
            begins_reply: None,
        });
        assert!(q.take().is_empty());
        q.push(EventBatch {
            control,
            frame: 4,
            base: 0,
            events: Vec::new(),
            open_reply: "Response: 211- Features: (multi-line reply begins)".into(),
            begins_reply: Some(211),
        });
        assert_eq!(q.take().len(), 1);
        assert!(q.take().is_empty());
    }
}
