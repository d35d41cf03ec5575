//! Structural scanner for CBOR (RFC 8949).
//!
//! WAMP messages are arrays whose trailing elements (`Arguments`, `ArgumentsKw`, `Details`, ...)
//! are application payload the router never needs to understand: it only forwards them. Decoding
//! those payloads into a dynamic value and encoding them again for every recipient costs time and
//! allocations and is not even lossless in general (tags, float widths, indefinite lengths, map
//! key order). Instead, the wire layer finds the byte boundaries of each top-level element with
//! this scanner and keeps the original encoded bytes of the payload elements, so they can be
//! spliced verbatim into the outgoing message when the peer uses the same serializer.
//!
//! The scanner only inspects initial bytes and arguments; it never decodes strings, numbers or
//! tag contents. It checks well-formedness as defined by RFC 8949 (section 3 and appendix F),
//! not validity: text strings are not checked for UTF-8 and tag numbers are not interpreted.
//! It is written for untrusted input:
//!
//! * it never panics and never reads out of bounds; all length arithmetic is checked;
//! * a declared length or element count larger than the remaining input fails immediately with
//!   [`ScanError::Truncated`], without allocating anything per declared element;
//! * nesting is tracked with a fixed-size explicit stack instead of recursion, and anything nested
//!   deeper than [`MAX_DEPTH`](super::scan::MAX_DEPTH) is refused with [`ScanError::TooDeep`], so a later serde decode of
//!   bytes accepted here cannot exhaust the stack;
//! * it runs in time linear in the input and [`value_len`] allocates nothing.

use std::ops::Range;

use super::scan::{walk, Head, BREAK, INDEFINITE_ARRAY, INDEFINITE_MAP_KEY};
pub(crate) use super::scan::{ScanError, SplitError};

/// Byte length of the single complete value that starts at `buf[0]`.
///
/// Bytes after the value are ignored. Offsets in the error are indices into `buf`.
pub(crate) fn value_len(buf: &[u8]) -> Result<usize, ScanError> {
    scan(buf, 0, 0)
}

/// If `buf` is exactly one array, the byte range of each of its elements (ranges index into buf).
///
/// Both definite and indefinite-length arrays are accepted; for an indefinite one the closing
/// break byte is not part of any range. A missing break is reported as
/// [`SplitError::Element`] with [`ScanError::Truncated`] for the next index. A tagged array
/// is [`SplitError::NotAnArray`].
///
/// The array itself counts as one nesting level, so elements may nest at most `MAX_DEPTH - 1`
/// further levels (the same limit [`value_len`] applies to the whole buffer).
pub(crate) fn split_array(buf: &[u8]) -> Result<Vec<Range<usize>>, SplitError> {
    super::scan::split_elements(buf, array_header(buf), |pos| scan(buf, pos, 1))
}

/// The element count if `buf` starts with an array header; None otherwise. (Cheap peek, used to test "is empty list".)
///
/// For a definite-length array only the header is inspected and its declared count returned.
/// For an indefinite-length array the elements are scanned (linear time, no allocation) up to
/// the break byte and counted; if that array is not complete and well-formed, the result is
/// None. A header that is cut short or malformed gives None.
pub(crate) fn array_len(buf: &[u8]) -> Option<u64> {
    match array_header(buf)?.ok()? {
        (Some(count), _) => Some(count),
        (None, start) => count_indefinite(buf, start),
    }
}

/// Same for a map header (number of key/value pairs).
///
/// For a definite-length map only the header is inspected and its declared count returned.
/// For an indefinite-length map the keys and values are scanned (linear time, no allocation) up
/// to the break byte and the pairs counted; if that map is not complete and well-formed, the
/// result is None. A header that is cut short or malformed gives None.
pub(crate) fn map_len(buf: &[u8]) -> Option<u64> {
    let &initial = buf.first()?;
    if initial >> 5 != MAJOR_MAP {
        return None;
    }
    match initial & 0x1f {
        INDEFINITE => {
            let items = count_indefinite(buf, 1)?;
            (items % 2 == 0).then_some(items / 2)
        }
        info => argument(buf, 0, info).ok().map(|(count, _)| count),
    }
}

