//! [`Str`]: a cheaply cloneable UTF-8 string backed by [`Bytes`], so decoders can hand out
//! slices of a received frame without copying.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;
use core::ops::Deref;

/// An immutable UTF-8 string sharing its storage through [`Bytes`].
///
/// Cloning and slicing are O(1) and never copy the text.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(Bytes);

impl Str {
    /// A `Str` pointing at static text (no allocation).
    pub const fn from_static(text: &'static str) -> Self {
        Str(Bytes::from_static(text.as_bytes()))
    }

    /// Wraps bytes after checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, core::str::Utf8Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Str(bytes))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Invariant: the bytes were UTF-8 when this `Str` was built and are immutable.
        match core::str::from_utf8(&self.0) {
            Ok(text) => text,
            Err(_) => unreachable!("Str holds UTF-8 by construction"),
        }
    }

    /// The underlying bytes (UTF-8).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Consumes the `Str`, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A sub-slice by byte range, which must fall on char boundaries (`None` otherwise).
    pub fn slice(&self, range: core::ops::Range<usize>) -> Option<Str> {
        // The bytes are UTF-8, so a boundary is the end or any byte that is not a continuation
        // byte: no need to re-check the whole text.
        let bytes = &self.0;
        let boundary = |i: usize| bytes.get(i).is_none_or(|&b| !(0x80..0xc0).contains(&b));
        (range.start <= range.end
            && range.end <= bytes.len()
            && boundary(range.start)
            && boundary(range.end))
        .then(|| Str(self.0.slice(range)))
    }

    /// `prefix` followed by `text`, with no UTF-8 check: both are UTF-8, so their
    /// concatenation is.
    pub(crate) fn concat(prefix: &str, text: &Str) -> Str {
        let mut out = alloc::vec::Vec::with_capacity(prefix.len() + text.0.len());
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(&text.0);
        Str(Bytes::from(out))
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(text: &'static str) -> Self {
        Str::from_static(text)
    }
}

impl From<String> for Str {
    fn from(text: String) -> Self {
        Str(Bytes::from(text.into_bytes()))
    }
}

impl From<Str> for Bytes {
    fn from(text: Str) -> Self {
        text.0
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}
