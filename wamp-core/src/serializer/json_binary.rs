//! JSON with the WAMP binary convention.
//!
//! JSON has no binary type, so the WAMP specification (section "Binary
//! support in JSON") carries binary data as a JSON string whose first
//! character is `U+0000` (NUL), followed by the standard, padded base64
//! (RFC 4648 §4) of the bytes. For example the bytes
//! `10e3ff9053075c526f5fc06d4fe37cdb` travel as
//! `"\u0000EOP/kFMHXFJvX8BtT+N82w=="`.
//!
//! This module implements that convention as thin serde adapters around
//! `serde_json`, streaming straight through serde with no intermediate value
//! tree:
//!
//! * on the way out, every `serialize_bytes` call (at any depth) is written
//!   as the NUL-prefixed base64 string, and non-finite floats are rejected
//!   (plain `serde_json` would silently write `null`);
//! * on the way in, every JSON string that starts with NUL (at any depth
//!   except map keys and enum variant names, which stay strings) is
//!   base64-decoded and handed to the visitor as bytes (`visit_byte_buf`),
//!   so the target type decides what to do with it. Invalid base64 after
//!   the NUL is an error.
//!
//! Values without bytes or non-finite floats are serialized byte-for-byte
//! as `serde_json` would, and `serde_json`'s recursion limit stays on.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, Serializer};

/// Serialize `value` as JSON into `out`, writing every byte string (every
/// `serialize_bytes` call, at any depth) as `"\u0000"` followed by its
/// standard padded base64.
///
/// Non-finite floats (NaN, ±infinity) are an error rather than `null`.
pub(crate) fn to_writer<W: std::io::Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::new(out);
    value.serialize(BinarySerializer(&mut ser))
}

/// Serialize `value` as a JSON byte vector, with the same binary convention
/// and float rules as [`to_writer`].
#[cfg(test)]
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(128);
    to_writer(&mut out, value)?;
    Ok(out)
}

/// Deserialize a `T` from JSON in `input`.
///
/// Every string value beginning with NUL (top level, sequence elements, map
/// values, struct fields, enum payloads, options, newtypes) is base64-decoded
/// and presented to the target's visitor as bytes (`visit_byte_buf`), whichever
/// `deserialize_*` method the target called. Map keys and enum variant names
/// are left as strings. Invalid base64 after the NUL and trailing
/// non-whitespace after the value are errors.
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(
    input: &'de [u8],
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = T::deserialize(BinaryDeserializer(&mut de))?;
    de.end()?;
    Ok(value)
}

/// Encodes bytes as the NUL-prefixed base64 string.
fn encode_binary(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(1 + bytes.len().div_ceil(3) * 4);
    s.push('\0');
    STANDARD.encode_string(bytes, &mut s);
    s
}

/// Decodes the base64 part (after the NUL) of a binary string.
fn decode_binary<E: de::Error>(b64: &[u8]) -> Result<Vec<u8>, E> {
    STANDARD.decode(b64).map_err(|err| {
        E::custom(format_args!(
            "invalid base64 in NUL-prefixed JSON binary string: {err}"
        ))
    })
}

// ---------------------------------------------------------------------------
// Serialization
// ---------------------------------------------------------------------------

/// Serializer adapter: forwards everything to the inner serializer, except
/// bytes (written as NUL + base64) and non-finite floats (an error).
struct BinarySerializer<S>(S);

/// Serializes the wrapped value through [`BinarySerializer`], so that nested
/// values keep the binary convention.
struct Wrap<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(BinarySerializer(serializer))
    }
}

fn nul_string_error<E: ser::Error>() -> E {
    E::custom(
        "a string starting with NUL cannot be sent in JSON: the WAMP binary convention reads it as binary",
    )
}

/// Compound serializer adapter: wraps every element / field / value.
/// Map keys are passed through unchanged (JSON keys stay plain strings).
struct Compound<C>(C);

macro_rules! forward_ser {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.0.$method(v)
        }
    )*};
}

