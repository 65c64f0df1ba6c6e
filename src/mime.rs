//! A MIME type from a file's first bytes: the CLI's transfer records and the dissectors' Export
//! Objects content type use the same sniffing, so they agree.

/// A MIME type from the first bytes of a file, for the common cases (Zeek's `mime_type`).
pub fn sniff_mime(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"MZ", "application/x-dosexec"),
        (b"\x7fELF", "application/x-executable"),
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"BZh", "application/x-bzip2"),
        (b"\xfd7zXZ\0", "application/x-xz"),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07", "application/x-rar"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
        (b"SQLite format 3\0", "application/x-sqlite3"),
        (b"<?xml", "text/xml"),
    ];
    if head.is_empty() {
        return None;
    }
    for (magic, mime) in MAGIC {
        if head.starts_with(magic) {
            return Some(mime);
        }
    }
    let lower: Vec<u8> = head.iter().take(64).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some("text/html");
    }
    // Text: valid UTF-8 (a cut last character allowed) without control bytes other than space.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    let clean = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c));
    Some(if text && clean {
        "text/plain"
    } else {
        "application/octet-stream"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime() {
        assert_eq!(sniff_mime(b"MZ\x90\0"), Some("application/x-dosexec"));
        assert_eq!(sniff_mime(b"hello\r\nworld"), Some("text/plain"));
        assert_eq!(sniff_mime(b"\0\x01\x02"), Some("application/octet-stream"));
        assert_eq!(sniff_mime(b""), None);
    }
}