const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const MAJOR_SIMPLE: u8 = 7;
/// Additional information announcing an indefinite length (or, for major type 7, the break).
const INDEFINITE: u8 = 31;

/// `None` if `buf` does not start with an array initial byte, otherwise the element count
/// (`None` for indefinite length) and the offset of the first element, or the error reading the
/// rest of the header.
fn array_header(buf: &[u8]) -> Option<Result<(Option<u64>, usize), ScanError>> {
    let &initial = buf.first()?;
    if initial >> 5 != MAJOR_ARRAY {
        return None;
    }
    Some(match initial & 0x1f {
        INDEFINITE => Ok((None, 1)),
        info => argument(buf, 0, info).map(|(count, start)| (Some(count), start)),
    })
}

/// Number of items of the indefinite-length array or map whose first item is at `pos`, scanning
/// up to its break byte; None if it is not complete and well-formed.
fn count_indefinite(buf: &[u8], mut pos: usize) -> Option<u64> {
    let mut items = 0u64;
    while *buf.get(pos)? != BREAK {
        pos = scan(buf, pos, 1).ok()?;
        items += 1;
    }
    Some(items)
}

/// Decodes the argument of the head whose initial byte (with additional information `info`,
/// which must not be 31) is at `pos`: returns the argument and the offset just past the head.
#[inline]
fn argument(buf: &[u8], pos: usize, info: u8) -> Result<(u64, usize), ScanError> {
    // `pos < buf.len()` is guaranteed by the caller, so this cannot overflow.
    let p = pos + 1;
    let n = match info {
        0..=23 => return Ok((u64::from(info), p)),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        _ => {
            return Err(ScanError::Invalid {
                at: pos,
                reason: "reserved additional information value (28..30)",
            })
        }
    };
    let field = buf
        .get(p..)
        .and_then(|rest| rest.get(..n))
        .ok_or(ScanError::Truncated { at: buf.len() })?;
    let value = field.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok((value, p + n))
}

/// Offset just past `len` payload bytes starting at `start`, if they are all present.
#[inline]
fn skip(buf: &[u8], start: usize, len: u64) -> Result<usize, ScanError> {
    usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
        .filter(|&end| end <= buf.len())
        .ok_or(ScanError::Truncated { at: buf.len() })
}

/// Skips the chunks of an indefinite-length byte or text string (major type `major`) whose
/// first chunk is at `pos`, up to and including the break; returns the offset after it.
fn skip_chunks(buf: &[u8], mut pos: usize, major: u8) -> Result<usize, ScanError> {
    loop {
        let Some(&initial) = buf.get(pos) else {
            return Err(ScanError::Truncated { at: buf.len() });
        };
        if initial == BREAK {
            return Ok(pos + 1);
        }
        if initial >> 5 != major {
            return Err(ScanError::Invalid {
                at: pos,
                reason: "indefinite-length string chunk of another major type",
            });
        }
        let info = initial & 0x1f;
        if info == INDEFINITE {
            return Err(ScanError::Invalid {
                at: pos,
                reason: "indefinite-length string chunk inside an indefinite-length string",
            });
        }
        let (len, start) = argument(buf, pos, info)?;
        pos = skip(buf, start, len)?;
    }
}

