//! JSON text <-> [`Value`], written the way `JSON.stringify` writes it.
//!
//! Three readers share one grammar (RFC 8259, the grammar `JSON.parse` accepts):
//!
//! - [`parse`] builds a [`Value`];
//! - [`validate`] only checks the text, without allocating (the socket decoder runs it on every
//!   received packet and keeps the text as it came);
//! - [`validate_event`] checks that the text is an array and hands back its first item, which
//!   is what the event rule of the socket layer looks at.
//!
//! Typed values go to and from JSON text in one pass, with no [`Value`] tree in between:
//! [`to_payload`] / [`event_payload`] / [`to_text`] (a serde `Serializer` writing exactly what
//! [`write()`] writes for `to_value(x)`) and [`from_slice`] / [`from_event_args`] (a serde
//! `Deserializer` giving exactly what `from_value(parse(text))` gives); see also
//! [`Payload::deserialize`](crate::socket::Payload::deserialize) and
//! [`Payload::event_args`](crate::socket::Payload::event_args).
//!
//! For any input, `validate(text, d)` and `parse(text, d).map(drop)` give the same result, error
//! kind included. None of them recurses, so no input and no `max_depth` can exhaust the stack
//! while reading (dropping or writing a [`Value`] is recursive, so keep `max_depth` modest).
//!
//! Choices where JSON text, JavaScript and Rust disagree:
//!
//! - **Lone surrogates.** `JSON.parse("\"\\ud800\"")` is valid JavaScript, and `JSON.stringify`
//!   writes lone surrogates as such escapes, so a JavaScript peer can send them. A Rust `String`
//!   cannot hold them: they are accepted and each one becomes U+FFFD. Raw bytes that are not
//!   UTF-8 are rejected ([`JsonError::Syntax`]).
//! - **Duplicate keys.** As in `JSON.parse`, the last value wins and keeps the position of the
//!   first occurrence: `{"a":1,"b":2,"a":3}` parses as `{"a":3,"b":2}`. (JavaScript objects also
//!   move integer-like keys such as `"1"` to the front; that is not done: order is kept as sent.)
//! - **Numbers.** Integers without fraction or exponent that fit `u64` (or `i64` when negative)
//!   stay exact; every other number is an `f64` (`-0` is `-0.0`). A number that overflows `f64`
//!   (`1e400`) is refused with [`JsonError::NumberOutOfRange`]: `JSON.stringify` never writes
//!   one, and a decoded [`Value`] holds only finite floats.
//! - **Binary.** JSON has no binary type; [`write()`] writes [`Value::Binary`] the way Node writes
//!   a `Buffer` (`Buffer.prototype.toJSON`): `{"type":"Buffer","data":[1,2,3]}`. The common
//!   parser replaces binary with placeholders before writing, so this is only a fallback.
//! - **Non-finite floats** are written as `null`, as `JSON.stringify` does.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::value::{Number, Value};

/// Why a JSON text was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not valid JSON (or not UTF-8).
    Syntax,
    /// Arrays/objects nest deeper than the allowed depth.
    TooDeep,
    /// A number is too large for an `f64` (it would be `Infinity` in JavaScript).
    NumberOutOfRange,
    /// [`validate_event`] was given valid-looking text that does not start with an array.
    NotAnArray,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "invalid JSON text",
            JsonError::TooDeep => "JSON nesting too deep",
            JsonError::NumberOutOfRange => "JSON number out of range",
            JsonError::NotAnArray => "JSON text is not an array",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JsonError {}

/// The first item of an event array, as [`validate_event`] reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventHead<'a> {
    /// The array is empty (`[]`).
    Empty,
    /// The first item is a string: the decoded event name (borrowed unless it had escapes).
    Name(Cow<'a, str>),
    /// The first item is a number.
    Number(Number),
    /// The first item is `null`, a boolean, an array or an object.
    Other,
}

// ---------------------------------------------------------------------------------------------
// Shared lexing
// ---------------------------------------------------------------------------------------------

/// `true` for bytes that can appear unescaped inside a string (not `"`, `\` or a control char).
/// Bytes >= 0x80 are plain here; runs holding them are checked to be UTF-8 separately.
static PLAIN: [bool; 256] = {
    let mut table = [true; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = false;
        i += 1;
    }
    table[b'"' as usize] = false;
    table[b'\\' as usize] = false;
    table
};

