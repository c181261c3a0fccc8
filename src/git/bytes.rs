//! Byte helpers for git's binary formats (pack indexes, pack entries, commit-graph
//! files): big-endian integers read with bounds checks, and hex object ids.

use git2::Oid;

/// The big-endian `u32` at `at`, or `None` past the end of `data`.
#[must_use]
pub fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The big-endian `u64` at `at`, or `None` past the end of `data`.
#[must_use]
pub fn be64(data: &[u8], at: usize) -> Option<u64> {
    let bytes = data.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// A 40-digit hex object id, as commit headers spell them; `None` for anything else.
#[must_use]
pub fn hex_oid(hex: &[u8]) -> Option<Oid> {
    if hex.len() != 40 {
        return None;
    }
    Oid::from_str(std::str::from_utf8(hex).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_bounds_checked() {
        let data = [0, 0, 1, 2, 3, 4, 5, 6, 7];
        assert_eq!(be32(&data, 0), Some(0x0102));
        assert_eq!(be32(&data, 5), Some(0x0405_0607));
        assert_eq!(be32(&data, 6), None);
        assert_eq!(be32(&data, usize::MAX), None);
        assert_eq!(be64(&data, 1), Some(0x0001_0203_0405_0607));
        assert_eq!(be64(&data, 2), None);
    }

    #[test]
    fn hex_ids_are_exactly_40_digits() {
        let hex = b"0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            hex_oid(hex).map(|o| o.to_string()),
            Some(String::from_utf8_lossy(hex).into_owned())
        );
        assert_eq!(hex_oid(&hex[..39]), None);
        assert_eq!(hex_oid(b"0123456789abcdef0123456789abcdef0123456z"), None);
    }
}