/// Serializer methods that open a compound value: the same call on the wrapped serializer,
/// its accessor wrapped in [`Compound`].
macro_rules! forward_compound {
    ($($method:ident($($arg:ident: $ty:ty),* $(,)?) -> $assoc:ident;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<Self::$assoc, S::Error> {
            self.0.$method($($arg),*).map(Compound)
        }
    )*};
}

impl<S: Serializer> Serializer for BinarySerializer<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<S::SerializeSeq>;
    type SerializeTuple = Compound<S::SerializeTuple>;
    type SerializeTupleStruct = Compound<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<S::SerializeTupleVariant>;
    type SerializeMap = Compound<S::SerializeMap>;
    type SerializeStruct = Compound<S::SerializeStruct>;
    type SerializeStructVariant = Compound<S::SerializeStructVariant>;

    forward_ser! {
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    }

    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        if v == '\0' {
            return Err(nul_string_error());
        }
        self.0.serialize_char(v)
    }

    /// A string that starts with NUL would read back as binary, so it cannot be sent
    /// in WAMP-JSON at all: refuse it instead of corrupting it.
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        if v.starts_with('\0') {
            return Err(nul_string_error());
        }
        self.0.serialize_str(v)
    }

    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        if !v.is_finite() {
            return Err(ser::Error::custom(format_args!(
                "cannot serialize non-finite float {v} as JSON"
            )));
        }
        self.0.serialize_f32(v)
    }

    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        if !v.is_finite() {
            return Err(ser::Error::custom(format_args!(
                "cannot serialize non-finite float {v} as JSON"
            )));
        }
        self.0.serialize_f64(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        self.0.serialize_str(&encode_binary(v))
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Wrap(value))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, variant_index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Wrap(value))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, variant_index, variant, &Wrap(value))
    }

    forward_compound! {
        serialize_seq(len: Option<usize>) -> SerializeSeq;
        serialize_tuple(len: usize) -> SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str,
            variant_index: u32,
            variant: &'static str,
            len: usize,
        ) -> SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> SerializeMap;
        serialize_struct(name: &'static str, len: usize) -> SerializeStruct;
        serialize_struct_variant(
            name: &'static str,
            variant_index: u32,
            variant: &'static str,
            len: usize,
        ) -> SerializeStructVariant;
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The `Serialize*` impls of [`Compound`] whose elements are all wrapped; the struct ones pass
/// the field name along.
macro_rules! wrap_elements {
    ($($trait:ident::$method:ident),* $(,)?) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<C> {
            type Ok = C::Ok;
            type Error = C::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                self.0.$method(&Wrap(value))
            }

            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
    ($($trait:ident),* $(,)? ; named) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<C> {
            type Ok = C::Ok;
            type Error = C::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), C::Error> {
                self.0.serialize_field(key, &Wrap(value))
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                self.0.skip_field(key)
            }

            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
}

wrap_elements! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
}

