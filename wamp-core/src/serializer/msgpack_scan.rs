//! Structural scanner for MessagePack.
//!
//! WAMP messages are arrays whose trailing elements (`Arguments`, `ArgumentsKw`, `Details`, ...)
//! are application payload the router never needs to understand: it only forwards them. Decoding
//! those payloads into a dynamic value and encoding them again for every recipient costs time and
//! allocations and is not even lossless in general (ext types, integer widths, float widths, map
//! key order). Instead, the wire layer finds the byte boundaries of each top-level element with
//! this scanner and keeps the original encoded bytes of the payload elements, so they can be
//! spliced verbatim into the outgoing message when the peer uses the same serializer.
//!
//! The scanner only inspects headers and lengths; it never decodes strings, numbers or
//! extension payloads. It is written for untrusted input:
//!
//! * it never panics and never reads out of bounds; all length arithmetic is checked;
//! * a declared length or element count larger than the remaining input fails immediately with
//!   [`ScanError::Truncated`], without allocating anything per declared element;
//! * nesting is tracked with a fixed-size explicit stack instead of recursion, and anything nested
//!   deeper than [`MAX_DEPTH`](super::scan::MAX_DEPTH) is refused with [`ScanError::TooDeep`], so a later serde decode of
//!   bytes accepted here cannot exhaust the stack;
//! * it runs in time linear in the input and [`value_len`] allocates nothing.
//!
//! Well-formedness is structural only: for example the UTF-8 validity of `str` payloads is left
//! to whoever eventually decodes them.

use std::ops::Range;

use super::scan::{walk, Head};
pub(crate) use super::scan::{ScanError, SplitError};

/// Byte length of the single complete value that starts at `buf[0]`.
///
/// Bytes after the value are ignored. Offsets in the error are indices into `buf`.
pub(crate) fn value_len(buf: &[u8]) -> Result<usize, ScanError> {
    scan(buf, 0, 0)
}

/// If `buf` is exactly one array, the byte range of each of its elements (ranges index into buf).
///
/// The array itself counts as one nesting level, so elements may nest at most `MAX_DEPTH - 1`
/// further levels (the same limit [`value_len`] applies to the whole buffer).
pub(crate) fn split_array(buf: &[u8]) -> Result<Vec<Range<usize>>, SplitError> {
    let header = array_header(buf).map(|header| header.map(|(count, pos)| (Some(count), pos)));
    super::scan::split_elements(buf, header, |pos| scan(buf, pos, 1))
}

/// The element count if `buf` starts with an array header; None otherwise. (Cheap peek, used to test "is empty list".)
///
/// Only the header is inspected: the elements themselves are not checked. A header that is cut
/// short gives None.
pub(crate) fn array_len(buf: &[u8]) -> Option<u64> {
    array_header(buf)?.ok().map(|(count, _)| count)
}

/// Same for a map header (number of key/value pairs).
///
/// Only the header is inspected: the entries themselves are not checked. A header that is cut
/// short gives None.
pub(crate) fn map_len(buf: &[u8]) -> Option<u64> {
    let (&marker, rest) = buf.split_first()?;
    match marker {
        0x80..=0x8f => Some(u64::from(marker & 0x0f)),
        0xde => be_uint(rest, 2),
        0xdf => be_uint(rest, 4),
        _ => None,
    }
}

/// `None` if `buf` does not start with an array marker, otherwise the element count and the
/// offset of the first element (or the error reading the rest of the header).
fn array_header(buf: &[u8]) -> Option<Result<(u64, usize), ScanError>> {
    let (&marker, rest) = buf.split_first()?;
    let (count, header_len) = match marker {
        0x90..=0x9f => (Some(u64::from(marker & 0x0f)), 1),
        0xdc => (be_uint(rest, 2), 3),
        0xdd => (be_uint(rest, 4), 5),
        _ => return None,
    };
    Some(
        count
            .map(|count| (count, header_len))
            .ok_or(ScanError::Truncated { at: buf.len() }),
    )
}

