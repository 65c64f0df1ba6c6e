//! Writing transferred files under a directory, safely.
//!
//! Data is spooled to a private directory inside the output directory while it streams (nothing is
//! held in memory), then linked to its final name once the transfer is known: the FTP path with
//! `..`, absolute roots, NUL and control characters neutralised and over-long components cut. No
//! existing file is ever replaced: a taken name gets a `.1`, `.2`... suffix. Directories on the way
//! are only ever real directories made here or found as such; a symlink is never followed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest file-name component written, in bytes (most file systems allow 255).
const MAX_COMPONENT: usize = 200;
/// Deepest directory nesting kept from an FTP path.
const MAX_DEPTH: usize = 32;
/// Bytes in a whole relative path (PATH_MAX is 4096, and the output folder needs room too).
const MAX_PATH: usize = 1024;
const SPOOL_PREFIX: &str = ".ftplens-spool-";

static SPOOL_DIRS: AtomicU64 = AtomicU64::new(0);

/// Where files go.
#[derive(Debug)]
pub struct Extractor {
    dir: PathBuf,
    spool_dir: PathBuf,
    next: u64,
    /// The next `.N` suffix to try for each name already taken, so that K transfers of one name
    /// cost O(K) attempts, not O(K^2).
    next_suffix: std::sync::Mutex<std::collections::HashMap<PathBuf, u32>>,
}

/// One data stream being written.
#[derive(Debug)]
pub struct Spool {
    file: BufWriter<File>,
    path: PathBuf,
    pos: u64,
    /// Largest offset written (the spooled length).
    len: u64,
}

impl Spool {
    /// Write `bytes` at stream offset `offset` (after a gap, the hole stays a hole).
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        if offset != self.pos {
            self.file.seek(SeekFrom::Start(offset))?;
        }
        self.file.write_all(bytes)?;
        self.pos = offset + bytes.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

impl Extractor {
    pub fn new(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let n = SPOOL_DIRS.fetch_add(1, Ordering::Relaxed);
        let spool_dir = dir.join(format!("{SPOOL_PREFIX}{}-{n}", std::process::id()));
        fs::create_dir(&spool_dir)?;
        Ok(Extractor {
            dir: dir.to_path_buf(),
            spool_dir,
            next: 0,
            next_suffix: Default::default(),
        })
    }

    /// A new spool file for one data stream.
    pub fn spool(&mut self) -> io::Result<Spool> {
        self.next += 1;
        let path = self.spool_dir.join(format!("{}.data", self.next));
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)?;
        Ok(Spool {
            file: BufWriter::with_capacity(256 * 1024, file),
            path,
            pos: 0,
            len: 0,
        })
    }

    /// Give a spooled stream its final name for `ftp_path`, its bytes at `offset` (a REST
    /// position). Partial files get a `.partial` suffix. Returns the path written.
    pub fn finish(
        &self,
        spool: Spool,
        ftp_path: &str,
        offset: u64,
        partial: bool,
    ) -> io::Result<PathBuf> {
        let mut spool = spool;
        spool.file.flush()?;
        // A hole at the end (a gap before the FIN) is kept as a hole of the right length.
        let rel = safe_relative_path(ftp_path);
        let parent = self.make_parents(rel.parent().unwrap_or(Path::new("")))?;
        let base = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unnamed".into());
        let suffix = if partial { ".partial" } else { "" };
        let key = parent.join(format!("{base}{suffix}"));
        let start = self
            .next_suffix
            .lock()
            .map(|m| m.get(&key).copied().unwrap_or(0))
            .unwrap_or(0);
        let remember = |n: u32| {
            if let Ok(mut m) = self.next_suffix.lock() {
                m.insert(key.clone(), n + 1);
            }
        };
        for n in start.. {
            let name = if n == 0 {
                format!("{base}{suffix}")
            } else {
                format!("{base}.{n}{suffix}")
            };
            let target = parent.join(name);
            if offset == 0 {
                match fs::hard_link(&spool.path, &target) {
                    Ok(()) => {
                        remember(n);
                        return Ok(target);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(_) => {} // no hard links here: copy instead
                }
            }
            let mut out = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            out.seek(SeekFrom::Start(offset))?;
            let mut src = File::open(&spool.path)?;
            io::copy(&mut src, &mut out)?;
            remember(n);
            return Ok(target);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "every numbered name is taken",
        ))
    }

