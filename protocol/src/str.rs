//! [`Str`]: a cheaply cloneable UTF-8 string backed by [`Bytes`], so decoders can hand out
//! slices of a received frame without copying.

use alloc::string::String;
use bytes::Bytes;
use bytestring::ByteString;
use core::fmt;
use core::ops::Deref;

/// An immutable UTF-8 string sharing its storage through [`Bytes`].
///
/// Cloning and slicing are O(1) and never copy the text; reading it as `&str` is O(1) too
/// (the UTF-8 is checked once, when the `Str` is made: `bytestring` keeps that invariant, so
/// this crate needs no `unsafe` of its own).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(ByteString);

impl Str {
    /// A `Str` pointing at static text (no allocation).
    pub const fn from_static(text: &'static str) -> Self {
        Str(ByteString::from_static(text))
    }

    /// Wraps bytes after checking that they are UTF-8.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, core::str::Utf8Error> {
        ByteString::try_from(bytes).map(Str)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying bytes (UTF-8).
    pub fn as_bytes(&self) -> &Bytes {
        self.0.as_bytes()
    }

    /// Consumes the `Str`, returning its bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }

    /// A sub-slice by byte range, which must fall on char boundaries (`None` otherwise).
    pub fn slice(&self, range: core::ops::Range<usize>) -> Option<Str> {
        self.as_str()
            .get(range)
            .map(|part| Str(self.0.slice_ref(part)))
    }

    /// `prefix` followed by `text`, with no UTF-8 check: both are UTF-8, so their
    /// concatenation is.
    pub(crate) fn concat(prefix: &str, text: &Str) -> Str {
        let mut out = String::with_capacity(prefix.len() + text.len());
        out.push_str(prefix);
        out.push_str(text);
        Str::from(out)
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
        Str(ByteString::from(text))
    }
}

impl From<Str> for Bytes {
    fn from(text: Str) -> Self {
        text.0.into_bytes()
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