/// Big-endian unsigned integer from the first `n` (at most 8) bytes of `bytes`, if present.
#[inline]
fn be_uint(bytes: &[u8], n: usize) -> Option<u64> {
    let field = bytes.get(..n)?;
    Some(field.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Reads the header of the value starting at `pos` and, for leaf values, skips the payload.
#[inline]
fn head(buf: &[u8], pos: usize) -> Result<Head, ScanError> {
    let truncated = ScanError::Truncated { at: buf.len() };
    let Some(&marker) = buf.get(pos) else {
        return Err(truncated);
    };
    // Offset just past the marker byte; cannot overflow since `pos < buf.len()`.
    let p = pos + 1;
    // Reads an `n`-byte big-endian field at `p`.
    let field = |n: usize| {
        buf.get(p..)
            .and_then(|rest| be_uint(rest, n))
            .ok_or(ScanError::Truncated { at: buf.len() })
    };
    // Leaf whose payload of `len` bytes starts at offset `start`.
    let leaf = |start: usize, len: u64| -> Result<Head, ScanError> {
        usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= buf.len())
            .map(Head::Leaf)
            .ok_or(ScanError::Truncated { at: buf.len() })
    };
    // Container of `items` children starting at offset `start`.
    let container = |start: usize, items: u64| -> Result<Head, ScanError> {
        // Each child takes at least one byte, so a count beyond the remaining input can never
        // be satisfied: fail now rather than after walking the rest of the buffer.
        let remaining = buf.len().saturating_sub(start);
        if u64::try_from(remaining).is_ok_and(|r| items > r) {
            return Err(ScanError::Truncated { at: buf.len() });
        }
        Ok(Head::Container {
            start,
            frame: items,
        })
    };
    match marker {
        // positive fixint, nil, false, true, negative fixint
        0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => Ok(Head::Leaf(p)),
        // fixmap
        0x80..=0x8f => container(p, u64::from(marker & 0x0f) * 2),
        // fixarray
        0x90..=0x9f => container(p, u64::from(marker & 0x0f)),
        // fixstr
        0xa0..=0xbf => leaf(p, u64::from(marker & 0x1f)),
        0xc1 => Err(ScanError::Invalid {
            at: pos,
            reason: "marker byte 0xc1 is never used",
        }),
        // bin8, str8
        0xc4 | 0xd9 => leaf(p + 1, field(1)?),
        // bin16, str16
        0xc5 | 0xda => leaf(p + 2, field(2)?),
        // bin32, str32
        0xc6 | 0xdb => leaf(p + 4, field(4)?),
        // ext8/16/32: length, then a one-byte type, then the data
        0xc7 => leaf(p + 2, field(1)?),
        0xc8 => leaf(p + 3, field(2)?),
        0xc9 => leaf(p + 5, field(4)?),
        // uint8, int8
        0xcc | 0xd0 => leaf(p, 1),
        // uint16, int16
        0xcd | 0xd1 => leaf(p, 2),
        // float32, uint32, int32
        0xca | 0xce | 0xd2 => leaf(p, 4),
        // float64, uint64, int64
        0xcb | 0xcf | 0xd3 => leaf(p, 8),
        // fixext1/2/4/8/16: one-byte type, then the data
        0xd4 => leaf(p, 2),
        0xd5 => leaf(p, 3),
        0xd6 => leaf(p, 5),
        0xd7 => leaf(p, 9),
        0xd8 => leaf(p, 17),
        // array16, array32
        0xdc => container(p + 2, field(2)?),
        0xdd => container(p + 4, field(4)?),
        // map16, map32 (at most 2^33 - 2 items: no overflow)
        0xde => container(p + 2, field(2)? * 2),
        0xdf => container(p + 4, field(4)? * 2),
    }
}

/// End offset of the value starting at `start`, which is nested inside `outer_depth` containers.
fn scan(buf: &[u8], start: usize, outer_depth: usize) -> Result<usize, ScanError> {
    walk(buf, start, outer_depth, head)
}

#[cfg(test)]
mod tests {
    use super::super::scan::test_support::{
        each_random_value, keyed, mutants, random_inputs, random_items, single, this_scanner,
        Scanner, XorShift, SIZES,
    };
    use super::super::scan::MAX_DEPTH;
    use super::*;
    use serde::ser::{SerializeMap, SerializeSeq};
    use serde::{Deserialize, Serialize, Serializer};
    use serde_bytes::ByteBuf;

    /// A MessagePack value model able to produce every format family through rmp-serde.
    #[derive(Debug, Clone, PartialEq)]
    enum V {
        Nil,
        Bool(bool),
        U(u64),
        I(i64),
        F32(f32),
        F64(f64),
        Str(String),
        Bin(Vec<u8>),
        Ext(i8, Vec<u8>),
        Arr(Vec<V>),
        Map(Vec<(V, V)>),
    }

    impl Serialize for V {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                V::Nil => s.serialize_unit(),
                V::Bool(b) => s.serialize_bool(*b),
                V::U(u) => s.serialize_u64(*u),
                V::I(i) => s.serialize_i64(*i),
                V::F32(f) => s.serialize_f32(*f),
                V::F64(f) => s.serialize_f64(*f),
                V::Str(t) => s.serialize_str(t),
                V::Bin(b) => s.serialize_bytes(b),
                V::Ext(tag, data) => s.serialize_newtype_struct(
                    rmp_serde::MSGPACK_EXT_STRUCT_NAME,
                    &(*tag, ByteBuf::from(data.clone())),
                ),
                V::Arr(items) => {
                    let mut seq = s.serialize_seq(Some(items.len()))?;
                    for item in items {
                        seq.serialize_element(item)?;
                    }
                    seq.end()
                }
                V::Map(entries) => {
                    let mut map = s.serialize_map(Some(entries.len()))?;
                    for (k, v) in entries {
                        map.serialize_entry(k, v)?;
                    }
                    map.end()
                }
            }
        }
    }

    fn enc<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
        rmp_serde::to_vec(v).expect("rmp-serde encodes")
    }

    const SCANNER: Scanner = this_scanner!();
    const EDGE_SIZES: [usize; 12] = [0, 1, 2, 3, 4, 8, 15, 16, 17, 31, 32, 33];

    fn scalars() -> Vec<V> {
        let mut out = vec![V::Nil, V::Bool(false), V::Bool(true)];
        for u in [
            0,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            out.push(V::U(u));
        }
        for i in [
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MIN,
        ] {
            out.push(V::I(i));
        }
        out.extend([V::F32(1.5), V::F32(-0.0), V::F64(0.1), V::F64(f64::MAX)]);
        for n in SIZES.iter().chain(EDGE_SIZES.iter()) {
            out.push(V::Str("x".repeat(*n)));
            out.push(V::Bin(vec![0xc1; *n]));
            out.push(V::Ext(-5, vec![0xff; *n]));
        }
        out
    }

    fn containers() -> Vec<V> {
        let mut out = Vec::new();
        for n in [0usize, 1, 15, 16, 255, 65535, 65536] {
            out.push(V::Arr(vec![V::U(1); n]));
            out.push(V::Map((0..n as u64).map(|i| (V::U(i), V::Nil)).collect()));
        }
        out.push(V::Arr(scalars()));
        out.push(V::Map(keyed(scalars(), V::Str)));
        out.push(V::Arr(vec![
            V::Arr(vec![]),
            V::Map(vec![]),
            V::Arr(vec![V::Arr(vec![V::Map(vec![(V::Arr(vec![]), V::U(3))])])]),
        ]));
        out
    }

    fn random_value(rng: &mut XorShift, depth: u32) -> V {
        let kinds = if depth == 0 { 9 } else { 11 };
        match rng.below(kinds) {
            0 => V::Nil,
            1 => V::Bool(rng.below(2) == 1),
            2 => V::U(rng.next() >> rng.below(64)),
            3 => V::I(-((rng.next() >> (1 + rng.below(63))) as i64) - 1),
            4 => V::F32(rng.below(1000) as f32 / 8.0),
            5 => V::F64(rng.below(1000) as f64 / 3.0),
            6 => V::Str("s".repeat(rng.usize_below(40))),
            7 => V::Bin(vec![0xdd; rng.usize_below(40)]),
            8 => {
                let len = [1, 2, 4, 8, 16, 0, 3, 17][rng.usize_below(8)];
                V::Ext(rng.below(100) as i8, vec![0x9f; len])
            }
            9 => V::Arr(random_items(rng, 6, |rng| random_value(rng, depth - 1))),
            _ => V::Map(random_items(rng, 5, |rng| {
                (random_value(rng, depth - 1), random_value(rng, depth - 1))
            })),
        }
    }

    /// Every property a valid single encoding must satisfy.
    fn check_valid(bytes: &[u8]) {
        SCANNER.check_valid(bytes, &[0xc1, 0x00]);
    }

    /// Splitting an encoded array gives exactly the encodings of its elements.
    fn check_split(items: &[V]) {
        let bytes = enc(items);
        let ranges = split_array(&bytes).expect("valid array splits");
        assert_eq!(ranges.len(), items.len());
        for (range, item) in ranges.iter().zip(items) {
            assert_eq!(bytes[range.clone()], enc(item)[..]);
        }
        SCANNER.check_split_array(&bytes, &ranges, 0xc0, false);
    }

    #[test]
    fn scalars_and_boundary_sizes() {
        for v in scalars() {
            check_valid(&enc(&v));
        }
    }

    #[test]
    fn every_format_family_is_produced() {
        let mut seen = [false; 256];
        for v in scalars().iter().chain(containers().iter()) {
            let bytes = enc(v);
            seen[usize::from(bytes[0])] = true;
        }
        let families: &[u8] = &[
            0x00, 0x80, 0x90, 0xa0, 0xc0, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
            0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
            0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0,
        ];
        for &f in families {
            assert!(seen[usize::from(f)], "marker {f:#04x} never produced");
        }
    }

    #[test]
    fn containers_and_nesting() {
        for v in containers() {
            check_valid(&enc(&v));
        }
        for v in containers() {
            if let V::Arr(items) = v {
                if items.len() < 1000 {
                    check_split(&items);
                } else {
                    let bytes = enc(&items);
                    assert_eq!(split_array(&bytes).map(|r| r.len()), Ok(items.len()));
                }
            }
        }
    }

    #[test]
    fn random_values_match_encoder() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let v = random_value(&mut rng, 4);
            check_valid(&enc(&v));
            if let V::Arr(items) = &v {
                check_split(items);
            }
        }
    }

    #[test]
    fn wamp_message() {
        let call = (
            48u64,
            7814135u64,
            serde_json::json!({}),
            "com.myapp.myprocedure1",
            ["Hello, world!"],
        );
        let bytes = enc(&call);
        let expected = hex::decode(
            "9530ce00773bf780b6636f6d2e6d796170702e6d7970726f6365647572653191ad48656c6c6f2c20776f726c6421",
        )
        .expect("hex");
        assert_eq!(bytes, expected);
        assert_eq!(value_len(&bytes), Ok(bytes.len()));
        let ranges = split_array(&bytes).expect("splits");
        assert_eq!(ranges, vec![1..2, 2..7, 7..8, 8..31, 31..46]);
        let args: Vec<String> = rmp_serde::from_slice(&bytes[ranges[4].clone()]).expect("decodes");
        assert_eq!(args, ["Hello, world!"]);
        let uri: String = rmp_serde::from_slice(&bytes[ranges[3].clone()]).expect("decodes");
        assert_eq!(uri, "com.myapp.myprocedure1");
        assert_eq!(map_len(&bytes[ranges[2].clone()]), Some(0));
        assert_eq!(array_len(&bytes[ranges[4].clone()]), Some(1));
        assert_eq!(array_len(&bytes[ranges[2].clone()]), None);
    }

    #[test]
    fn header_peeks() {
        assert_eq!(array_len(&[]), None);
        assert_eq!(array_len(&[0x90]), Some(0));
        assert_eq!(array_len(&[0xdc, 0x01]), None);
        assert_eq!(array_len(&[0xdc, 0x01, 0x00]), Some(256));
        assert_eq!(
            array_len(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Some(u64::from(u32::MAX))
        );
        assert_eq!(map_len(&[0x80]), Some(0));
        assert_eq!(map_len(&[0x8f]), Some(15));
        assert_eq!(map_len(&[0xde, 0x00, 0x10]), Some(16));
        assert_eq!(map_len(&[0xdf, 0x00, 0x00, 0x01]), None);
        assert_eq!(map_len(&[0xdf, 0x00, 0x01, 0x00, 0x00]), Some(65536));
        assert_eq!(map_len(&[0x90]), None);
    }

    #[test]
    fn split_errors() {
        assert_eq!(split_array(&[]), Err(SplitError::NotAnArray));
        assert_eq!(split_array(&[0x80]), Err(SplitError::NotAnArray));
        assert_eq!(split_array(&[0xc1]), Err(SplitError::NotAnArray));
        assert_eq!(
            split_array(&[0xdd, 0x00]),
            Err(SplitError::Header(ScanError::Truncated { at: 2 }))
        );
        assert_eq!(split_array(&[0x90]), Ok(vec![]));
        assert_eq!(
            split_array(&[0x92, 0x01, 0xc1]),
            Err(SplitError::Element {
                index: 1,
                error: ScanError::Invalid {
                    at: 2,
                    reason: "marker byte 0xc1 is never used"
                },
                parsed: single(1..2),
            })
        );
        assert_eq!(
            split_array(&[0x91, 0x01, 0x02]),
            Err(SplitError::TrailingBytes {
                at: 2,
                parsed: single(1..2)
            })
        );
    }

    #[test]
    fn invalid_marker() {
        assert_eq!(
            value_len(&[0xc1]),
            Err(ScanError::Invalid {
                at: 0,
                reason: "marker byte 0xc1 is never used"
            })
        );
        assert!(matches!(
            value_len(&[0x93, 0x01, 0x02, 0xc1]),
            Err(ScanError::Invalid { at: 3, .. })
        ));
        assert_eq!(value_len(&[]), Err(ScanError::Truncated { at: 0 }));
    }

    #[test]
    fn huge_declared_lengths_fail_fast() {
        let cases: [&[u8]; 8] = [
            &[0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5],
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5],
            &[0xdb, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5],
            &[0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5],
            &[0xc9, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5],
            &[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4],
            &[0xde, 0x00, 0x03, 1, 2, 3, 4, 5],
            &[0xdc, 0x00, 0x10, 1, 2, 3, 4, 5],
        ];
        for case in cases {
            assert_eq!(
                value_len(case),
                Err(ScanError::Truncated { at: case.len() })
            );
        }
        let huge = [0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5];
        SCANNER.check_huge_count(&huge, 10, &[5..6, 6..7, 7..8, 8..9, 9..10]);
    }

    fn nested_arrays(levels: usize) -> Vec<u8> {
        let mut bytes = vec![0x91; levels.saturating_sub(1)];
        if levels > 0 {
            bytes.push(0x90);
        }
        bytes
    }

    #[test]
    fn depth_limit() {
        let ok = nested_arrays(MAX_DEPTH);
        assert_eq!(value_len(&ok), Ok(ok.len()));
        let decoded: serde_json::Value = rmp_serde::from_slice(&ok).expect("serde decodes it");
        assert_eq!(enc(&decoded), ok);
        assert_eq!(split_array(&ok), Ok(single(1..ok.len())));

        SCANNER.check_one_level_too_deep(&nested_arrays(MAX_DEPTH + 1));

        // Same with maps ({"": {"": ... 1}}) and a scalar at the bottom.
        let mut maps = Vec::new();
        for _ in 0..MAX_DEPTH {
            maps.extend_from_slice(&[0x81, 0xa0]);
        }
        maps.push(0x01);
        assert_eq!(value_len(&maps), Ok(maps.len()));
        let mut too_deep_maps = vec![0x81, 0xa0];
        too_deep_maps.extend_from_slice(&maps);
        assert_eq!(
            value_len(&too_deep_maps),
            Err(ScanError::TooDeep { at: 2 * MAX_DEPTH })
        );

        SCANNER.check_very_deep(0x91);
    }

    fn exercise(input: &[u8]) {
        // Differential check against rmp-serde: it decodes exactly the values the scanner
        // accepts (its own depth limit is far above MAX_DEPTH), with the same length.
        let differential = |len: &Result<usize, ScanError>| {
            let mut cursor = std::io::Cursor::new(input);
            let mut de = rmp_serde::Deserializer::new(&mut cursor);
            let decoded = serde::de::IgnoredAny::deserialize(&mut de).is_ok();
            let consumed = usize::try_from(cursor.position()).expect("fits");
            match len {
                Ok(n) => assert!(decoded && *n == consumed, "{}", hex::encode(input)),
                Err(ScanError::TooDeep { .. }) => {}
                Err(_) => assert!(!decoded, "{}", hex::encode(input)),
            }
        };
        SCANNER.exercise(input, differential, |ranges| {
            let end = SCANNER.check_contiguous(input, ranges, input.len());
            assert_eq!(end, input.len());
        });
    }

    #[test]
    fn fuzz_random_inputs() {
        // Bias towards structural bytes so that containers and length headers are common.
        let interesting = [
            0x90, 0x91, 0x92, 0x9f, 0x80, 0x81, 0x8f, 0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc5, 0xc6,
            0xc7, 0xc8, 0xc9, 0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xc1, 0xff, 0x00, 0xa3,
        ];
        random_inputs(&interesting, exercise);
    }

    #[test]
    fn fuzz_mutated_encodings() {
        each_random_value(0xdead_beef_cafe_f00d, 5_000, random_value, |rng, v| {
            let valid = enc(&v);
            mutants(rng, &valid, |rng| rng.next() as u8, exercise);
        });
    }
}