/// The value of one hex digit.
#[inline]
fn hex_value(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

/// A cursor over JSON text.
///
/// UTF-8 is checked in one of two ways. When the whole text was checked up front (`src` is set:
/// [`parse`] does that, as it needs `&str` slices of every string), slicing is free. Otherwise
/// (the validators, or text that failed the up-front check) it is checked where it matters:
/// outside strings any byte >= 0x80 is a syntax error anyway, and inside strings each run of
/// unescaped bytes holding non-ASCII bytes is checked as it is read. Both ways find the same
/// errors in the same order.
pub(crate) struct Lexer<'a> {
    bytes: &'a [u8],
    src: Option<&'a str>,
    pub(crate) pos: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer that checks UTF-8 as it goes.
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Lexer {
            bytes: text,
            src: None,
            pos: 0,
        }
    }

    /// A lexer over text checked up front, if it is UTF-8 (else one that checks as it goes).
    pub(crate) fn checked(text: &'a [u8]) -> Self {
        Lexer {
            bytes: text,
            src: core::str::from_utf8(text).ok(),
            pos: 0,
        }
    }

    /// `bytes[start..end]` as text, if it is UTF-8.
    #[inline]
    fn text(&self, start: usize, end: usize) -> Result<&'a str, JsonError> {
        if let Some(src) = self.src {
            return src.get(start..end).ok_or(JsonError::Syntax);
        }
        let bytes = self.bytes.get(start..end).ok_or(JsonError::Syntax)?;
        core::str::from_utf8(bytes).map_err(|_| JsonError::Syntax)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline]
    pub(crate) fn peek_token(&mut self) -> Option<u8> {
        self.skip_ws();
        self.peek()
    }

    /// Consumes `byte` (after whitespace) or fails.
    #[inline]
    pub(crate) fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek_token() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// Succeeds if only whitespace is left.
    pub(crate) fn end(&mut self) -> Result<(), JsonError> {
        match self.peek_token() {
            None => Ok(()),
            Some(_) => Err(JsonError::Syntax),
        }
    }

    /// Consumes the literal `word` (the first byte was already matched by the caller).
    #[inline]
    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        match self.bytes.get(self.pos..self.pos + word.len()) {
            Some(found) if found == word => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(JsonError::Syntax),
        }
    }

    /// Skips bytes that need no attention inside a string, eight at a time where possible;
    /// returns whether all of them were ASCII.
    #[inline]
    fn skip_plain(&mut self) -> bool {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let mut high = 0u64;
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            let word = u64::from_le_bytes(chunk);
            // Flags (in the high bit of each byte) bytes < 0x20, `"` and `\\`; the lowest flag
            // is exact, which is all that is used.
            let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
            let quote = word ^ (ONES * u64::from(b'"'));
            let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
            let backslash = word ^ (ONES * u64::from(b'\\'));
            let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGH;
            let flags = control | quote | backslash;
            if flags != 0 {
                let skip = (flags.trailing_zeros() / 8) as usize;
                // Only the bytes before the flagged one count.
                let before = word & (1u64 << (8 * skip)).wrapping_sub(1);
                self.pos += skip;
                return (high | before) & HIGH == 0;
            }
            high |= word;
            self.pos += 8;
        }
        let mut ascii = high & HIGH == 0;
        while let Some(&b) = self.bytes.get(self.pos) {
            if !PLAIN[usize::from(b)] {
                break;
            }
            ascii &= b < 0x80;
            self.pos += 1;
        }
        ascii
    }

    /// Skips one value (checking it), nested at most `max_depth` deep.
    pub(crate) fn skip_value(&mut self, max_depth: usize) -> Result<(), JsonError> {
        let mut validator = Validator {
            lex: Lexer {
                bytes: self.bytes,
                src: self.src,
                pos: self.pos,
            },
            stack: KindStack::new(),
            max_depth,
        };
        validator.run(false, 0)?;
        self.pos = validator.lex.pos;
        Ok(())
    }

    /// The text between two positions (of a value already checked).
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a [u8] {
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Reads the four hex digits after `\u` (at `pos`) and consumes them.
    #[inline]
    fn hex4(&mut self) -> Result<u16, JsonError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or(JsonError::Syntax)?;
        let mut unit = 0u16;
        for &d in digits {
            unit = (unit << 4) | hex_value(d).ok_or(JsonError::Syntax)?;
        }
        self.pos += 4;
        Ok(unit)
    }

    /// Skips a string whose opening quote is at `pos`, checking its escapes.
    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        loop {
            let start = self.pos;
            if !self.skip_plain() {
                self.text(start, self.pos)?;
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1;
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        _ => return Err(JsonError::Syntax),
                    }
                }
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// Reads a string whose opening quote is at `pos`, resolving escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1;
        let start = self.pos;
        self.skip_plain();
        let text = self.text(start, self.pos)?;
        if self.peek() == Some(b'"') {
            self.pos += 1;
            return Ok(Cow::Borrowed(text));
        }
        let mut out = String::from(text);
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            let run = self.pos;
                            self.skip_plain();
                            out.push_str(self.text(run, self.pos)?);
                            continue;
                        }
                        _ => return Err(JsonError::Syntax),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                _ => return Err(JsonError::Syntax),
            }
            let run = self.pos;
            self.skip_plain();
            out.push_str(self.text(run, self.pos)?);
        }
    }

    /// Decodes the code unit(s) of a `\u` escape (after the `u`); lone surrogates → U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let unit = self.hex4()?;
        match unit {
            0xD800..=0xDBFF => {
                // A high surrogate: combine with a following `\uDC00..DFFF`, else replace it
                // and leave whatever follows to be read normally.
                if self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.hex4()?;
                    if (0xDC00..=0xDFFF).contains(&low) {
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    }
                    self.pos = save;
                }
                Ok('\u{FFFD}')
            }
            0xDC00..=0xDFFF => Ok('\u{FFFD}'),
            _ => Ok(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')),
        }
    }

    /// Scans the number at `pos`, checking the grammar only.
    #[inline]
    fn scan_number(&mut self) -> Result<NumberScan, JsonError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let mut magnitude: Option<u64> = Some(0);
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    magnitude = magnitude
                        .and_then(|m| m.checked_mul(10))
                        .and_then(|m| m.checked_add(u64::from(d - b'0')));
                    self.pos += 1;
                }
            }
            _ => return Err(JsonError::Syntax),
        }
        // Without an exponent, fewer than 309 integer digits cannot overflow f64.
        let mut may_overflow = self.pos - int_start > 308;
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            integer = false;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            integer = false;
            may_overflow = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        let magnitude = if integer { magnitude } else { None };
        Ok(NumberScan {
            magnitude,
            negative,
            may_overflow,
        })
    }

    /// One or more decimal digits.
    #[inline]
    fn digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(JsonError::Syntax);
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        Ok(())
    }

    /// Reads the number at `pos` into a [`Number`].
    pub(crate) fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.pos;
        let scan = self.scan_number()?;
        match (scan.magnitude, scan.negative) {
            (Some(m), false) => Ok(Number::PosInt(m)),
            (Some(0), true) => Ok(Number::Float(-0.0)),
            (Some(m), true) if m <= 1 << 63 => Ok(Number::NegInt((m as i64).wrapping_neg())),
            _ => self.float(start).map(Number::Float),
        }
    }

    /// Parses `bytes[start..pos]` (already checked) as a finite `f64`.
    fn float(&self, start: usize) -> Result<f64, JsonError> {
        let text = self.text(start, self.pos)?;
        let f: f64 = text.parse().map_err(|_| JsonError::Syntax)?;
        if f.is_finite() {
            Ok(f)
        } else {
            Err(JsonError::NumberOutOfRange)
        }
    }

    /// Skips the number at `pos`, checking grammar and range exactly as [`Lexer::number`] does.
    #[inline]
    fn skip_number(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        let scan = self.scan_number()?;
        if scan.magnitude.is_none() && scan.may_overflow {
            self.float(start)?;
        }
        Ok(())
    }
}