wrap_elements!(SerializeStruct, SerializeStructVariant; named);

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        // Keys are not wrapped: JSON object keys are plain strings, and the
        // decoder never converts keys either.
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&Wrap(value))
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), C::Error> {
        self.0.serialize_entry(key, &Wrap(value))
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

// ---------------------------------------------------------------------------
// Deserialization
// ---------------------------------------------------------------------------

/// Deserializer adapter: wraps the visitor of every `deserialize_*` call in
/// [`BinaryVisitor`].
struct BinaryDeserializer<D>(D);

/// Visitor adapter: turns NUL-prefixed strings into decoded bytes and keeps
/// wrapping nested deserializers and accessors.
struct BinaryVisitor<V>(V);

/// Seed adapter: deserializes nested values through [`BinaryDeserializer`].
struct BinarySeed<T>(T);

/// Sequence accessor adapter: elements go through [`BinarySeed`].
struct BinarySeqAccess<A>(A);

/// Map accessor adapter: values go through [`BinarySeed`], keys do not.
struct BinaryMapAccess<A>(A);

/// Enum accessor adapter: the variant name is left alone, the payload is
/// wrapped.
struct BinaryEnumAccess<A>(A);

/// Variant accessor adapter: payloads go through the binary adapters.
struct BinaryVariantAccess<A>(A);

/// Deserializer methods that make the same call on the wrapped deserializer (with the same
/// leading arguments, if any), its visitor wrapped in [`BinaryVisitor`].
macro_rules! forward_de {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($($arg: $ty,)*)?
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.$method($($($arg,)*)? BinaryVisitor(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for BinaryDeserializer<D> {
    type Error = D::Error;

    forward_de! {
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    }

    forward_de! {
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.0.$method(v)
        }
    )*};
}

/// Visits a string or byte string: one that starts with NUL is base64 binary, handed to
/// the visitor as bytes; any other goes through `$method` unchanged.
macro_rules! visit_nul_prefixed {
    ($($method:ident: $ty:ty, $nul:expr);* $(;)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            match v.strip_prefix($nul) {
                Some(b64) => self.0.visit_byte_buf(decode_binary(AsRef::<[u8]>::as_ref(b64))?),
                None => self.0.$method(v),
            }
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for BinaryVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
    }

    // serde_json's `deserialize_bytes` / `deserialize_byte_buf` hand a JSON
    // string over as its raw (unescaped) bytes, so the NUL prefix must be
    // recognized in byte strings as well. A leading 0 byte can only come from a
    // string starting with "\u0000".
    visit_nul_prefixed! {
        visit_str: &str, '\0';
        visit_borrowed_str: &'de str, '\0';
        visit_string: String, '\0';
        visit_bytes: &[u8], b"\0";
        visit_borrowed_bytes: &'de [u8], b"\0";
        visit_byte_buf: Vec<u8>, b"\0";
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(BinaryDeserializer(deserializer))
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.0
            .visit_newtype_struct(BinaryDeserializer(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(BinarySeqAccess(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(BinaryMapAccess(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(BinaryEnumAccess(data))
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for BinarySeed<T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        self.0.deserialize(BinaryDeserializer(deserializer))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for BinarySeqAccess<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(BinarySeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BinaryMapAccess<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // Keys (including struct field names) stay plain strings.
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(BinarySeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for BinaryEnumAccess<A> {
    type Error = A::Error;
    type Variant = BinaryVariantAccess<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        // The variant name is an identifier, like a map key: left alone.
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, BinaryVariantAccess(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for BinaryVariantAccess<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(BinarySeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, BinaryVisitor(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, BinaryVisitor(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_bytes::ByteBuf;
    use std::collections::{BTreeMap, HashMap};

    const SPEC_BYTES: [u8; 16] = [
        0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c,
        0xdb,
    ];
    const SPEC_JSON: &str = r#""\u0000EOP/kFMHXFJvX8BtT+N82w==""#;

    fn bb(bytes: &[u8]) -> ByteBuf {
        ByteBuf::from(bytes.to_vec())
    }

    fn json<T: Serialize + ?Sized>(value: &T) -> String {
        String::from_utf8(to_vec(value).expect("serialize")).expect("utf-8")
    }

    fn round_trip<T>(value: &T) -> T
    where
        T: Serialize + for<'de> Deserialize<'de>,
    {
        let encoded = to_vec(value).expect("serialize");
        from_slice(&encoded).expect("deserialize")
    }

    /// A dynamic value type driven by `deserialize_any`.
    #[derive(Debug, PartialEq)]
    enum Dyn {
        Null,
        Bool(bool),
        I(i128),
        F(f64),
        Str(String),
        Bytes(Vec<u8>),
        Arr(Vec<Dyn>),
        Map(Vec<(String, Dyn)>),
    }

    impl<'de> Deserialize<'de> for Dyn {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = Dyn;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_unit<E>(self) -> Result<Dyn, E> {
                    Ok(Dyn::Null)
                }
                fn visit_bool<E>(self, v: bool) -> Result<Dyn, E> {
                    Ok(Dyn::Bool(v))
                }
                fn visit_i64<E>(self, v: i64) -> Result<Dyn, E> {
                    Ok(Dyn::I(v.into()))
                }
                fn visit_u64<E>(self, v: u64) -> Result<Dyn, E> {
                    Ok(Dyn::I(v.into()))
                }
                fn visit_f64<E>(self, v: f64) -> Result<Dyn, E> {
                    Ok(Dyn::F(v))
                }
                fn visit_str<E>(self, v: &str) -> Result<Dyn, E> {
                    Ok(Dyn::Str(v.to_owned()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Dyn, E> {
                    Ok(Dyn::Bytes(v))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Dyn, A::Error> {
                    let mut out = Vec::new();
                    while let Some(x) = a.next_element()? {
                        out.push(x);
                    }
                    Ok(Dyn::Arr(out))
                }
                fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Dyn, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = a.next_entry()? {
                        out.push((k, v));
                    }
                    Ok(Dyn::Map(out))
                }
            }
            d.deserialize_any(V)
        }
    }

    #[test]
    fn spec_example_encode() {
        assert_eq!(json(&bb(&SPEC_BYTES)), SPEC_JSON);
        assert_eq!(json(serde_bytes::Bytes::new(&SPEC_BYTES)), SPEC_JSON);
    }

    #[test]
    fn spec_example_decode() {
        let got: ByteBuf = from_slice(SPEC_JSON.as_bytes()).expect("decode");
        assert_eq!(got.as_slice(), SPEC_BYTES);
        let got: Dyn = from_slice(SPEC_JSON.as_bytes()).expect("decode");
        assert_eq!(got, Dyn::Bytes(SPEC_BYTES.to_vec()));
    }

    #[test]
    fn bytes_in_vec_and_tuple() {
        let v = vec![bb(b""), bb(b"a"), bb(&SPEC_BYTES), bb(&[0, 255, 0])];
        assert_eq!(round_trip(&v), v);
        assert_eq!(json(&[bb(b"hi")][..]), r#"["\u0000aGk="]"#);

        let t = (bb(b"xy"), 7u8, "s".to_owned(), bb(&[1, 2, 3]));
        assert_eq!(round_trip(&t), t);
        assert_eq!(
            json(&(bb(b"hi"), 1)),
            r#"["\u0000aGk=",1]"#,
            "tuple elements are wrapped"
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct WithBytes {
        name: String,
        data: ByteBuf,
        maybe: Option<ByteBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skipped: Option<ByteBuf>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Newtype(ByteBuf);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct TupleStruct(ByteBuf, u32);

    #[test]
    fn bytes_in_struct_option_newtype() {
        let s = WithBytes {
            name: "n".into(),
            data: bb(&SPEC_BYTES),
            maybe: Some(bb(b"\x00\x01")),
            skipped: None,
        };
        assert_eq!(
            json(&s),
            r#"{"name":"n","data":"\u0000EOP/kFMHXFJvX8BtT+N82w==","maybe":"\u0000AAE="}"#
        );
        assert_eq!(round_trip(&s), s);

        let s2 = WithBytes {
            maybe: None,
            skipped: Some(bb(b"z")),
            ..s
        };
        assert_eq!(round_trip(&s2), s2);

        assert_eq!(round_trip(&Some(bb(b"q"))), Some(bb(b"q")));
        assert_eq!(round_trip(&None::<ByteBuf>), None);
        assert_eq!(round_trip(&Newtype(bb(b"nt"))), Newtype(bb(b"nt")));
        assert_eq!(
            round_trip(&TupleStruct(bb(b"ts"), 9)),
            TupleStruct(bb(b"ts"), 9)
        );
    }

    #[test]
    fn bytes_as_map_values() {
        let mut h = HashMap::new();
        h.insert("a".to_owned(), bb(b"one"));
        h.insert("b".to_owned(), bb(b""));
        assert_eq!(round_trip(&h), h);

        let mut b = BTreeMap::new();
        b.insert("k".to_owned(), bb(&SPEC_BYTES));
        b.insert("l".to_owned(), bb(&[0]));
        assert_eq!(
            json(&b),
            r#"{"k":"\u0000EOP/kFMHXFJvX8BtT+N82w==","l":"\u0000AA=="}"#
        );
        assert_eq!(round_trip(&b), b);
    }

    #[test]
    fn map_keys_stay_strings() {
        let got: BTreeMap<String, u8> = from_slice(br#"{"\u0000AQI=":1}"#).expect("decode");
        assert_eq!(got.keys().next().map(String::as_str), Some("\0AQI="));
        let got: Dyn = from_slice(br#"{"\u0000AQI=":"\u0000AQI="}"#).expect("decode");
        assert_eq!(
            got,
            Dyn::Map(vec![("\0AQI=".to_owned(), Dyn::Bytes(vec![1, 2]))])
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum E {
        Unit,
        New(ByteBuf),
        Tup(ByteBuf, u8, ByteBuf),
        Struct { b: ByteBuf, n: i32 },
        Nested(Vec<E>),
    }

    #[test]
    fn bytes_in_enum_variants() {
        for e in [
            E::Unit,
            E::New(bb(b"new")),
            E::Tup(bb(b"a"), 3, bb(b"")),
            E::Struct {
                b: bb(&SPEC_BYTES),
                n: -1,
            },
        ] {
            assert_eq!(round_trip(&e), e);
        }
        assert_eq!(json(&E::New(bb(b"hi"))), r#"{"New":"\u0000aGk="}"#);
        assert_eq!(json(&E::Unit), r#""Unit""#);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Untagged {
        Bin(ByteBuf),
        Num(u8),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "t")]
    enum Internal {
        A { data: ByteBuf },
    }

    #[test]
    fn bytes_through_buffered_content() {
        assert_eq!(
            round_trip(&Untagged::Bin(bb(b"u"))),
            Untagged::Bin(bb(b"u"))
        );
        assert_eq!(round_trip(&Untagged::Num(4)), Untagged::Num(4));
        let i = Internal::A { data: bb(b"int") };
        assert_eq!(round_trip(&i), i);
    }

    #[test]
    fn nested_three_levels() {
        let v = vec![
            vec![vec![bb(b"a"), bb(b"bc")], vec![]],
            vec![vec![bb(&SPEC_BYTES)]],
        ];
        assert_eq!(round_trip(&v), v);

        let mut m = BTreeMap::new();
        m.insert(
            "x".to_owned(),
            vec![E::Nested(vec![
                E::Struct {
                    b: bb(b"deep"),
                    n: 1,
                },
                E::Nested(vec![E::Tup(bb(b"deeper"), 2, bb(&[0xff]))]),
            ])],
        );
        assert_eq!(round_trip(&m), m);

        let got: Dyn = from_slice(br#"[{"k":[["\u0000AQ==","s"]]}]"#).expect("decode");
        assert_eq!(
            got,
            Dyn::Arr(vec![Dyn::Map(vec![(
                "k".to_owned(),
                Dyn::Arr(vec![Dyn::Arr(vec![
                    Dyn::Bytes(vec![1]),
                    Dyn::Str("s".to_owned())
                ])])
            )])])
        );
    }

    #[test]
    fn plain_strings_unchanged() {
        for s in [
            "",
            "hello",
            "a\0b",
            " \0AQ==",
            "EOP/kFMHXFJvX8BtT+N82w==",
            "ü\u{1F600}\n\"",
        ] {
            let owned = s.to_owned();
            assert_eq!(
                to_vec(&owned).expect("ser"),
                serde_json::to_vec(&owned).expect("ser")
            );
            assert_eq!(round_trip(&owned), owned);
            let d: Dyn = from_slice(&to_vec(s).expect("ser")).expect("de");
            assert_eq!(d, Dyn::Str(owned));
        }
        // A borrowed &str target still works for plain strings.
        let s: &str = from_slice(br#""borrowed""#).expect("de");
        assert_eq!(s, "borrowed");
    }

    #[test]
    fn nul_only_is_empty_bytes() {
        assert_eq!(json(&bb(b"")), r#""\u0000""#);
        let got: ByteBuf = from_slice(br#""\u0000""#).expect("decode");
        assert!(got.is_empty());
        let got: Dyn = from_slice(br#""\u0000""#).expect("decode");
        assert_eq!(got, Dyn::Bytes(Vec::new()));
    }

    #[test]
    fn nul_string_into_string_target_gets_bytes() {
        // The String visitor accepts UTF-8 bytes: it sees the decoded bytes.
        let got: String = from_slice(br#""\u0000aGk=""#).expect("decode");
        assert_eq!(got, "hi");
        // Non-UTF-8 decoded bytes are rejected by the String visitor.
        assert!(from_slice::<String>(br#""\u0000/w==""#).is_err());
    }

    #[test]
    fn invalid_base64_is_error() {
        for input in [
            &br#""\u0000!!!!""#[..],
            br#""\u0000AQI""#,
            br#""\u0000A""#,
            br#"["\u0000a b=="]"#,
            br#"{"k":"\u0000****"}"#,
        ] {
            let err = from_slice::<Dyn>(input).expect_err("must fail");
            assert!(err.to_string().contains("base64"), "{err}");
            let err = from_slice::<serde_json::Value>(input).expect_err("must fail");
            assert!(err.to_string().contains("base64"), "{err}");
        }
        let err = from_slice::<ByteBuf>(br#""\u0000%%""#).expect_err("must fail");
        assert!(err.to_string().contains("base64"), "{err}");
    }

    #[test]
    fn non_finite_floats_are_errors() {
        assert!(to_vec(&f64::NAN).is_err());
        assert!(to_vec(&f64::INFINITY).is_err());
        assert!(to_vec(&f64::NEG_INFINITY).is_err());
        assert!(to_vec(&f32::NAN).is_err());
        assert!(to_vec(&vec![1.0, f64::NAN]).is_err());
        let mut m = BTreeMap::new();
        m.insert("x", Some(f32::INFINITY));
        assert!(to_vec(&m).is_err());
        assert_eq!(json(&1.5f64), "1.5");
    }

    #[test]
    fn trailing_garbage_is_error() {
        assert!(from_slice::<Dyn>(b"[1] x").is_err());
        assert!(from_slice::<ByteBuf>(br#""\u0000AQ==" 1"#).is_err());
        assert!(from_slice::<u8>(b"1 2").is_err());
        assert_eq!(
            from_slice::<u8>(b" 1 \n\t").expect("trailing whitespace ok"),
            1
        );
    }

    #[test]
    fn recursion_limit_still_applies() {
        let mut deep = vec![b'['; 10_000];
        deep.extend(std::iter::repeat_n(b']', 10_000));
        let err = from_slice::<Dyn>(&deep).expect_err("too deep");
        assert!(err.to_string().contains("recursion"), "{err}");
        assert!(from_slice::<serde_json::Value>(&deep).is_err());
    }

    #[test]
    fn output_identical_to_serde_json_without_bytes() {
        #[derive(Serialize)]
        struct Inner {
            f: f64,
            g: f32,
            c: char,
            big: i128,
            ubig: u128,
            opt: Option<Vec<u16>>,
        }
        #[derive(Serialize)]
        enum Kind {
            A,
            B(i8),
            C(u8, String),
            D { x: bool },
        }
        #[derive(Serialize)]
        struct Outer {
            s: String,
            inner: Inner,
            kinds: Vec<Kind>,
            map: BTreeMap<String, Vec<Option<i64>>>,
            int_keys: BTreeMap<u32, bool>,
            unit: (),
            tuple: (u8, &'static str, Option<()>),
        }
        let mut map = BTreeMap::new();
        map.insert("k\"e\\y".to_owned(), vec![Some(-1), None, Some(i64::MAX)]);
        let mut int_keys = BTreeMap::new();
        int_keys.insert(7, true);
        let v = Outer {
            s: "tab\tnl\n\u{7}ctl ü \u{1F600}".into(),
            inner: Inner {
                f: -0.1e-300,
                g: 3.25,
                c: '\u{1}',
                big: i128::MIN,
                ubig: u128::MAX,
                opt: Some(vec![0, 65535]),
            },
            kinds: vec![
                Kind::A,
                Kind::B(-8),
                Kind::C(1, "c".into()),
                Kind::D { x: false },
            ],
            map,
            int_keys,
            unit: (),
            tuple: (1, "t", None),
        };
        assert_eq!(
            to_vec(&v).expect("ser"),
            serde_json::to_vec(&v).expect("ser")
        );
        let val: serde_json::Value =
            serde_json::from_slice(&to_vec(&v).expect("ser")).expect("valid JSON");
        assert_eq!(
            to_vec(&val).expect("ser"),
            serde_json::to_vec(&val).expect("ser")
        );
    }

    #[test]
    fn to_writer_writes() {
        let mut out = Vec::new();
        to_writer(&mut out, &(bb(b"hi"), "x")).expect("write");
        assert_eq!(out, br#"["\u0000aGk=","x"]"#);
    }

    fn xorshift(state: &mut u64) -> u64 {
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        x
    }

    #[test]
    fn random_inputs_never_panic() {
        const ALPHABET: &[u8] = b"[]{}\",:0123456789-+.eEtrufalsn \\u0000AQI=/+aGk\t\n";
        let seeds: [&[u8]; 4] = [
            br#"{"a":["\u0000AQI=",1,{"b":null}],"c":"\u0000"}"#,
            br#"[true,false,-1.5e3,"x\u0000y","\u0000EOP/kFMHXFJvX8BtT+N82w=="]"#,
            br#"{"New":"\u0000aGk="}"#,
            br#"{"Struct":{"b":"\u0000AA==","n":3}}"#,
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for i in 0..4000 {
            let r = xorshift(&mut state);
            let len = (r % 64) as usize;
            let input: Vec<u8> = match i % 3 {
                // Fully random bytes.
                0 => (0..len).map(|_| xorshift(&mut state) as u8).collect(),
                // Random JSON-ish tokens.
                1 => (0..len)
                    .map(|_| {
                        let k = xorshift(&mut state) as usize % ALPHABET.len();
                        ALPHABET.get(k).copied().unwrap_or(b' ')
                    })
                    .collect(),
                // Mutations of valid documents.
                _ => {
                    let seed = seeds
                        .get((r >> 8) as usize % seeds.len())
                        .copied()
                        .unwrap_or(b"");
                    let mut doc = seed.to_vec();
                    for _ in 0..(1 + r % 4) {
                        let pos = xorshift(&mut state) as usize % (doc.len() + 1);
                        let byte = xorshift(&mut state) as u8;
                        match xorshift(&mut state) % 3 {
                            0 if pos < doc.len() => {
                                doc.remove(pos);
                            }
                            1 if pos < doc.len() => {
                                if let Some(b) = doc.get_mut(pos) {
                                    *b = byte;
                                }
                            }
                            _ => doc.insert(pos, byte),
                        }
                    }
                    doc
                }
            };
            let _ = from_slice::<Dyn>(&input);
            let _ = from_slice::<serde_json::Value>(&input);
            let _ = from_slice::<E>(&input);
            let _ = from_slice::<Vec<ByteBuf>>(&input);
            let _ = from_slice::<WithBytes>(&input);
            let _ = from_slice::<Untagged>(&input);
            if let Ok(d) = from_slice::<Dyn>(&input) {
                // Whatever parses must not panic when re-read as other types.
                let _ = from_slice::<BTreeMap<String, ByteBuf>>(&input);
                let _ = d;
            }
        }
    }

    #[test]
    fn nul_leading_strings_are_refused_not_corrupted() {
        let err = to_vec("\0not binary").expect_err("must refuse");
        assert!(err.to_string().contains("NUL"), "{err}");
        assert!(to_vec(&'\0').is_err());
        assert!(to_vec(&vec!["ok", "\0bad"]).is_err());
        // NUL later in a string is ordinary text.
        assert_eq!(to_vec("a\0b").expect("ok"), br#""a\u0000b""#.to_vec());
    }
}