    /// Make (or find) real directories for `rel` under the output directory.
    fn make_parents(&self, rel: &Path) -> io::Result<PathBuf> {
        let mut at = self.dir.clone();
        for comp in rel.components() {
            let name = comp.as_os_str().to_string_lossy().into_owned();
            let mut n = 0;
            loop {
                let candidate = if n == 0 {
                    at.join(&name)
                } else {
                    at.join(format!("{name}~{n}"))
                };
                match fs::symlink_metadata(&candidate) {
                    Ok(m) if m.is_dir() => {
                        at = candidate;
                        break;
                    }
                    Ok(_) => n += 1, // a file or a symlink: never go through it
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        match fs::create_dir(&candidate) {
                            Ok(()) => {
                                at = candidate;
                                break;
                            }
                            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(at)
    }
}

impl Drop for Extractor {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.spool_dir);
    }
}

/// An FTP path as a relative path that cannot leave its base: `..`, `.` and empty components are
/// dropped (so absolute paths become relative), NUL, control characters and backslashes become
/// `_`, components are cut to 200 bytes (keeping a short extension), nesting to 32 levels.
pub fn safe_relative_path(ftp_path: &str) -> PathBuf {
    let mut parts: Vec<String> = Vec::new();
    for comp in ftp_path.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            continue;
        }
        let mut clean: String = comp
            .chars()
            .map(|c| if c.is_control() || c == '\\' { '_' } else { c })
            .collect();
        if clean.trim_matches('.').is_empty() {
            clean = clean.replace('.', "_");
        }
        if parts.is_empty() && clean.starts_with(SPOOL_PREFIX) {
            clean.insert(0, '_');
        }
        parts.push(cut_component(&clean));
    }
    if parts.len() > MAX_DEPTH {
        let last = parts.pop().unwrap_or_default();
        parts.truncate(MAX_DEPTH - 1);
        parts.push(last);
    }
    // Bound the whole relative path well under PATH_MAX: drop directories next to the file name.
    while parts.len() > 1 && parts.iter().map(|p| p.len() + 1).sum::<usize>() > MAX_PATH {
        parts.remove(parts.len() - 2);
    }
    if parts.is_empty() {
        parts.push("unnamed".into());
    }
    parts.iter().collect()
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn cut_component(s: &str) -> String {
    if s.len() <= MAX_COMPONENT {
        return s.to_string();
    }
    let ext = s
        .rfind('.')
        .filter(|&i| s.len() - i <= 16 && i > 0)
        .map(|i| &s[i..])
        .unwrap_or("");
    let keep = floor_char_boundary(s, MAX_COMPONENT - ext.len() - 1);
    format!("{}~{ext}", &s[..keep])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_escape() {
        assert_eq!(
            safe_relative_path("../../etc/passwd"),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(
            safe_relative_path("/pub/./a/../b.txt"),
            PathBuf::from("pub/a/b.txt")
        );
        assert_eq!(safe_relative_path("a\0b"), PathBuf::from("a_b"));
        assert_eq!(safe_relative_path(".."), PathBuf::from("unnamed"));
        assert_eq!(safe_relative_path("..."), PathBuf::from("___"));
        assert_eq!(safe_relative_path(r"..\..\x"), PathBuf::from(".._.._x"));
        let long = format!("{}.tar.gz", "é".repeat(300));
        let cut = safe_relative_path(&long);
        let name = cut.to_str().unwrap();
        assert!(
            name.len() <= MAX_COMPONENT && name.ends_with("~.gz"),
            "{name}"
        );
        let deep = "d/".repeat(100) + "f";
        assert_eq!(safe_relative_path(&deep).components().count(), MAX_DEPTH);
    }

    #[test]
    fn no_overwrite_and_offsets() {
        let dir = std::env::temp_dir().join(format!("ftplens-extract-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut x = Extractor::new(&dir).unwrap();
        let mut write = |data: &[u8], off: u64, partial: bool| {
            let mut s = x.spool().unwrap();
            s.write_at(0, data).unwrap();
            x.finish(s, "/../f.txt", off, partial).unwrap()
        };
        let a = write(b"one", 0, false);
        let b = write(b"two", 0, false);
        let c = write(b"tail", 3, true);
        assert_eq!(a, dir.join("f.txt"));
        assert_eq!(b, dir.join("f.txt.1"));
        assert_eq!(c, dir.join("f.txt.partial"));
        assert_eq!(fs::read(&a).unwrap(), b"one");
        assert_eq!(fs::read(&b).unwrap(), b"two");
        assert_eq!(fs::read(&c).unwrap(), b"\0\0\0tail");
        drop(x);
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 3, "spool directory removed");
        fs::remove_dir_all(&dir).unwrap();
    }
}
