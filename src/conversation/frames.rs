//! Per-frame storage: what to show for each frame, kept so that Wireshark's second pass and GUI
//! clicks read it back instead of feeding the session again. Off unless
//! [`super::Config::keep_frames`] is set (the CLI does not need it).

use crate::present::Item;
use std::collections::BTreeMap;

/// What one frame shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameView {
    /// Dissector tree items, in display order.
    pub items: Vec<Item>,
    /// The Info column text.
    pub summary: String,
    /// For a frame of a data connection: the channel it belongs to.
    pub data_channel: Option<u32>,
}

/// Frame number to view.
#[derive(Debug, Default)]
pub(crate) struct FrameStore {
    frames: BTreeMap<u64, FrameView>,
}

impl FrameStore {
    /// Add what one feed produced at `frame` (several feeds may share a frame).
    pub fn add(&mut self, frame: u64, items: Vec<Item>, summary: String) {
        if items.is_empty() && summary.is_empty() {
            return;
        }
        let v = self.frames.entry(frame).or_default();
        v.items.extend(items);
        if !summary.is_empty() {
            if !v.summary.is_empty() {
                v.summary.push_str(", ");
            }
            v.summary.push_str(&summary);
        }
    }

    pub fn mark_data(&mut self, frame: u64, channel: u32) {
        self.frames.entry(frame).or_default().data_channel = Some(channel);
    }

    pub fn get(&self, frame: u64) -> Option<&FrameView> {
        self.frames.get(&frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_of_one_frame_are_joined() {
        let mut s = FrameStore::default();
        s.add(3, Vec::new(), "Request: USER a".into());
        s.add(3, Vec::new(), "Request: PASS b".into());
        s.add(4, Vec::new(), String::new());
        assert_eq!(
            s.get(3),
            Some(&FrameView {
                items: Vec::new(),
                summary: "Request: USER a, Request: PASS b".into(),
                data_channel: None,
            })
        );
        assert_eq!(s.get(4), None);
    }
}