/// What [`Lexer::scan_number`] learned about a number.
struct NumberScan {
    /// The magnitude, if the number is a plain integer that fits `u64`.
    magnitude: Option<u64>,
    /// Whether it starts with `-`.
    negative: bool,
    /// Whether it could overflow `f64` (has an exponent or more than 308 integer digits).
    may_overflow: bool,
}

// ---------------------------------------------------------------------------------------------
// Validation (no allocation up to 256 levels)
// ---------------------------------------------------------------------------------------------

/// One bit per open container (1 = object), inline for the first 256 levels.
struct KindStack {
    inline: [u64; 4],
    spill: Vec<u64>,
    depth: usize,
}

impl KindStack {
    fn new() -> Self {
        KindStack {
            inline: [0; 4],
            spill: Vec::new(),
            depth: 0,
        }
    }

    fn word(&mut self, level: usize) -> &mut u64 {
        let index = level / 64;
        if index < 4 {
            &mut self.inline[index]
        } else {
            let spill_index = index - 4;
            if self.spill.len() <= spill_index {
                self.spill.resize(spill_index + 1, 0);
            }
            &mut self.spill[spill_index]
        }
    }

    #[inline]
    fn push(&mut self, object: bool) {
        let level = self.depth;
        let bit = 1u64 << (level % 64);
        let word = self.word(level);
        if object {
            *word |= bit;
        } else {
            *word &= !bit;
        }
        self.depth += 1;
    }