/// Reads the head of the data item starting at `pos` and, for leaf items, skips the payload.
#[inline]
fn head(buf: &[u8], pos: usize) -> Result<Head, ScanError> {
    let Some(&initial) = buf.get(pos) else {
        return Err(ScanError::Truncated { at: buf.len() });
    };
    let major = initial >> 5;
    let info = initial & 0x1f;
    if info == INDEFINITE {
        // `pos < buf.len()`, so `pos + 1` cannot overflow.
        let start = pos + 1;
        return match major {
            MAJOR_BYTES | MAJOR_TEXT => skip_chunks(buf, start, major).map(Head::Leaf),
            MAJOR_ARRAY => Ok(Head::Container {
                start,
                frame: INDEFINITE_ARRAY,
            }),
            MAJOR_MAP => Ok(Head::Container {
                start,
                frame: INDEFINITE_MAP_KEY,
            }),
            MAJOR_SIMPLE => Ok(Head::Break),
            _ => Err(ScanError::Invalid {
                at: pos,
                reason: "indefinite length is not allowed for integers and tags",
            }),
        };
    }
    let (arg, start) = argument(buf, pos, info)?;
    // Each child takes at least one byte, so a count beyond the remaining input can never be
    // satisfied: fail now rather than after walking the rest of the buffer. This also keeps
    // definite frames far below the indefinite markers.
    let container = |items: u64| -> Result<Head, ScanError> {
        let remaining = buf.len().saturating_sub(start);
        if u64::try_from(remaining).is_ok_and(|remaining| items <= remaining) {
            Ok(Head::Container {
                start,
                frame: items,
            })
        } else {
            Err(ScanError::Truncated { at: buf.len() })
        }
    };
    match major {
        MAJOR_BYTES | MAJOR_TEXT => skip(buf, start, arg).map(Head::Leaf),
        MAJOR_ARRAY => container(arg),
        // A count too large to double is certainly larger than the input.
        MAJOR_MAP => container(arg.saturating_mul(2)),
        MAJOR_TAG => container(1),
        MAJOR_SIMPLE if info == 24 && arg < 32 => Err(ScanError::Invalid {
            at: pos,
            reason: SHORT_SIMPLE,
        }),
        // Unsigned and negative integers, simple values, half/single/double floats.
        _ => Ok(Head::Leaf(start)),
    }
}

/// End offset of the data item starting at `start`, which is nested inside `outer_depth`
/// containers.
fn scan(buf: &[u8], start: usize, outer_depth: usize) -> Result<usize, ScanError> {
    walk(buf, start, outer_depth, head)
}

/// Reason given for `0xf8` followed by a byte below 32 (RFC 8949 section 3.3).
const SHORT_SIMPLE: &str = "simple value below 32 encoded in two bytes";

