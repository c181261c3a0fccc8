//! Tree objects: their entries, read in place, and git's order of entries.

use std::cmp::Ordering;

/// One entry of a tree object, borrowed from the object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeEntry<'a> {
    /// The octal mode (`040000` for a tree, `100644` for a file...).
    pub mode: u32,
    /// The entry's name (never empty, never holds `\0`).
    pub name: &'a [u8],
    /// The 20-byte object id.
    pub id: &'a [u8],
}

impl TreeEntry<'_> {
    /// Whether the entry is a subtree.
    #[must_use]
    pub fn is_tree(&self) -> bool {
        self.mode & 0o170_000 == 0o040_000
    }
}

/// Iterates raw tree bytes, `<octal mode> <name>\0<20-byte id>` repeated, without
/// allocating. A malformed entry ends the iteration and sets `malformed`.
pub struct TreeIter<'a> {
    /// The bytes not read yet.
    pub rest: &'a [u8],
    /// Whether iteration stopped at a malformed entry (rather than the end).
    pub malformed: bool,
}

impl<'a> TreeIter<'a> {
    /// Iterate the entries of `data`.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        TreeIter {
            rest: data,
            malformed: false,
        }
    }

    fn parse_one(&mut self) -> Option<TreeEntry<'a>> {
        let data = self.rest;
        // The mode is a few octal digits: a byte loop. Names are the long part, so
        // their end is found with memchr.
        let mut mode = 0u32;
        let mut space = 0;
        loop {
            let digit = *data.get(space)?;
            if digit == b' ' {
                break;
            }
            if !(b'0'..=b'7').contains(&digit) {
                return None;
            }
            mode = mode.checked_mul(8)?.checked_add(u32::from(digit - b'0'))?;
            space += 1;
        }
        let rest = &data[space + 1..];
        let nul = memchr::memchr(0, rest)?;
        let name = &rest[..nul];
        let id = rest.get(nul + 1..nul + 21)?;
        if name.is_empty() || space == 0 {
            return None;
        }
        self.rest = &rest[nul + 21..];
        Some(TreeEntry { mode, name, id })
    }
}

impl<'a> Iterator for TreeIter<'a> {
    type Item = TreeEntry<'a>;

    fn next(&mut self) -> Option<TreeEntry<'a>> {
        if self.rest.is_empty() || self.malformed {
            return None;
        }
        let entry = self.parse_one();
        if entry.is_none() {
            self.malformed = true;
        }
        entry
    }
}

/// git's `base_name_compare`, the order of entries in a tree: names compare
/// bytewise, a tree as if its name ended in `/`.
#[must_use]
pub fn base_name_cmp(a: &TreeEntry, b: &TreeEntry) -> Ordering {
    let len = a.name.len().min(b.name.len());
    match a.name[..len].cmp(&b.name[..len]) {
        Ordering::Equal => {}
        other => return other,
    }
    let next = |entry: &TreeEntry| -> u8 {
        match entry.name.get(len) {
            Some(&byte) => byte,
            None if entry.is_tree() => b'/',
            None => 0,
        }
    };
    next(a).cmp(&next(b))
}

/// Byte length of the leading entries that two raw trees share byte for byte: where
/// a comparison of the two can start.
#[must_use]
pub fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    let common = common_prefix_len(a, b);
    let mut iter = TreeIter::new(a);
    let mut boundary = 0;
    while iter.next().is_some() {
        let consumed = a.len() - iter.rest.len();
        if consumed > common {
            break;
        }
        boundary = consumed;
    }
    boundary
}

/// Length of the common prefix of two byte strings: whole blocks first (one
/// vectorised comparison each), then bytes.
fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= len && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    while at < len && a[at] == b[at] {
        at += 1;
    }
    at
}

/// A raw tree's entries, or `None` if one is malformed.
#[must_use]
pub fn entries(data: &[u8]) -> Option<Vec<TreeEntry<'_>>> {
    let mut iter = TreeIter::new(data);
    let entries: Vec<TreeEntry<'_>> = iter.by_ref().collect();
    (!iter.malformed).then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(mode: u32, name: &str) -> TreeEntry<'_> {
        TreeEntry {
            mode,
            name: name.as_bytes(),
            id: &[0u8; 20],
        }
    }

    #[test]
    fn trees_sort_as_if_ending_in_slash() {
        use std::cmp::Ordering::*;
        assert_eq!(
            base_name_cmp(&entry(0o100_644, "a.py"), &entry(0o040_000, "a")),
            Less
        );
        assert_eq!(
            base_name_cmp(&entry(0o040_000, "a"), &entry(0o100_644, "a-b")),
            Greater
        );
        assert_eq!(
            base_name_cmp(&entry(0o100_644, "a"), &entry(0o040_000, "a")),
            Less
        );
        assert_eq!(
            base_name_cmp(&entry(0o100_644, "a"), &entry(0o120_000, "a")),
            Equal
        );
        assert_eq!(
            base_name_cmp(&entry(0o160_000, "a"), &entry(0o100_644, "a")),
            Equal
        );
    }

    #[test]
    fn tree_parsing_rejects_garbage() {
        let mut raw = b"100644 a.py\0".to_vec();
        raw.extend_from_slice(&[1u8; 20]);
        raw.extend_from_slice(b"40000 d\0");
        raw.extend_from_slice(&[2u8; 20]);
        let parsed = entries(&raw).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[1].is_tree());
        assert_eq!(entries(b"100644 a.py\0short"), None);
        assert_eq!(entries(b"10x644 a\0"), None);
        assert_eq!(entries(b""), Some(Vec::new()));
    }

    #[test]
    fn shared_prefix_stops_at_an_entry_boundary() {
        let mut a = b"100644 a.py\0".to_vec();
        a.extend_from_slice(&[1u8; 20]);
        let mut b = a.clone();
        a.extend_from_slice(b"100644 b.py\0");
        a.extend_from_slice(&[2u8; 20]);
        b.extend_from_slice(b"100644 b.py\0");
        b.extend_from_slice(&[3u8; 20]);
        // The second entries differ only in their last id byte: not shared.
        assert_eq!(shared_prefix(&a, &b), 32);
        assert_eq!(shared_prefix(&a, &a), a.len());
        assert_eq!(shared_prefix(&a, b""), 0);
    }
}