    /// Whether the innermost open container is an object (`None` at top level).
    #[inline]
    fn top_is_object(&mut self) -> Option<bool> {
        let level = self.depth.checked_sub(1)?;
        let bit = 1u64 << (level % 64);
        Some(*self.word(level) & bit != 0)
    }
}

/// The validating scanner: a loop over "expect a value" / "after a value" states.
struct Validator<'a> {
    lex: Lexer<'a>,
    stack: KindStack,
    max_depth: usize,
}

impl Validator<'_> {
    #[inline]
    fn open(&mut self, object: bool) -> Result<(), JsonError> {
        if self.stack.depth >= self.max_depth {
            return Err(JsonError::TooDeep);
        }
        self.stack.push(object);
        Ok(())
    }

    /// Reads until a value completes with `floor` containers open; `after_value` says whether
    /// a value was just completed when starting.
    fn run(&mut self, mut after_value: bool, floor: usize) -> Result<(), JsonError> {
        loop {
            if !after_value {
                match self.lex.peek_token() {
                    Some(b'[') => {
                        self.open(false)?;
                        self.lex.pos += 1;
                        if self.lex.peek_token() != Some(b']') {
                            continue;
                        }
                        self.lex.pos += 1;
                        self.stack.depth -= 1;
                    }
                    Some(b'{') => {
                        self.open(true)?;
                        self.lex.pos += 1;
                        match self.lex.peek_token() {
                            Some(b'}') => {
                                self.lex.pos += 1;
                                self.stack.depth -= 1;
                            }
                            Some(b'"') => {
                                self.lex.skip_string()?;
                                self.lex.expect(b':')?;
                                continue;
                            }
                            _ => return Err(JsonError::Syntax),
                        }
                    }
                    Some(b'"') => self.lex.skip_string()?,
                    Some(b'-' | b'0'..=b'9') => self.lex.skip_number()?,
                    Some(b't') => self.lex.literal(b"true")?,
                    Some(b'f') => self.lex.literal(b"false")?,
                    Some(b'n') => self.lex.literal(b"null")?,
                    _ => return Err(JsonError::Syntax),
                }
                after_value = true;
            }
            if self.stack.depth <= floor {
                return Ok(());
            }
            let object = self.stack.top_is_object().unwrap_or(false);
            match self.lex.peek_token() {
                Some(b',') => {
                    self.lex.pos += 1;
                    if object {
                        if self.lex.peek_token() != Some(b'"') {
                            return Err(JsonError::Syntax);
                        }
                        self.lex.skip_string()?;
                        self.lex.expect(b':')?;
                    }
                    after_value = false;
                }
                Some(b']') if !object => {
                    self.lex.pos += 1;
                    self.stack.depth -= 1;
                }
                Some(b'}') if object => {
                    self.lex.pos += 1;
                    self.stack.depth -= 1;
                }
                _ => return Err(JsonError::Syntax),
            }
        }
    }
}

