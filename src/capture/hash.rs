//! Digests of transferred data: sha256 (the default), md5 and sha1, the three that Zeek's
//! files.log and Suricata's fileinfo carry, so that ours can be matched against theirs and
//! against hash lists. The RustCrypto crates (sha2, md-5, sha1) do the work.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// One digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Md5,
    Sha1,
}

impl Algorithm {
    /// Every algorithm, in the order records list them.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Md5, Algorithm::Sha1];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Which digests to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms(u8);

impl Algorithms {
    pub const NONE: Algorithms = Algorithms(0);
    pub const SHA256: Algorithms = Algorithms(1);

    pub fn contains(self, a: Algorithm) -> bool {
        self.0 & a.bit() != 0
    }

    pub fn with(self, a: Algorithm) -> Algorithms {
        Algorithms(self.0 | a.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A hasher for these algorithms, or `None` when there are none.
    pub fn hasher(self) -> Option<Hasher> {
        (!self.is_empty()).then(|| Hasher {
            sha256: self.contains(Algorithm::Sha256).then(Sha256::new),
            md5: self.contains(Algorithm::Md5).then(Md5::new),
            sha1: self.contains(Algorithm::Sha1).then(Sha1::new),
        })
    }
}

impl Default for Algorithms {
    fn default() -> Self {
        Algorithms::SHA256
    }
}

/// A name that is not an algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(pub String);

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown hash {:?} (known: sha256, md5, sha1, none)",
            self.0
        )
    }
}

impl std::error::Error for UnknownAlgorithm {}

/// `sha256,md5,sha1` (any order, any subset), or `none`.
impl FromStr for Algorithms {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = Algorithms::NONE;
        for name in s.split(',').map(str::trim) {
            if name.eq_ignore_ascii_case("none") {
                continue;
            }
            let a = Algorithm::ALL
                .into_iter()
                .find(|a| a.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| UnknownAlgorithm(name.to_string()))?;
            set = set.with(a);
        }
        Ok(set)
    }
}

/// Running digests of one stream of bytes.
#[derive(Debug, Clone)]
pub struct Hasher {
    sha256: Option<Sha256>,
    md5: Option<Md5>,
    sha1: Option<Sha1>,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(bytes);
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.map(|h| hex(&h.finalize())),
            md5: self.md5.map(|h| hex(&h.finalize())),
            sha1: self.sha1.map(|h| hex(&h.finalize())),
        }
    }
}

/// Finished digests, lowercase hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
}

impl Digests {
    /// The digests of no bytes at all (a data connection that carried nothing).
    pub fn of_nothing(algorithms: Algorithms) -> Digests {
        algorithms.hasher().map(Hasher::finish).unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_order() {
        let all: Algorithms = "md5,SHA1, sha256".parse().unwrap();
        assert!(Algorithm::ALL.iter().all(|a| all.contains(*a)));
        assert_eq!("none".parse::<Algorithms>(), Ok(Algorithms::NONE));
        assert!("sha512".parse::<Algorithms>().is_err());
    }

    /// The published test vectors of "abc" (FIPS 180-2 appendix B, RFC 1321 appendix A.5).
    #[test]
    fn known_vectors() {
        let mut h = "sha256,md5,sha1"
            .parse::<Algorithms>()
            .unwrap()
            .hasher()
            .unwrap();
        h.update(b"a");
        h.update(b"bc");
        let d = h.finish();
        assert_eq!(
            d.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(d.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            d.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
    }
}
