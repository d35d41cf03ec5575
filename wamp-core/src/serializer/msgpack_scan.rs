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
//!   deeper than [`MAX_DEPTH`] is refused with [`ScanError::TooDeep`], so a later serde decode of
//!   bytes accepted here cannot exhaust the stack;
//! * it runs in time linear in the input and [`value_len`] allocates nothing.
//!
//! Well-formedness is structural only: for example the UTF-8 validity of `str` payloads is left
//! to whoever eventually decodes them.

use std::ops::Range;

/// Deepest nesting of arrays/maps (and CBOR tags) accepted; deeper input is refused so that
/// later serde decoding of the same bytes can never overflow the stack.
///
/// A scalar at top level has depth 0, `[1]` has depth 1, `[[1]]` depth 2; an empty container
/// counts as a level too.
pub(crate) const MAX_DEPTH: usize = 100;

/// Why a byte sequence is not a complete, well-formed MessagePack value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// input ended inside a value (offset where more bytes were needed)
    Truncated { at: usize },
    /// a byte sequence the format forbids (reserved marker byte, bad additional-info, break outside an indefinite item, ...)
    Invalid { at: usize, reason: &'static str },
    /// nesting deeper than MAX_DEPTH
    TooDeep { at: usize },
}

/// Byte length of the single complete value that starts at `buf[0]`.
///
/// Bytes after the value are ignored. Offsets in the error are indices into `buf`.
pub(crate) fn value_len(buf: &[u8]) -> Result<usize, ScanError> {
    scan(buf, 0, 0)
}

/// What went wrong splitting a top-level array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// the input does not start with an array header (or is empty)
    NotAnArray,
    /// element `index` could not be scanned; `parsed` holds the ranges of the elements before it
    Element {
        index: usize,
        error: ScanError,
        parsed: Vec<Range<usize>>,
    },
    /// the array header itself is truncated/invalid
    Header(ScanError),
    /// bytes remain after the array ends (offset of the first extra byte)
    TrailingBytes {
        at: usize,
        parsed: Vec<Range<usize>>,
    },
}