/// Checks that `text` is exactly one valid JSON value nested at most `max_depth` deep.
///
/// Accepts exactly what [`parse`] accepts, with the same error, but builds nothing and does not
/// allocate (unless nesting exceeds 256 levels and `max_depth` allows it).
pub fn validate(text: &[u8], max_depth: usize) -> Result<(), JsonError> {
    let mut validator = Validator {
        lex: Lexer::new(text),
        stack: KindStack::new(),
        max_depth,
    };
    validator.run(false, 0)?;
    validator.lex.end()
}

/// Validates `text` like [`validate`], also requires it to be an array, and returns its head.
///
/// One pass: the first item is decoded while validating (a string name is borrowed from `text`
/// unless it holds escapes). Text whose first token is not `[` is refused with
/// [`JsonError::NotAnArray`] without reading further.
pub fn validate_event(text: &[u8], max_depth: usize) -> Result<EventHead<'_>, JsonError> {
    let mut validator = Validator {
        lex: Lexer::new(text),
        stack: KindStack::new(),
        max_depth,
    };
    if validator.lex.peek_token() != Some(b'[') {
        return Err(JsonError::NotAnArray);
    }
    validator.open(false)?;
    validator.lex.pos += 1;
    let head = match validator.lex.peek_token() {
        Some(b']') => {
            validator.lex.pos += 1;
            validator.stack.depth -= 1;
            EventHead::Empty
        }
        Some(b'"') => EventHead::Name(validator.lex.string()?),
        Some(b'-' | b'0'..=b'9') => EventHead::Number(validator.lex.number()?),
        _ => {
            validator.run(false, 1)?;
            EventHead::Other
        }
    };
    validator.run(true, 0)?;
    validator.lex.end()?;
    Ok(head)
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// An open container while parsing.
enum Frame {
    /// An array and the items read so far.
    Array(Vec<Value>),
    /// An object, the entries read so far, and the key whose value is being read.
    Object(Vec<(String, Value)>, String),
}

/// Parses JSON text into a [`Value`], refusing nesting deeper than `max_depth`.
///
/// Objects keep their key order; for duplicate keys the last value wins at the place of the
/// first. Lone surrogate escapes become U+FFFD. See the [module docs](self) for details.
pub fn parse(text: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut lex = Lexer::checked(text);
    let mut stack: Vec<Frame> = Vec::new();
    'value: loop {
        // Read a value (or open a container and go read its first item).
        let mut value = match lex.peek_token() {
            Some(b'[') => {
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep);
                }
                lex.pos += 1;
                if lex.peek_token() == Some(b']') {
                    lex.pos += 1;
                    Value::Array(Vec::new())
                } else {
                    stack.push(Frame::Array(Vec::new()));
                    continue 'value;
                }
            }
            Some(b'{') => {
                if stack.len() >= max_depth {
                    return Err(JsonError::TooDeep);
                }
                lex.pos += 1;
                match lex.peek_token() {
                    Some(b'}') => {
                        lex.pos += 1;
                        Value::Object(Vec::new())
                    }
                    Some(b'"') => {
                        let key = lex.string()?.into_owned();
                        lex.expect(b':')?;
                        stack.push(Frame::Object(Vec::new(), key));
                        continue 'value;
                    }
                    _ => return Err(JsonError::Syntax),
                }
            }
            Some(b'"') => Value::String(lex.string()?.into_owned()),
            Some(b'-' | b'0'..=b'9') => Value::Number(lex.number()?),
            Some(b't') => {
                lex.literal(b"true")?;
                Value::Bool(true)
            }
            Some(b'f') => {
                lex.literal(b"false")?;
                Value::Bool(false)
            }
            Some(b'n') => {
                lex.literal(b"null")?;
                Value::Null
            }
            _ => return Err(JsonError::Syntax),
        };
        // Hand the finished value to its container; close containers as they end.
        loop {
            match stack.last_mut() {
                None => {
                    lex.end()?;
                    return Ok(value);
                }
                Some(Frame::Array(items)) => {
                    items.push(value);
                    match lex.peek_token() {
                        Some(b',') => {
                            lex.pos += 1;
                            continue 'value;
                        }
                        Some(b']') => {
                            lex.pos += 1;
                            value = match stack.pop() {
                                Some(Frame::Array(items)) => Value::Array(items),
                                _ => return Err(JsonError::Syntax),
                            };
                        }
                        _ => return Err(JsonError::Syntax),
                    }
                }
                Some(Frame::Object(entries, key)) => {
                    entries.push((core::mem::take(key), value));
                    match lex.peek_token() {
                        Some(b',') => {
                            lex.pos += 1;
                            if lex.peek_token() != Some(b'"') {
                                return Err(JsonError::Syntax);
                            }
                            *key = lex.string()?.into_owned();
                            lex.expect(b':')?;
                            continue 'value;
                        }
                        Some(b'}') => {
                            lex.pos += 1;
                            value = match stack.pop() {
                                Some(Frame::Object(entries, _)) => {
                                    Value::Object(dedup_keys(entries))
                                }
                                _ => return Err(JsonError::Syntax),
                            };
                        }
                        _ => return Err(JsonError::Syntax),
                    }
                }
            }
        }
    }
}

