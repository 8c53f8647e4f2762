//! Finding the bytes that end a plain run inside a JSON string: a quote, a backslash or a
//! control character. The writer escapes exactly these, and the reader stops at exactly these,
//! so both share one scanner that looks at eight bytes at a time.

/// Bytes that need escaping in a JSON string.
pub(super) static ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// How many leading bytes are plain string content (no quote, backslash or control
/// character), found eight bytes at a time: most strings a resource holds are plain, and this
/// runs for every string read or written.
#[inline]
pub(super) fn clean_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The classic "has a zero byte" test: it is non-zero exactly when some byte of `x` is
    // zero (a borrow may also mark bytes above that one, which does not matter for "any").
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let x = u64::from_le_bytes(word);
        // Control characters: bytes below 0x20 are those with the three top bits clear.
        let control = zero_bytes(x & (0xe0 * ONES));
        let quote = zero_bytes(x ^ (b'"' as u64 * ONES));
        let backslash = zero_bytes(x ^ (b'\\' as u64 * ONES));
        if control | quote | backslash != 0 {
            break;
        }
        i += 8;
    }
    while i < bytes.len() && !ESCAPE[bytes[i] as usize] {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_prefix_stops_at_the_first_byte_to_escape() {
        for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
            for len in 0..24 {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert_eq!(clean_prefix(&bytes), at, "{special} at {at} of {len}");
                }
                assert_eq!(clean_prefix(&vec![b'z'; len]), len);
            }
        }
        // Bytes above 0x7f (UTF-8) and just above the controls need no escape.
        assert_eq!(clean_prefix("é ! # ~ ü".as_bytes()), "é ! # ~ ü".len());
        // Every byte value, in every position of a word.
        for byte in 0..=255u8 {
            for at in 0..16 {
                let mut bytes = vec![b'a'; 16];
                bytes[at] = byte;
                let expected = if ESCAPE[byte as usize] { at } else { 16 };
                assert_eq!(clean_prefix(&bytes), expected, "{byte:#x} at {at}");
            }
        }
    }
}
