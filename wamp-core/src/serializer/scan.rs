//! What the binary scanners ([`super::cbor_scan`], [`super::msgpack_scan`]) have in common: the
//! depth limit, the error types, and splitting a top-level array into its elements once the
//! format-specific code has read the array header.

use std::ops::Range;

/// Deepest nesting of arrays/maps (and CBOR tags) accepted; deeper input is refused so that
/// later serde decoding of the same bytes can never overflow the stack.
///
/// A scalar at top level has depth 0, `[1]` has depth 1, `[[1]]` and (CBOR) `[1(1)]` have
/// depth 2; an empty container counts as a level too. CBOR indefinite-length strings do not
/// nest and do not count.
pub(crate) const MAX_DEPTH: usize = 100;

/// The CBOR "break" stop code that ends indefinite-length items.
pub(crate) const BREAK: u8 = 0xff;

/// Why a byte sequence is not a complete, well-formed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// input ended inside a value (offset where more bytes were needed)
    Truncated { at: usize },
    /// a byte sequence the format forbids (reserved marker byte, bad additional-info, break outside an indefinite item, ...)
    Invalid { at: usize, reason: &'static str },
    /// nesting deeper than MAX_DEPTH
    TooDeep { at: usize },
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

/// The byte range of each element of the array in `buf`, given what its header said: `None`
/// when `buf` does not start with an array, otherwise the element count (`None` for a CBOR
/// indefinite-length array, which ends at a [`BREAK`] that belongs to no range) and the offset
/// of the first element, or the error reading the header.
///
/// `element_end(pos)` scans the element starting at `pos` (nested in the array) and returns
/// the offset just past it. Bytes after the array are an error.
#[inline]
pub(crate) fn split_elements(
    buf: &[u8],
    header: Option<Result<(Option<u64>, usize), ScanError>>,
    mut element_end: impl FnMut(usize) -> Result<usize, ScanError>,
) -> Result<Vec<Range<usize>>, SplitError> {
    let (count, mut pos) = match header {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(SplitError::Header(e)),
        None => return Err(SplitError::NotAnArray),
    };
    // Every element takes at least one byte: never reserve more than the input can hold.
    let remaining = buf.len().saturating_sub(pos);
    let capacity = count
        .and_then(|c| usize::try_from(c).ok())
        .map_or(remaining, |c| c.min(remaining));
    let mut parsed = Vec::with_capacity(capacity);
    loop {
        let index = parsed.len();
        match count {
            Some(count) => {
                if u64::try_from(index).is_ok_and(|i| i >= count) {
                    break;
                }
            }
            None => {
                if buf.get(pos) == Some(&BREAK) {
                    pos += 1;
                    break;
                }
            }
        }
        match element_end(pos) {
            Ok(end) => {
                parsed.push(pos..end);
                pos = end;
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

/// State of one open container on the scan stack.
///
/// A definite container is stored as the number of children still to read (keys and values
/// counted separately). That count is at most the input length (checked in `head`), so it can
/// never collide with the indefinite-length markers at the top of the `u64` range.
pub(crate) type Frame = u64;
pub(crate) const INDEFINITE_ARRAY: Frame = u64::MAX;
/// Indefinite-length map whose next item is a key (so a break may end it).
pub(crate) const INDEFINITE_MAP_KEY: Frame = u64::MAX - 1;
/// Indefinite-length map whose next item is a value.
pub(crate) const INDEFINITE_MAP_VALUE: Frame = u64::MAX - 2;

/// What the head at some offset announced.
pub(crate) enum Head {
    /// A complete data item without children, ending at this offset.
    Leaf(usize),
    /// A container (array, map or tag) whose children start at `start`; `frame` is its initial
    /// stack state (0 for an empty definite container).
    Container { start: usize, frame: Frame },
    /// The break stop code (one byte).
    Break,
}

/// End offset of the data item starting at `start`, which is nested inside `outer_depth`
/// containers, given the format's `head` reader.
///
/// Nesting is tracked on a fixed-size stack of [`Frame`]s, never by recursion. Only CBOR has
/// indefinite-length containers and breaks; MessagePack's heads are all definite, so its
/// frames are plain counts (bounded by the input length, far below the indefinite markers).
pub(crate) fn walk(
    buf: &[u8],
    start: usize,
    outer_depth: usize,
    head: impl Fn(&[u8], usize) -> Result<Head, ScanError>,
) -> Result<usize, ScanError> {
    // Fast path, and keeps the stack below untouched for scalars.
    let (mut pos, first) = match head(buf, start)? {
        Head::Leaf(end) => return Ok(end),
        Head::Break => return Err(break_outside(start)),
        Head::Container {
            start: children,
            frame,
        } => (children, frame),
    };
    let max_open = MAX_DEPTH.saturating_sub(outer_depth);
    if max_open == 0 {
        return Err(ScanError::TooDeep { at: start });
    }
    if first == 0 {
        return Ok(pos);
    }
    // Frames of the open containers, outermost first; `stack[..depth]` is live.
    let mut stack: [Frame; MAX_DEPTH] = [0; MAX_DEPTH];
    stack[0] = first;
    let mut depth = 1usize;
    loop {
        let at = pos;
        match head(buf, pos)? {
            Head::Leaf(end) => pos = end,
            Head::Break => {
                let Some(level) = depth.checked_sub(1) else {
                    return Err(break_outside(at));
                };
                match stack.get(level) {
                    Some(&INDEFINITE_ARRAY) | Some(&INDEFINITE_MAP_KEY) => {}
                    Some(&INDEFINITE_MAP_VALUE) => {
                        return Err(ScanError::Invalid {
                            at,
                            reason: "break in place of a map value",
                        })
                    }
                    _ => return Err(break_outside(at)),
                }
                // The indefinite container at `level` is complete.
                pos = at + 1;
                depth = level;
            }
            Head::Container {
                start: children,
                frame,
            } => {
                if depth >= max_open {
                    return Err(ScanError::TooDeep { at });
                }
                pos = children;
                if frame != 0 {
                    match stack.get_mut(depth) {
                        Some(slot) => *slot = frame,
                        None => return Err(ScanError::TooDeep { at }),
                    }
                    depth += 1;
                    continue;
                }
            }
        }
        // A data item just ended: account for it in the enclosing containers, closing the
        // definite ones that are now complete.
        loop {
            let Some(level) = depth.checked_sub(1) else {
                return Ok(pos);
            };
            if let Some(frame) = stack.get_mut(level) {
                match *frame {
                    INDEFINITE_ARRAY => break,
                    INDEFINITE_MAP_KEY => {
                        *frame = INDEFINITE_MAP_VALUE;
                        break;
                    }
                    INDEFINITE_MAP_VALUE => {
                        *frame = INDEFINITE_MAP_KEY;
                        break;
                    }
                    left if left > 1 => {
                        *frame = left - 1;
                        break;
                    }
                    _ => {}
                }
            }
            // The definite container at `level` is complete.
            depth = level;
        }
    }
}

/// The error for a break stop code where no indefinite-length item can end.
pub(crate) fn break_outside(at: usize) -> ScanError {
    ScanError::Invalid {
        at,
        reason: "break outside an indefinite-length item",
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Checks both scanners' unit tests run, given the scanner's functions.

    use super::*;

    /// Small deterministic generator for the randomized tests.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        pub(crate) fn usize_below(&mut self, n: usize) -> usize {
            usize::try_from(self.below(n as u64)).expect("fits")
        }
    }

    /// String and container sizes around every length-header boundary of both formats.
    pub(crate) const SIZES: [usize; 7] = [0, 23, 24, 255, 256, 65535, 65536];

    /// The [`Scanner`] of the module it is used in: both scanners name their entry points
    /// alike.
    macro_rules! this_scanner {
        () => {
            Scanner {
                value_len,
                split_array,
                array_len,
                map_len,
            }
        };
    }
    pub(crate) use this_scanner;

    /// Up to `max - 1` items drawn by `item`, the count drawn first.
    pub(crate) fn random_items<T>(
        rng: &mut XorShift,
        max: u64,
        mut item: impl FnMut(&mut XorShift) -> T,
    ) -> Vec<T> {
        (0..rng.below(max)).map(|_| item(rng)).collect()
    }

    /// `values` as map entries under the keys `k0`, `k1`, ... (made by `key`).
    pub(crate) fn keyed<T>(values: Vec<T>, key: impl Fn(String) -> T) -> Vec<(T, T)> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (key(format!("k{i}")), v))
            .collect()
    }

    /// Draws `count` random values (depth 4) from `seed`; `check` gets each, with the
    /// generator for any further draws.
    pub(crate) fn each_random_value<T>(
        seed: u64,
        count: usize,
        random_value: fn(&mut XorShift, u32) -> T,
        mut check: impl FnMut(&mut XorShift, T),
    ) {
        let mut rng = XorShift(seed);
        for _ in 0..count {
            let v = random_value(&mut rng, 4);
            check(&mut rng, v);
        }
    }

    /// A one-element list of ranges.
    pub(crate) fn single(range: Range<usize>) -> Vec<Range<usize>> {
        vec![range]
    }

    /// What `split_array` returns.
    type Split = Result<Vec<Range<usize>>, SplitError>;

    /// One scanner's entry points.
    pub(crate) struct Scanner {
        pub(crate) value_len: fn(&[u8]) -> Result<usize, ScanError>,
        pub(crate) split_array: fn(&[u8]) -> Split,
        pub(crate) array_len: fn(&[u8]) -> Option<u64>,
        pub(crate) map_len: fn(&[u8]) -> Option<u64>,
    }

    impl Scanner {
        /// Every property a valid single encoding must satisfy; `trailer` is garbage the
        /// scanner must not read past the value.
        pub(crate) fn check_valid(&self, bytes: &[u8], trailer: &[u8]) {
            let value_len = self.value_len;
            assert_eq!(value_len(bytes), Ok(bytes.len()), "{}", hex::encode(bytes));
            // Every prefix for small values; a sample (still including the last bytes) for
            // big ones.
            let step = if bytes.len() <= 4096 {
                1
            } else {
                bytes.len() / 256
            };
            let tail = bytes.len().saturating_sub(64)..bytes.len();
            for k in (0..bytes.len()).step_by(step).chain(tail) {
                assert_eq!(
                    value_len(&bytes[..k]),
                    Err(ScanError::Truncated { at: k }),
                    "prefix {k} of {}",
                    hex::encode(bytes)
                );
            }
            let mut extended = bytes.to_vec();
            extended.extend_from_slice(trailer);
            assert_eq!(value_len(&extended), Ok(bytes.len()));
        }

        /// What must hold for the array `bytes` of `ranges.len()` elements, already split into
        /// `ranges`: the header peeks, trailing bytes (the one-byte value `extra`) and every
        /// prefix. With `may_lack_break` (CBOR, where an indefinite-length array can be cut
        /// after its last element, before the break) a prefix may fail past the last element.
        pub(crate) fn check_split_array(
            &self,
            bytes: &[u8],
            ranges: &[Range<usize>],
            extra: u8,
            may_lack_break: bool,
        ) {
            assert_eq!((self.array_len)(bytes), Some(ranges.len() as u64));
            assert_eq!((self.map_len)(bytes), None);
            let mut extended = bytes.to_vec();
            extended.push(extra);
            assert_eq!(
                (self.split_array)(&extended),
                Err(SplitError::TrailingBytes {
                    at: bytes.len(),
                    parsed: ranges.to_vec()
                })
            );
            for k in 0..bytes.len() {
                match (self.split_array)(&bytes[..k]) {
                    Err(SplitError::NotAnArray) => assert_eq!(k, 0),
                    Err(SplitError::Header(e)) => assert_eq!(e, ScanError::Truncated { at: k }),
                    Err(SplitError::Element {
                        index,
                        error,
                        parsed,
                    }) => {
                        assert_eq!(error, ScanError::Truncated { at: k });
                        assert_eq!(parsed[..], ranges[..index]);
                        match ranges.get(index) {
                            Some(r) => assert!(r.end > k),
                            None => assert!(may_lack_break, "prefix {k}: element {index} of none"),
                        }
                    }
                    other => panic!("prefix {k}: unexpected {other:?}"),
                }
            }
        }

        /// What a failed split of arbitrary `input` must agree with (`len` is its
        /// `value_len`).
        pub(crate) fn check_split_error(
            &self,
            input: &[u8],
            len: &Result<usize, ScanError>,
            error: SplitError,
        ) {
            match error {
                SplitError::TrailingBytes { at, .. } => assert_eq!(*len, Ok(at)),
                SplitError::NotAnArray => assert_eq!((self.array_len)(input), None),
                SplitError::Header(_) => assert_eq!((self.array_len)(input), None),
                SplitError::Element { index, parsed, .. } => {
                    assert_eq!(parsed.len(), index);
                    assert!(len.is_err());
                }
            }
        }

        /// An array announcing far more elements than the five one-byte ones present fails
        /// at the sixth, ending at `at`, without having reserved room for the announced count.
        pub(crate) fn check_huge_count(&self, bytes: &[u8], at: usize, parsed: &[Range<usize>]) {
            match (self.split_array)(bytes) {
                Err(SplitError::Element {
                    index,
                    error,
                    parsed: got,
                }) => {
                    assert_eq!(index, 5);
                    assert_eq!(error, ScanError::Truncated { at });
                    assert_eq!(got, parsed);
                    assert!(got.capacity() <= 5);
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        /// `bytes` nests one level too deep, the extra level at its first byte: both entry
        /// points refuse it at the first element past the limit.
        pub(crate) fn check_one_level_too_deep(&self, bytes: &[u8]) {
            let too_deep = ScanError::TooDeep { at: MAX_DEPTH };
            assert_eq!((self.value_len)(bytes), Err(too_deep.clone()));
            assert_eq!(
                (self.split_array)(bytes),
                Err(SplitError::Element {
                    index: 0,
                    error: too_deep,
                    parsed: vec![]
                })
            );
        }

        /// A million copies of `open` (a container header) fail on the depth check, not with
        /// a stack overflow.
        pub(crate) fn check_very_deep(&self, open: u8) {
            let very_deep = vec![open; 1_000_000];
            assert_eq!(
                (self.value_len)(&very_deep),
                Err(ScanError::TooDeep { at: MAX_DEPTH })
            );
        }
    }

    impl Scanner {
        /// The checks any input gets: a length stays within the input; the decoder's
        /// verdict on that length (`differential`); an array that splits is the whole input
        /// (`check_ranges` checks the pieces) and one that does not fails consistently.
        pub(crate) fn exercise(
            &self,
            input: &[u8],
            differential: impl FnOnce(&Result<usize, ScanError>),
            check_ranges: impl FnOnce(&[Range<usize>]),
        ) {
            let len = (self.value_len)(input);
            if let Ok(n) = len {
                assert!(n > 0 && n <= input.len());
            }
            differential(&len);
            match (self.split_array)(input) {
                Ok(ranges) => {
                    assert_eq!(len, Ok(input.len()));
                    check_ranges(&ranges);
                }
                Err(e) => self.check_split_error(input, &len, e),
            }
            let _ = (self.map_len)(input);
        }

        /// Checks that `ranges` follow one another, each one whole value; returns where the
        /// last ends (`empty_end` when there are none).
        pub(crate) fn check_contiguous(
            &self,
            input: &[u8],
            ranges: &[Range<usize>],
            empty_end: usize,
        ) -> usize {
            let mut pos = ranges.first().map_or(empty_end, |r| r.start);
            for r in ranges {
                assert_eq!(r.start, pos);
                assert_eq!((self.value_len)(&input[r.clone()]), Ok(r.len()));
                pos = r.end;
            }
            pos
        }
    }

    /// Feeds `exercise` 200 000 random inputs of up to 64 bytes, half of their bytes drawn
    /// from `interesting`.
    pub(crate) fn random_inputs(interesting: &[u8], mut exercise: impl FnMut(&[u8])) {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
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

    /// Feeds `exercise` ten mutants of `valid`, each with one to three random edits
    /// (overwrite, bit flip, truncation, or inserting the byte `inserted` draws).
    pub(crate) fn mutants(
        rng: &mut XorShift,
        valid: &[u8],
        inserted: impl Fn(&mut XorShift) -> u8,
        mut exercise: impl FnMut(&[u8]),
    ) {
        for _ in 0..10 {
            let mut m = valid.to_vec();
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
                        m.insert(i, inserted(rng));
                    }
                }
            }
            exercise(&m);
        }
    }
}