/// Removes duplicate keys the way `JSON.parse` does: the last value wins, at the position of
/// the first occurrence. Entries without duplicates are returned untouched.
pub(crate) fn dedup_keys(entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
    const SMALL: usize = 16;
    let n = entries.len();
    if n < 2 {
        return entries;
    }
    // For each entry, the index of the first entry with the same key.
    let mut first_of: Vec<usize> = Vec::new();
    if n <= SMALL {
        let duplicated = (1..n).any(|i| entries[..i].iter().any(|(k, _)| *k == entries[i].0));
        if !duplicated {
            return entries;
        }
        for i in 0..n {
            let first = entries[..i]
                .iter()
                .position(|(k, _)| *k == entries[i].0)
                .unwrap_or(i);
            first_of.push(first);
        }
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0).then(a.cmp(&b)));
        first_of = (0..n).collect();
        let mut duplicated = false;
        let mut group_first = order[0];
        for pair in order.windows(2) {
            if entries[pair[0]].0 == entries[pair[1]].0 {
                first_of[pair[1]] = group_first;
                duplicated = true;
            } else {
                group_first = pair[1];
            }
        }
        if !duplicated {
            return entries;
        }
    }
    let mut slots: Vec<Option<(String, Value)>> = entries.into_iter().map(Some).collect();
    for i in 0..n {
        let first = first_of[i];
        if first != i {
            // Later occurrences come later in index order, so the last one is written last.
            if let Some((_, value)) = slots[i].take()
                && let Some((_, kept)) = &mut slots[first]
            {
                *kept = value;
            }
        }
    }
    slots.into_iter().flatten().collect()
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Where the writers append: bytes ([`Vec<u8>`]) or text ([`String`]). Writing into a `String`
/// needs no UTF-8 check afterwards, since every piece written is a `&str` or an ASCII byte.
pub trait JsonSink {
    /// Appends text.
    fn push_text(&mut self, text: &str);
    /// Appends one ASCII byte (callers only pass bytes below 0x80).
    fn push_ascii(&mut self, byte: u8);
    /// The bytes written so far.
    fn written(&self) -> &[u8];
    /// Reserves room for `additional` more bytes.
    fn reserve_bytes(&mut self, additional: usize);
}

