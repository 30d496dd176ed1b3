//! `T: Serialize` straight to msgpack, with no [`Value`](crate::value::Value) in between.
//!
//! The bytes are exactly what `encode_value(&to_value(x)?)` writes: the same mapping as
//! [`crate::value::to_value`] and the same notepack formats (the writer functions of the
//! msgpack parser are shared), binary as `bin` in place. A msgpack container is written with its
//! length first, so three things make the writer give up, for the caller to fall back to
//! `to_value`: a sequence or map of unknown length, a length hint that the items do not match,
//! and a map with a repeated key (which `to_value` merges). Any error also gives up.

use alloc::string::String;
use alloc::vec::Vec;

use serde::ser::{self, Serialize};

use super::{KeySerializer, ToValueError, f32_to_f64};
use crate::socket::parser::msgpack::{write_bin, write_container_len, write_number, write_str};
use crate::value::Number;

/// Why the direct writer stopped; the caller falls back to `to_value`.
fn give_up() -> ToValueError {
    ToValueError(String::new())
}

/// Appends `value` as msgpack to `out`. On `Err`, `out` holds partial bytes and the caller must
/// fall back to `to_value` (which reports the real error, if any).
pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ToValueError> {
    value.serialize(Writer { out })
}

/// Writes one value.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    #[inline]
    fn number(self, n: Number) -> Result<(), ToValueError> {
        write_number(n, self.out);
        Ok(())
    }

    /// A container header for `len` items (`0x80` maps, `0x90` arrays); gives up on a length
    /// with no msgpack form.
    fn header(self, len: usize, map: bool) -> Result<Compound<'a>, ToValueError> {
        let written = if map {
            write_container_len(len, 0x80, 0xde, 0xdf, self.out)
        } else {
            write_container_len(len, 0x90, 0xdc, 0xdd, self.out)
        };
        if !written {
            return Err(give_up());
        }
        Ok(Compound {
            out: self.out,
            left: len,
        })
    }

    /// `{variant: …}`: the one-entry map of an externally tagged enum, up to its value.
    fn variant(self, variant: &str) -> Writer<'a> {
        self.out.push(0x81);
        write_str(variant, self.out);
        self
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = ToValueError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = MapCompound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), ToValueError> {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), ToValueError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), ToValueError> {
        self.number(Number::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), ToValueError> {
        if let Ok(n) = i64::try_from(v) {
            self.number(Number::from(n))
        } else if let Ok(n) = u64::try_from(v) {
            self.number(Number::PosInt(n))
        } else {
            Err(give_up())
        }
    }

    fn serialize_u8(self, v: u8) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), ToValueError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), ToValueError> {
        self.number(Number::PosInt(v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), ToValueError> {
        match u64::try_from(v) {
            Ok(n) => self.number(Number::PosInt(n)),
            Err(_) => Err(give_up()),
        }
    }

    fn serialize_f32(self, v: f32) -> Result<(), ToValueError> {
        self.number(Number::Float(f32_to_f64(v)))
    }

    fn serialize_f64(self, v: f64) -> Result<(), ToValueError> {
        self.number(Number::Float(v))
    }

    fn serialize_char(self, v: char) -> Result<(), ToValueError> {
        write_str(v.encode_utf8(&mut [0; 4]), self.out);
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), ToValueError> {
        write_str(v, self.out);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), ToValueError> {
        write_bin(v, self.out);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), ToValueError> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), ToValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), ToValueError> {
        self.out.push(0xc0);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), ToValueError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), ToValueError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        value.serialize(self.variant(variant))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, ToValueError> {
        self.header(len.ok_or_else(give_up)?, false)
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, ToValueError> {
        self.header(len, false)
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.header(len, false)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.variant(variant).header(len, false)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapCompound<'a>, ToValueError> {
        let Compound { out, left } = self.header(len.ok_or_else(give_up)?, true)?;
        Ok(MapCompound {
            out,
            left,
            keys: Vec::new(),
            pending: false,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.header(len, true)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, ToValueError> {
        self.variant(variant).header(len, true)
    }
}

/// An array, a struct or a variant being written: `left` items are still due.
pub(crate) struct Compound<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
}

impl Compound<'_> {
    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        self.left = self.left.checked_sub(1).ok_or_else(give_up)?;
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ToValueError> {
        self.left = self.left.checked_sub(1).ok_or_else(give_up)?;
        write_str(key, self.out);
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn finish(self) -> Result<(), ToValueError> {
        if self.left == 0 {
            Ok(())
        } else {
            Err(give_up())
        }
    }
}

/// The sequence-like impls, all items through `Compound::element`.
macro_rules! seq_impls {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = ToValueError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
                self.element(value)
            }

            fn end(self) -> Result<(), ToValueError> {
                self.finish()
            }
        }
    )*};
}

seq_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// The struct-like impls, all fields through `Compound::field`.
macro_rules! struct_impls {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = ToValueError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), ToValueError> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), ToValueError> {
                self.finish()
            }
        }
    )*};
}

struct_impls!(SerializeStruct, SerializeStructVariant);

/// A map being written. The written keys are remembered (as byte ranges of the output) so that
/// a repeated key, which `to_value` would merge, makes the writer give up.
pub(crate) struct MapCompound<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
    keys: Vec<(usize, usize)>,
    /// A key was written and its value not yet.
    pending: bool,
}

impl ser::SerializeMap for MapCompound<'_> {
    type Ok = ();
    type Error = ToValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ToValueError> {
        let key = key.serialize(KeySerializer)?;
        if core::mem::replace(&mut self.pending, true) {
            return Err(give_up());
        }
        self.left = self.left.checked_sub(1).ok_or_else(give_up)?;
        let start = self.out.len();
        write_str(&key, self.out);
        self.keys.push((start, self.out.len()));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ToValueError> {
        if !core::mem::replace(&mut self.pending, false) {
            return Err(give_up());
        }
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    fn end(self) -> Result<(), ToValueError> {
        if self.pending || self.left != 0 {
            return Err(give_up());
        }
        // Equal keys have equal encodings.
        if super::text::repeats(self.out, &self.keys) {
            return Err(give_up());
        }
        Ok(())
    }
}