#[cfg(test)]
mod tests {
    use super::super::scan::test_support::{
        each_random_value, keyed, mutants, random_inputs, random_items, single, this_scanner,
        Scanner, XorShift, SIZES,
    };
    use super::super::scan::MAX_DEPTH;
    use super::*;
    use ciborium::value::{Integer, Value};

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).expect("ciborium encodes");
        out
    }

    fn dec(bytes: &[u8]) -> Value {
        ciborium::from_reader(bytes).expect("ciborium decodes")
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    const SCANNER: Scanner = this_scanner!();

    fn int(i: i128) -> Value {
        Value::Integer(Integer::try_from(i).expect("in CBOR range"))
    }

    fn scalars() -> Vec<Value> {
        let mut out = vec![Value::Null, Value::Bool(false), Value::Bool(true)];
        for u in [
            0i128,
            23,
            24,
            255,
            256,
            65535,
            65536,
            u32::MAX.into(),
            i128::from(u32::MAX) + 1,
            u64::MAX.into(),
        ] {
            out.push(int(u));
            out.push(int(-1 - u));
        }
        for f in [0.0, -0.0, 1.5, 65504.0, 100000.0, 0.1, f64::INFINITY, 1e300] {
            out.push(Value::Float(f));
        }
        for n in SIZES {
            out.push(Value::Text("t".repeat(n)));
            out.push(Value::Bytes(vec![0xff; n]));
        }
        out.push(Value::Tag(
            0,
            Box::new(Value::Text("2013-03-21T20:04:00Z".into())),
        ));
        for tag in [256, 65536, u64::MAX] {
            out.push(Value::Tag(tag, Box::new(int(1))));
        }
        out.push(Value::Tag(
            24,
            Box::new(Value::Tag(25, Box::new(Value::Array(vec![])))),
        ));
        out
    }

    fn containers() -> Vec<Value> {
        let mut out = Vec::new();
        for n in [0usize, 1, 23, 24, 255, 256, 65536] {
            out.push(Value::Array(vec![int(1); n]));
            out.push(Value::Map(
                (0..n).map(|i| (int(i as i128), Value::Null)).collect(),
            ));
        }
        out.push(Value::Array(scalars()));
        out.push(Value::Map(keyed(scalars(), Value::Text)));
        out.push(Value::Array(vec![
            Value::Array(vec![]),
            Value::Map(vec![]),
            Value::Array(vec![Value::Map(vec![(
                Value::Array(vec![]),
                Value::Tag(1, Box::new(Value::Map(vec![]))),
            )])]),
        ]));
        out
    }

    fn random_value(rng: &mut XorShift, depth: u32) -> Value {
        let kinds = if depth == 0 { 8 } else { 11 };
        match rng.below(kinds) {
            0 => Value::Null,
            1 => Value::Bool(rng.below(2) == 1),
            2 => int(i128::from(rng.next() >> rng.below(64))),
            3 => int(-1 - i128::from(rng.next() >> rng.below(64))),
            4 => Value::Float(rng.below(100_000) as f64 / [1.0, 4.0, 3.0][rng.usize_below(3)]),
            5 => Value::Text("s".repeat(rng.usize_below(40))),
            6 => Value::Bytes(vec![0xff; rng.usize_below(40)]),
            7 => Value::Bool(false),
            8 => Value::Array(random_items(rng, 6, |rng| random_value(rng, depth - 1))),
            9 => Value::Map(random_items(rng, 5, |rng| {
                (random_value(rng, depth - 1), random_value(rng, depth - 1))
            })),
            _ => Value::Tag(
                rng.next() >> rng.below(64),
                Box::new(random_value(rng, depth - 1)),
            ),
        }
    }

    /// Every property a valid single encoding must satisfy.
    fn check_valid(bytes: &[u8]) {
        SCANNER.check_valid(bytes, &[0xff, 0x1c]);
    }

    /// Splitting an encoded array (given as bytes, with its elements) gives exactly the
    /// elements' encodings.
    fn check_split(bytes: &[u8], items: &[Value]) {
        let ranges = split_array(bytes).expect("valid array splits");
        assert_eq!(ranges.len(), items.len());
        for (range, item) in ranges.iter().zip(items) {
            assert_eq!(&dec(&bytes[range.clone()]), item);
            assert_eq!(value_len(&bytes[range.clone()]), Ok(range.len()));
        }
        SCANNER.check_split_array(bytes, &ranges, 0xf6, true);
    }

    #[test]
    fn scalars_and_boundary_sizes() {
        for v in scalars() {
            check_valid(&enc(&v));
        }
    }

    #[test]
    fn every_head_size_is_produced() {
        // Every major type with every argument width (inline, 1, 2, 4 and 8 bytes).
        let mut seen = std::collections::HashSet::new();
        for v in scalars().iter().chain(containers().iter()) {
            let bytes = enc(v);
            seen.insert((bytes[0] >> 5, (bytes[0] & 0x1f).min(24)));
            seen.insert((bytes[0] >> 5, bytes[0] & 0x1f));
        }
        for major in 0..=6u8 {
            for info in [0u8, 24, 25, 26, 27] {
                // Strings and containers of 2^32 items are not built: 8-byte arguments are
                // covered by integers and tags.
                let expected = info <= 26 || matches!(major, 0 | 1 | 6);
                if expected {
                    assert!(seen.contains(&(major, info)), "major {major} info {info}");
                }
            }
        }
        for info in [20u8, 21, 22, 25, 26, 27] {
            assert!(seen.contains(&(7, info)), "major 7 info {info}");
        }
    }

    #[test]
    fn containers_and_nesting() {
        for v in containers() {
            check_valid(&enc(&v));
            if let Value::Array(items) = &v {
                if items.len() < 1000 {
                    check_split(&enc(&v), items);
                } else {
                    assert_eq!(split_array(&enc(&v)).map(|r| r.len()), Ok(items.len()));
                }
            }
        }
    }

    #[test]
    fn random_values_match_encoder() {
        each_random_value(0x9e37_79b9_7f4a_7c15, 2000, random_value, |_, v| {
            let bytes = enc(&v);
            check_valid(&bytes);
            if let Value::Array(items) = &v {
                check_split(&bytes, items);
            }
        });
    }

    #[test]
    fn wamp_message() {
        let call = Value::Array(vec![
            int(48),
            int(7814135),
            Value::Map(vec![]),
            Value::Text("com.myapp.myprocedure1".into()),
            Value::Array(vec![Value::Text("Hello, world!".into())]),
        ]);
        let bytes = enc(&call);
        assert_eq!(
            bytes,
            h("8518301a00773bf7a076636f6d2e6d796170702e6d7970726f63656475726531816d48656c6c6f2c20776f726c6421")
        );
        assert_eq!(value_len(&bytes), Ok(bytes.len()));
        let ranges = split_array(&bytes).expect("splits");
        assert_eq!(ranges, vec![1..3, 3..8, 8..9, 9..32, 32..47]);
        if let Value::Array(items) = &call {
            check_split(&bytes, items);
        }
        assert_eq!(map_len(&bytes[ranges[2].clone()]), Some(0));
        assert_eq!(array_len(&bytes[ranges[4].clone()]), Some(1));
    }

    /// Well-formed examples from RFC 8949 appendix A, including indefinite lengths and tags.
    const RFC_VECTORS: &[&str] = &[
        "00",
        "17",
        "1818",
        "1903e8",
        "1a000f4240",
        "1b000000e8d4a51000",
        "1bffffffffffffffff",
        "c249010000000000000000",
        "3bffffffffffffffff",
        "c349010000000000000000",
        "20",
        "3903e7",
        "f90000",
        "f98000",
        "f93c00",
        "fb3ff199999999999a",
        "f93e00",
        "f97bff",
        "fa47c35000",
        "fa7f7fffff",
        "fb7e37e43c8800759c",
        "f90001",
        "f90400",
        "f9c400",
        "fbc010666666666666",
        "f97c00",
        "f97e00",
        "f9fc00",
        "fa7f800000",
        "fa7fc00000",
        "faff800000",
        "fb7ff0000000000000",
        "fb7ff8000000000000",
        "fbfff0000000000000",
        "f4",
        "f5",
        "f6",
        "f7",
        "f0",
        "f820",
        "f8ff",
        "c074323031332d30332d32315432303a30343a30305a",
        "c11a514b67b0",
        "c1fb41d452d9ec200000",
        "d74401020304",
        "d818456449455446",
        "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
        "40",
        "4401020304",
        "60",
        "6161",
        "6449455446",
        "62225c",
        "62c3bc",
        "63e6b0b4",
        "64f0908591",
        "80",
        "83010203",
        "8301820203820405",
        "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
        "a0",
        "a201020304",
        "a26161016162820203",
        "826161a161626163",
        "a56161614161626142616361436164614461656145",
        "5f42010243030405ff",
        "5fff",
        "7fff",
        "7f657374726561646d696e67ff",
        "9fff",
        "9f018202039f0405ffff",
        "9f01820203820405ff",
        "83018202039f0405ff",
        "83019f0203ff820405",
        "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
        "bf61610161629f0203ffff",
        "826161bf61626163ff",
        "bf6346756ef563416d7421ff",
        "bfff",
        "bf9fff9fffff",
        "d9d9f7bf61619fffff",
        "5f4040ff",
        "7f60ff",
    ];

    #[test]
    fn rfc_vectors() {
        for vector in RFC_VECTORS {
            let bytes = h(vector);
            check_valid(&bytes);
            // ciborium agrees on the length (its `Value` has no room for other simple values).
            if ["f7", "f0", "f820", "f8ff"].contains(vector) {
                continue;
            }
            let mut cursor = std::io::Cursor::new(&bytes[..]);
            let _: Value = ciborium::from_reader(&mut cursor).expect("ciborium decodes");
            assert_eq!(cursor.position(), bytes.len() as u64, "{vector}");
            if bytes[0] >> 5 == MAJOR_ARRAY {
                let ranges = split_array(&bytes).expect("array splits");
                if let Value::Array(items) = dec(&bytes) {
                    assert_eq!(ranges.len(), items.len());
                    for (range, item) in ranges.iter().zip(&items) {
                        assert_eq!(&dec(&bytes[range.clone()]), item);
                    }
                }
            }
        }
    }

    #[test]
    fn indefinite_items() {
        let bytes = h("9f018202039f0405ffff");
        assert_eq!(split_array(&bytes), Ok(vec![1..2, 2..5, 5..9]));
        assert_eq!(array_len(&bytes), Some(3));
        assert_eq!(array_len(&h("9fff")), Some(0));
        assert_eq!(array_len(&h("9f01")), None);
        assert_eq!(array_len(&h("9f01ff")), Some(1));
        assert_eq!(array_len(&h("9f1cff")), None);
        assert_eq!(map_len(&h("bfff")), Some(0));
        assert_eq!(map_len(&h("bf6346756ef563416d7421ff")), Some(2));
        assert_eq!(map_len(&h("bf01ff")), None);
        assert_eq!(map_len(&h("bf0102")), None);
        assert_eq!(map_len(&h("a201020304")), Some(2));
        assert_eq!(map_len(&h("b9")), None);
        assert_eq!(map_len(&h("b90100")), Some(256));
        assert_eq!(array_len(&h("9bffffffffffffffff")), Some(u64::MAX));
        assert_eq!(array_len(&h("9c")), None);
        assert_eq!(array_len(&h("c080")), None);
        assert_eq!(array_len(&[]), None);
        assert_eq!(map_len(&[]), None);
        // Missing break.
        assert_eq!(
            split_array(&h("9f0102")),
            Err(SplitError::Element {
                index: 2,
                error: ScanError::Truncated { at: 3 },
                parsed: vec![1..2, 2..3]
            })
        );
        assert_eq!(
            split_array(&h("9f01ff00")),
            Err(SplitError::TrailingBytes {
                at: 3,
                parsed: single(1..2)
            })
        );
        // Indefinite strings made of chunks.
        assert_eq!(value_len(&h("5f42010243030405ff00")), Ok(9));
        assert_eq!(value_len(&h("7f657374726561646d696e67ff")), Ok(13));
        assert_eq!(value_len(&h("5f4201")), Err(ScanError::Truncated { at: 3 }));
        assert_eq!(
            value_len(&h("5f420102")),
            Err(ScanError::Truncated { at: 4 })
        );
    }

    #[test]
    fn tags() {
        assert_eq!(value_len(&h("c0")), Err(ScanError::Truncated { at: 1 }));
        assert_eq!(value_len(&h("c1c2c3c4c501")), Ok(6));
        assert_eq!(value_len(&h("dbffffffffffffffff01")), Ok(10));
        assert_eq!(split_array(&h("c080")), Err(SplitError::NotAnArray));
        assert_eq!(split_array(&h("82c101c2c3f6")), Ok(vec![1..3, 3..6]));
        // A tag before a break is not a data item.
        assert!(matches!(
            value_len(&h("9fc1ff")),
            Err(ScanError::Invalid { at: 2, .. })
        ));
    }

    #[test]
    fn invalid_items() {
        let cases: &[(&str, usize)] = &[
            // additional information 28..30
            ("1c", 0),
            ("1d", 0),
            ("1e", 0),
            ("3c", 0),
            ("5c", 0),
            ("7d", 0),
            ("9e", 0),
            ("bc", 0),
            ("dd", 0),
            ("fc", 0),
            ("fd", 0),
            ("fe", 0),
            ("811c", 1),
            // indefinite length for major types 0, 1, 6
            ("1f", 0),
            ("3f", 0),
            ("df", 0),
            ("9fdfff", 1),
            // break outside an indefinite item
            ("ff", 0),
            ("81ff", 1),
            ("a1ff00", 1),
            ("a101ff", 2),
            ("c1ff", 1),
            ("8201ff", 2),
            // break in place of a map value
            ("bf01ff", 2),
            ("bf6161ff", 3),
            // two-byte simple values below 32
            ("f800", 0),
            ("f81f", 0),
            ("81f818", 1),
            // bad chunks in indefinite strings
            ("5f01ff", 1),
            ("5f6100ff", 1),
            ("7f4100ff", 1),
            ("5f5fffff", 1),
            ("7f7fffff", 1),
            ("5f1cff", 1),
            ("5f5c", 1),
            ("5fff00", usize::MAX),
        ];
        for &(vector, at) in cases {
            let bytes = h(vector);
            if at == usize::MAX {
                assert!(value_len(&bytes).is_ok());
                continue;
            }
            assert!(
                matches!(value_len(&bytes), Err(ScanError::Invalid { at: a, .. }) if a == at),
                "{vector}: {:?}",
                value_len(&bytes)
            );
        }
        assert_eq!(value_len(&[]), Err(ScanError::Truncated { at: 0 }));
        assert!(matches!(
            split_array(&h("9c")),
            Err(SplitError::Header(ScanError::Invalid { at: 0, .. }))
        ));
        assert_eq!(
            split_array(&h("99")),
            Err(SplitError::Header(ScanError::Truncated { at: 1 }))
        );
        assert!(matches!(
            split_array(&h("8201ff")),
            Err(SplitError::Element {
                index: 1,
                error: ScanError::Invalid { at: 2, .. },
                ..
            })
        ));
        assert!(matches!(
            split_array(&h("9f01bf01ffff")),
            Err(SplitError::Element {
                index: 1,
                error: ScanError::Invalid { at: 4, .. },
                ..
            })
        ));
        assert_eq!(split_array(&h("f6")), Err(SplitError::NotAnArray));
        assert_eq!(split_array(&[]), Err(SplitError::NotAnArray));
    }

    #[test]
    fn huge_declared_lengths_fail_fast() {
        let cases = [
            "9bffffffffffffffff0102030405",
            "bbffffffffffffffff0102030405",
            "bb7fffffffffffffff0102030405",
            "bb80000000000000000102030405",
            "5bffffffffffffffff0102030405",
            "7bffffffffffffffff0102030405",
            "9affffffff0102030405",
            "5f5bffffffffffffffff01ff",
            "81bb8000000000000001",
            "a30102030405",
        ];
        for case in cases {
            let bytes = h(case);
            assert_eq!(
                value_len(&bytes),
                Err(ScanError::Truncated { at: bytes.len() }),
                "{case}"
            );
        }
        SCANNER.check_huge_count(
            &h("9bffffffffffffffff0102030405"),
            14,
            &[9..10, 10..11, 11..12, 12..13, 13..14],
        );
    }

    #[test]
    fn depth_limit() {
        // Arrays, maps, tags and indefinite arrays all count.
        let shapes: [(&[u8], &[u8]); 5] = [
            (&[0x81], &[]),
            (&[0xa1, 0x60], &[]),
            (&[0xc1], &[]),
            (&[0x9f], &[0xff]),
            (&[0xbf, 0x00], &[0xff]),
        ];
        for (open, close) in shapes {
            for levels in [MAX_DEPTH, MAX_DEPTH + 1] {
                let mut bytes = Vec::new();
                for _ in 0..levels {
                    bytes.extend_from_slice(open);
                }
                bytes.push(0x00);
                for _ in 0..levels {
                    bytes.extend_from_slice(close);
                }
                if levels == MAX_DEPTH {
                    assert_eq!(value_len(&bytes), Ok(bytes.len()));
                    let v: Value = ciborium::from_reader(&bytes[..]).expect("serde decodes it");
                    assert!(!matches!(v, Value::Null));
                } else {
                    assert_eq!(
                        value_len(&bytes),
                        Err(ScanError::TooDeep {
                            at: MAX_DEPTH * open.len()
                        })
                    );
                }
            }
        }
        // Empty containers count as a level.
        let mut bytes = vec![0x81; MAX_DEPTH - 1];
        bytes.push(0x80);
        assert_eq!(value_len(&bytes), Ok(MAX_DEPTH));
        assert_eq!(split_array(&bytes), Ok(single(1..MAX_DEPTH)));
        bytes.insert(0, 0x81);
        SCANNER.check_one_level_too_deep(&bytes);
        SCANNER.check_very_deep(0x9f);
        SCANNER.check_very_deep(0xc6);
    }

    fn exercise(input: &[u8]) {
        // Differential check against ciborium: whatever it decodes, the scanner accepts with
        // the same length. Exceptions: the scanner's depth limit is lower, and ciborium accepts
        // two-byte simple values below 32, which RFC 8949 (section 3.3) says are not
        // well-formed.
        let differential = |len: &Result<usize, ScanError>| {
            let mut cursor = std::io::Cursor::new(input);
            if ciborium::from_reader::<Value, _>(&mut cursor).is_ok() {
                let decoded = usize::try_from(cursor.position()).expect("fits");
                match len {
                    Ok(n) => assert_eq!(*n, decoded, "{}", hex::encode(input)),
                    Err(ScanError::TooDeep { .. }) => {}
                    Err(ScanError::Invalid {
                        reason: SHORT_SIMPLE,
                        ..
                    }) => {}
                    Err(e) => panic!("{e:?} for {}", hex::encode(input)),
                }
            }
        };
        SCANNER.exercise(input, differential, |ranges| {
            assert_eq!(array_len(input), Some(ranges.len() as u64));
            SCANNER.check_contiguous(input, ranges, 0);
        });
    }

    #[test]
    fn fuzz_random_inputs() {
        // Bias towards structural bytes so that containers, chunks and breaks are common.
        let interesting = [
            0x80, 0x81, 0x82, 0x98, 0x9a, 0x9b, 0x9f, 0xa0, 0xa1, 0xb8, 0xbb, 0xbf, 0x5f, 0x7f,
            0x41, 0x61, 0x58, 0x5b, 0xff, 0xc1, 0xd8, 0xf8, 0xf9, 0xfb, 0x1c, 0x00, 0x18,
        ];
        random_inputs(&interesting, exercise);
    }

    #[test]
    fn fuzz_mutated_encodings() {
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        let mut seeds: Vec<Vec<u8>> = RFC_VECTORS.iter().map(|v| h(v)).collect();
        for _ in 0..5_000 {
            seeds.push(enc(&random_value(&mut rng, 4)));
        }
        // Inserted bytes are structural (break, indefinite array/map/bytes headers).
        let structural = |rng: &mut XorShift| [0xff, 0x9f, 0xbf, 0x5f][rng.usize_below(4)];
        for valid in &seeds {
            mutants(&mut rng, valid, structural, exercise);
        }
    }
}