impl JsonSink for Vec<u8> {
    #[inline]
    fn push_text(&mut self, text: &str) {
        self.extend_from_slice(text.as_bytes());
    }
    #[inline]
    fn push_ascii(&mut self, byte: u8) {
        self.push(byte);
    }
    #[inline]
    fn written(&self) -> &[u8] {
        self
    }
    #[inline]
    fn reserve_bytes(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl JsonSink for String {
    #[inline]
    fn push_text(&mut self, text: &str) {
        self.push_str(text);
    }
    #[inline]
    fn push_ascii(&mut self, byte: u8) {
        debug_assert!(byte.is_ascii());
        self.push(char::from(byte));
    }
    #[inline]
    fn written(&self) -> &[u8] {
        self.as_bytes()
    }
    #[inline]
    fn reserve_bytes(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

/// Appends `value` as compact JSON, exactly as `JSON.stringify` would write it.
///
/// Strings are escaped like `JSON.stringify` (see [`write_str`]), numbers written like
/// JavaScript (see [`write_number`]), object keys in their order. [`Value::Binary`] has no
/// JSON form and is written the way Node writes a `Buffer`: `{"type":"Buffer","data":[1,2]}`.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    write_into(value, out);
}

/// [`write()`] into a `String` (no UTF-8 check needed on the result).
pub fn write_string(value: &Value, out: &mut String) {
    write_into(value, out);
}

/// [`write()`] into any [`JsonSink`].
pub fn write_into<W: JsonSink + ?Sized>(value: &Value, out: &mut W) {
    match value {
        Value::Null => out.push_text("null"),
        Value::Bool(true) => out.push_text("true"),
        Value::Bool(false) => out.push_text("false"),
        Value::Number(n) => write_number_into(*n, out),
        Value::String(s) => write_str_into(s, out),
        Value::Binary(bytes) => {
            out.push_text("{\"type\":\"Buffer\",\"data\":[");
            let mut buffer = itoa::Buffer::new();
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push_ascii(b',');
                }
                out.push_text(buffer.format(*b));
            }
            out.push_text("]}");
        }
        Value::Array(items) => {
            out.push_ascii(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_ascii(b',');
                }
                write_into(item, out);
            }
            out.push_ascii(b']');
        }
        Value::Object(entries) => {
            out.push_ascii(b'{');
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_ascii(b',');
                }
                write_str_into(key, out);
                out.push_ascii(b':');
                write_into(item, out);
            }
            out.push_ascii(b'}');
        }
    }
}

/// `value` as compact JSON (see [`write()`]).
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out);
    out
}

/// `value` as compact JSON text (see [`write()`]).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_string(value, &mut out);
    out
}

/// Appends a number as JavaScript writes it: integers exactly, floats like
/// `Number.prototype.toString` (`1`, `0.1`, `1e+21`, `-0` as `0`), non-finite floats as `null`.
pub fn write_number(number: Number, out: &mut Vec<u8>) {
    write_number_into(number, out);
}

/// [`write_number`] into any [`JsonSink`].
#[inline]
pub fn write_number_into<W: JsonSink + ?Sized>(number: Number, out: &mut W) {
    match number {
        Number::PosInt(n) => out.push_text(itoa::Buffer::new().format(n)),
        Number::NegInt(n) => out.push_text(itoa::Buffer::new().format(n)),
        Number::Float(f) if !f.is_finite() => out.push_text("null"),
        Number::Float(0.0) => out.push_ascii(b'0'),
        Number::Float(f) => out.push_text(ryu_js::Buffer::new().format_finite(f)),
    }
}

/// The escape for each byte: 0 = none, `u` = `\u00XX`, else the letter after the backslash.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// The index of the first byte at or after `from` that needs escaping in a JSON string (a
/// control character, `"` or `\`), or `bytes.len()`. Eight bytes at a time where possible.
#[inline]
fn next_escape(bytes: &[u8], mut from: usize) -> usize {
    /// The flags (high bit of each byte) of the bytes needing an escape; the lowest flag is
    /// exact (borrows only propagate upwards), which is all that is used.
    #[inline]
    fn flags(word: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let quote = word ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGH;
        control | quote | backslash
    }
    while let Some(chunk) = bytes.get(from..from + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let found = flags(u64::from_le_bytes(chunk));
        if found != 0 {
            return from + (found.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if ESCAPE[usize::from(b)] != 0 {
            return from;
        }
        from += 1;
    }
    bytes.len()
}

/// Appends `text` as a JSON string literal, escaped exactly as `JSON.stringify` escapes it:
/// `"` `\` `\b` `\f` `\n` `\r` `\t`, other control characters as `\u00xx`, nothing else.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    write_str_into(text, out);
}

/// [`write_str`] into any [`JsonSink`].
pub fn write_str_into<W: JsonSink + ?Sized>(text: &str, out: &mut W) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve_bytes(bytes.len() + 2);
    out.push_ascii(b'"');
    let mut i = next_escape(bytes, 0);
    if i == bytes.len() {
        // The common case: nothing to escape.
        out.push_text(text);
        out.push_ascii(b'"');
        return;
    }
    let mut run = 0;
    loop {
        // Escaped bytes are ASCII, so `run` and `i` are char boundaries.
        if let Some(plain) = text.get(run..i) {
            out.push_text(plain);
        }
        let Some(&b) = bytes.get(i) else {
            break;
        };
        run = i + 1;
        let escape = ESCAPE[usize::from(b)];
        if escape == b'u' {
            out.push_text("\\u00");
            out.push_ascii(HEX[usize::from(b >> 4)]);
            out.push_ascii(HEX[usize::from(b & 0xf)]);
        } else {
            out.push_ascii(b'\\');
            out.push_ascii(escape);
        }
        i = next_escape(bytes, run);
    }
    out.push_ascii(b'"');
}