/// If `buf` is exactly one array, the byte range of each of its elements (ranges index into buf).
///
/// The array itself counts as one nesting level, so elements may nest at most `MAX_DEPTH - 1`
/// further levels (the same limit [`value_len`] applies to the whole buffer).
pub(crate) fn split_array(buf: &[u8]) -> Result<Vec<Range<usize>>, SplitError> {
    let (count, mut pos) = match array_header(buf) {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(SplitError::Header(e)),
        None => return Err(SplitError::NotAnArray),
    };
    // Every element takes at least one byte: never reserve more than the input can hold.
    let remaining = buf.len().saturating_sub(pos);
    let capacity = usize::try_from(count).map_or(remaining, |c| c.min(remaining));
    let mut parsed = Vec::with_capacity(capacity);
    let mut index = 0usize;
    while u64::try_from(index).is_ok_and(|i| i < count) {
        match scan(buf, pos, 1) {
            Ok(end) => {
                parsed.push(pos..end);
                pos = end;
                index += 1;
            }
            Err(error) => {
                return Err(SplitError::Element {
                    index,
                    error,
                    parsed,
                })
            }
        }
    }
    if pos < buf.len() {
        return Err(SplitError::TrailingBytes { at: pos, parsed });
    }
    Ok(parsed)
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

/// What the header at some offset announced.
enum Head {
    /// A complete value without children, ending at this offset.
    Leaf(usize),
    /// A container whose children start at `start`; `items` counts keys and values separately.
    Container { start: usize, items: u64 },
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
        Ok(Head::Container { start, items })
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
    // Fast path, and keeps the stack below untouched for scalars.
    let (mut pos, items) = match head(buf, start)? {
        Head::Leaf(end) => return Ok(end),
        Head::Container {
            start: children,
            items,
        } => (children, items),
    };
    let max_open = MAX_DEPTH.saturating_sub(outer_depth);
    if max_open == 0 {
        return Err(ScanError::TooDeep { at: start });
    }
    if items == 0 {
        return Ok(pos);
    }
    // `pending[i]` = children still to read in the container open at level `i`; always > 0
    // for the open levels `0..depth`.
    let mut pending = [0u64; MAX_DEPTH];
    pending[0] = items;
    let mut depth = 1usize;
    loop {
        let at = pos;
        match head(buf, pos)? {
            Head::Leaf(end) => pos = end,
            Head::Container {
                start: children,
                items,
            } => {
                if depth >= max_open {
                    return Err(ScanError::TooDeep { at });
                }
                pos = children;
                if items > 0 {
                    match pending.get_mut(depth) {
                        Some(slot) => *slot = items,
                        None => return Err(ScanError::TooDeep { at }),
                    }
                    depth += 1;
                    continue;
                }
            }
        }
        // A value just ended: account for it in the enclosing containers, closing those that
        // are now complete.
        loop {
            let Some(level) = depth.checked_sub(1) else {
                return Ok(pos);
            };
            match pending.get_mut(level) {
                Some(left) if *left > 1 => {
                    *left -= 1;
                    break;
                }
                _ => depth = level,
            }
        }
    }
}

#[cfg(test)]
mod tests {
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

    /// A one-element list of ranges.
    fn single(range: Range<usize>) -> Vec<Range<usize>> {
        vec![range]
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn usize_below(&mut self, n: usize) -> usize {
            usize::try_from(self.below(n as u64)).expect("fits")
        }
    }

    const SIZES: [usize; 7] = [0, 23, 24, 255, 256, 65535, 65536];
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
        out.push(V::Map(
            scalars()
                .into_iter()
                .enumerate()
                .map(|(i, v)| (V::Str(format!("k{i}")), v))
                .collect(),
        ));
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
            9 => V::Arr(
                (0..rng.below(6))
                    .map(|_| random_value(rng, depth - 1))
                    .collect(),
            ),
            _ => V::Map(
                (0..rng.below(5))
                    .map(|_| (random_value(rng, depth - 1), random_value(rng, depth - 1)))
                    .collect(),
            ),
        }
    }

    /// Every property a valid single encoding must satisfy.
    fn check_valid(bytes: &[u8]) {
        assert_eq!(value_len(bytes), Ok(bytes.len()), "{}", hex::encode(bytes));
        // Every prefix for small values; a sample (still including the first bytes) for big ones.
        let step = if bytes.len() <= 4096 {
            1
        } else {
            bytes.len() / 256
        };
        for k in (0..bytes.len())
            .step_by(step)
            .chain(bytes.len().saturating_sub(64)..bytes.len())
        {
            assert_eq!(
                value_len(&bytes[..k]),
                Err(ScanError::Truncated { at: k }),
                "prefix {k} of {}",
                hex::encode(bytes)
            );
        }
        let mut extended = bytes.to_vec();
        extended.extend_from_slice(&[0xc1, 0x00]);
        assert_eq!(value_len(&extended), Ok(bytes.len()));
    }

    /// Splitting an encoded array gives exactly the encodings of its elements.
    fn check_split(items: &[V]) {
        let bytes = enc(items);
        let ranges = split_array(&bytes).expect("valid array splits");
        assert_eq!(ranges.len(), items.len());
        for (range, item) in ranges.iter().zip(items) {
            assert_eq!(bytes[range.clone()], enc(item)[..]);
        }
        assert_eq!(array_len(&bytes), Some(items.len() as u64));
        assert_eq!(map_len(&bytes), None);
        // Trailing bytes.
        let mut extended = bytes.clone();
        extended.push(0xc0);
        assert_eq!(
            split_array(&extended),
            Err(SplitError::TrailingBytes {
                at: bytes.len(),
                parsed: ranges.clone()
            })
        );
        // Prefixes.
        for k in 0..bytes.len() {
            match split_array(&bytes[..k]) {
                Err(SplitError::NotAnArray) => assert_eq!(k, 0),
                Err(SplitError::Header(e)) => assert_eq!(e, ScanError::Truncated { at: k }),
                Err(SplitError::Element {
                    index,
                    error,
                    parsed,
                }) => {
                    assert_eq!(error, ScanError::Truncated { at: k });
                    assert_eq!(parsed[..], ranges[..index]);
                    assert!(ranges[index].end > k);
                }
                other => panic!("prefix {k}: unexpected {other:?}"),
            }
        }
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
        match split_array(&huge) {
            Err(SplitError::Element {
                index,
                error,
                parsed,
            }) => {
                assert_eq!(index, 5);
                assert_eq!(error, ScanError::Truncated { at: 10 });
                assert_eq!(parsed, vec![5..6, 6..7, 7..8, 8..9, 9..10]);
                assert!(parsed.capacity() <= 5);
            }
            other => panic!("unexpected {other:?}"),
        }
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

        let deep = nested_arrays(MAX_DEPTH + 1);
        assert_eq!(value_len(&deep), Err(ScanError::TooDeep { at: MAX_DEPTH }));
        assert_eq!(
            split_array(&deep),
            Err(SplitError::Element {
                index: 0,
                error: ScanError::TooDeep { at: MAX_DEPTH },
                parsed: vec![]
            })
        );

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

        // Very deep input fails on the depth check, not with a stack overflow.
        let very_deep = vec![0x91; 1_000_000];
        assert_eq!(
            value_len(&very_deep),
            Err(ScanError::TooDeep { at: MAX_DEPTH })
        );
    }

    fn exercise(input: &[u8]) {
        let len = value_len(input);
        if let Ok(n) = len {
            assert!(n > 0 && n <= input.len());
        }
        // Differential check against rmp-serde: it decodes exactly the values the scanner
        // accepts (its own depth limit is far above MAX_DEPTH), with the same length.
        let mut cursor = std::io::Cursor::new(input);
        let mut de = rmp_serde::Deserializer::new(&mut cursor);
        let decoded = serde::de::IgnoredAny::deserialize(&mut de).is_ok();
        let consumed = usize::try_from(cursor.position()).expect("fits");
        match len {
            Ok(n) => assert!(decoded && n == consumed, "{}", hex::encode(input)),
            Err(ScanError::TooDeep { .. }) => {}
            Err(_) => assert!(!decoded, "{}", hex::encode(input)),
        }
        match split_array(input) {
            Ok(ranges) => {
                assert_eq!(len, Ok(input.len()));
                let mut pos = ranges.first().map_or(input.len(), |r| r.start);
                for r in &ranges {
                    assert_eq!(r.start, pos);
                    assert_eq!(value_len(&input[r.clone()]), Ok(r.len()));
                    pos = r.end;
                }
                assert_eq!(pos, input.len());
            }
            Err(SplitError::TrailingBytes { at, .. }) => assert_eq!(len, Ok(at)),
            Err(SplitError::NotAnArray) => assert_eq!(array_len(input), None),
            Err(SplitError::Header(_)) => assert_eq!(array_len(input), None),
            Err(SplitError::Element { index, parsed, .. }) => {
                assert_eq!(parsed.len(), index);
                assert!(len.is_err());
            }
        }
        let _ = map_len(input);
    }

    #[test]
    fn fuzz_random_inputs() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        // Bias towards structural bytes so that containers and length headers are common.
        let interesting = [
            0x90, 0x91, 0x92, 0x9f, 0x80, 0x81, 0x8f, 0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc5, 0xc6,
            0xc7, 0xc8, 0xc9, 0xd4, 0xd8, 0xd9, 0xda, 0xdb, 0xc1, 0xff, 0x00, 0xa3,
        ];
        let mut buf = Vec::with_capacity(64);
        for _ in 0..200_000 {
            buf.clear();
            let len = rng.usize_below(65);
            for _ in 0..len {
                let byte = if rng.below(2) == 0 {
                    interesting[rng.usize_below(interesting.len())]
                } else {
                    rng.next() as u8
                };
                buf.push(byte);
            }
            exercise(&buf);
        }
    }

    #[test]
    fn fuzz_mutated_encodings() {
        let mut rng = XorShift(0xdead_beef_cafe_f00d);
        for _ in 0..5_000 {
            let v = random_value(&mut rng, 4);
            let valid = enc(&v);
            for _ in 0..10 {
                let mut m = valid.clone();
                for _ in 0..=rng.below(3) {
                    match rng.below(4) {
                        0 if !m.is_empty() => {
                            let i = rng.usize_below(m.len());
                            m[i] = rng.next() as u8;
                        }
                        1 if !m.is_empty() => {
                            let i = rng.usize_below(m.len());
                            m[i] ^= 1 << rng.below(8);
                        }
                        2 => m.truncate(rng.usize_below(m.len() + 1)),
                        _ => {
                            let i = rng.usize_below(m.len() + 1);
                            m.insert(i, rng.next() as u8);
                        }
                    }
                }
                exercise(&m);
            }
        }
    }
}