// ---------------------------------------------------------------------------------------------
// Typed values straight to and from JSON text
// ---------------------------------------------------------------------------------------------

/// Serializes `value` into a [`Payload`](crate::socket::Payload), as JSON text where possible:
/// see [`Payload::from_serialize`](crate::socket::Payload::from_serialize).
pub fn to_payload<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<crate::socket::Payload, crate::value::ToValueError> {
    crate::socket::Payload::from_serialize(value)
}

/// Serializes an event `[name, ...args]` into a [`Payload`](crate::socket::Payload): see
/// [`Payload::event`](crate::socket::Payload::event).
pub fn event_payload<T: serde::Serialize + ?Sized>(
    name: &str,
    args: &T,
) -> Result<crate::socket::Payload, crate::value::ToValueError> {
    crate::socket::Payload::event(name, args)
}

/// `value` as JSON text, exactly as `to_string(&to_value(value)?)` writes it, in one pass with
/// no [`Value`] tree. `Ok(None)` if it holds bytes (binary has no JSON form; use
/// [`to_payload`]).
pub fn to_text<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<Option<String>, crate::value::ToValueError> {
    let mut out = String::new();
    if crate::value::text_ser::write(value, &mut out).is_ok() {
        return Ok(Some(out));
    }
    let tree = crate::value::to_value(value)?;
    Ok((!tree.has_binary()).then(|| to_string(&tree)))
}

/// Why JSON text could not be read into a typed value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FromJsonError {
    /// The text is not valid JSON (or nests too deep): what [`parse`] reports.
    Json(JsonError),
    /// The JSON does not fit the type: what [`from_value`](crate::value::from_value) reports.
    Data(crate::value::FromValueError),
}

impl fmt::Display for FromJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromJsonError::Json(e) => e.fmt(f),
            FromJsonError::Data(e) => e.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FromJsonError {}

/// Reads JSON text straight into `T`, in one pass with no [`Value`] tree.
///
/// Gives exactly what `from_value::<T>(parse(text, max_depth)?)` gives, errors included
/// (a [`JsonError`] as [`FromJsonError::Json`], a
/// [`FromValueError`](crate::value::FromValueError) as [`FromJsonError::Data`]): the same
/// numbers (an integral float such as `1e3` fits an integer type), lone surrogates as U+FFFD,
/// repeated keys merged (last value wins), Node `Buffer` objects as bytes. Rare shapes (a
/// repeated or escaped object key, an enum written as an object, bytes, any error) are read
/// through that exact slow path.
pub fn from_slice<T: serde::de::DeserializeOwned>(
    text: &[u8],
    max_depth: usize,
) -> Result<T, FromJsonError> {
    crate::socket::Payload::read_json(text, max_depth, false)
}

/// Reads the arguments of an event array `[name, ...args]` straight into `T` (usually a tuple),
/// skipping the name: exactly `from_value::<T>(Value::Array(args))` where `args` are the items
/// after the first (see [`from_slice`]). Text that is not a non-empty array is refused with
/// [`FromJsonError::Data`] (or [`FromJsonError::Json`] if it is not JSON).
pub fn from_event_args<T: serde::de::DeserializeOwned>(
    text: &[u8],
    max_depth: usize,
) -> Result<T, FromJsonError> {
    crate::socket::Payload::read_json(text, max_depth, true)
}
