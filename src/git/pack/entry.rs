//! Pack entries: the header that says what an entry is, its zlib-compressed body,
//! and git's delta format (`patch-delta.c`) that rebuilds an object from its base.
//!
//! Every size here comes from the file, so none is trusted for an allocation before
//! it is checked against what the data can hold.

use git2::Oid;
use libdeflater::{DecompressionError, Decompressor};

use crate::git::ObjectKind;

/// Largest object inflated or rebuilt: far above any real tree or commit.
pub(super) const MAX_OBJECT_BYTES: usize = 1 << 30;

/// A pack entry's header: what it is, where its compressed data starts and how large
/// the data is once inflated.
#[derive(Debug)]
pub(super) enum Entry {
    /// A whole object.
    Base(ObjectKind, usize, usize),
    /// A delta against the entry at an earlier offset of the same pack.
    OfsDelta(u64, usize, usize),
    /// A delta against the object with this id.
    RefDelta(Oid, usize, usize),
}

/// Read the entry header at `offset`; the error says what is wrong with it.
pub(super) fn header(pack: &[u8], offset: u64) -> Result<Entry, String> {
    let truncated = || format!("truncated entry at offset {offset}");
    let mut at = usize::try_from(offset).map_err(|_| "offset overflow".to_owned())?;
    let mut byte = *pack.get(at).ok_or_else(truncated)?;
    at += 1;
    let type_code = (byte >> 4) & 7;
    let mut size = u64::from(byte & 0x0f);
    let mut shift = 4;
    while byte & 0x80 != 0 {
        byte = *pack.get(at).ok_or_else(truncated)?;
        at += 1;
        if shift > 60 {
            return Err(format!("entry size overflow at offset {offset}"));
        }
        size |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    let size = usize::try_from(size).map_err(|_| truncated())?;
    let kind = match type_code {
        1 => ObjectKind::Commit,
        2 => ObjectKind::Tree,
        3 => ObjectKind::Blob,
        4 => ObjectKind::Tag,
        6 => {
            // The base's distance back, in git's offset encoding (each continuation
            // byte adds one before shifting, so encodings are unique).
            let mut c = *pack.get(at).ok_or_else(truncated)?;
            at += 1;
            let mut distance = u64::from(c & 0x7f);
            while c & 0x80 != 0 {
                c = *pack.get(at).ok_or_else(truncated)?;
                at += 1;
                distance = distance
                    .checked_add(1)
                    .and_then(|d| d.checked_mul(128))
                    .map(|d| d | u64::from(c & 0x7f))
                    .ok_or_else(truncated)?;
            }
            let base = offset
                .checked_sub(distance)
                .filter(|_| distance > 0)
                .ok_or_else(|| format!("bad delta base distance at offset {offset}"))?;
            return Ok(Entry::OfsDelta(base, at, size));
        }
        7 => {
            let raw = pack.get(at..at + 20).ok_or_else(truncated)?;
            let base = Oid::from_bytes(raw).map_err(|_| truncated())?;
            return Ok(Entry::RefDelta(base, at + 20, size));
        }
        other => return Err(format!("unknown entry type {other} at offset {offset}")),
    };
    Ok(Entry::Base(kind, at, size))
}

/// Two libdeflate decompressors: one for streams whose first block uses deflate's
/// fixed Huffman codes, one for the rest. A decompressor keeps the fixed codes' decode
/// tables until a dynamic block overwrites them; a walk reads small tree deltas
/// (mostly fixed codes) between whole trees and commits (dynamic ones), so with one
/// decompressor the fixed tables were built again for nearly every delta.
pub(super) struct Inflaters {
    fixed: Decompressor,
    dynamic: Decompressor,
}

impl Inflaters {
    pub(super) fn new() -> Self {
        Inflaters {
            fixed: Decompressor::new(),
            dynamic: Decompressor::new(),
        }
    }

    /// The decompressor for the zlib stream at the start of `input`: after the
    /// 2-byte zlib header (git never sets a preset dictionary) come the first
    /// block's final bit and its 2-bit type, `01` for fixed codes. Either
    /// decompressor decodes any stream; the choice only saves table builds.
    pub(super) fn for_stream(&mut self, input: &[u8]) -> &mut Decompressor {
        if input.get(2).is_some_and(|&byte| (byte >> 1) & 0b11 == 0b01) {
            &mut self.fixed
        } else {
            &mut self.dynamic
        }
    }
}

/// Refuse an entry whose header claims more than its zlib stream can inflate to:
/// a damaged header must not turn into a huge allocation.
pub(super) fn check_size(input: &[u8], size: usize, offset: u64) -> Result<(), String> {
    // Deflate expands at most about 1032:1, and no tree or commit comes near the
    // absolute cap.
    let plausible = input
        .len()
        .saturating_mul(1032)
        .saturating_add(64)
        .min(MAX_OBJECT_BYTES);
    if size > plausible {
        return Err(format!(
            "entry at offset {offset} claims {size} bytes, more than its data can hold"
        ));
    }
    Ok(())
}

/// Inflate the zlib stream at the start of `input` into `out`, which must come to
/// exactly `size` bytes (the entry's `offset` is for messages). The stream's
/// Adler-32 checksum is verified; bytes after the stream are not read.
pub(super) fn inflate(
    inflater: &mut Decompressor,
    input: &[u8],
    size: usize,
    offset: u64,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    check_size(input, size, offset)?;
    out.clear();
    out.resize(size, 0);
    match inflater.zlib_decompress(input, out) {
        Ok(written) if written == size => Ok(()),
        Ok(written) => Err(format!(
            "entry at offset {offset} inflates to {written} bytes, expected {size}"
        )),
        Err(DecompressionError::InsufficientSpace) => Err(format!(
            "entry at offset {offset} inflates to more than the {size} bytes expected"
        )),
        Err(DecompressionError::BadData) => Err(format!(
            "zlib error at offset {offset}: the stream is damaged"
        )),
    }
}

/// Most bytes [`inflate_prefix`] decodes. libdeflate's fast loop may write up to
/// `FASTLOOP_MAX_BYTES_WRITTEN` (299) bytes past its position, and runs only when the
/// output buffer is larger than that; below it, every byte is written by the exact
/// loop, in order, and decoding stops before the first symbol that does not fit.
/// 256 bytes hold a tree line, four parent lines and the byte after them.
pub(super) const PREFIX_BYTES: usize = 256;

/// The first bytes of the zlib stream at the start of `input`, an entry of `size`
/// bytes: all of them when `size` fits in [`PREFIX_BYTES`], else a prefix, which
/// ends before the first zero byte (past the point where decoding stopped, `out` is
/// still zero, so a zero byte may not be the object's: it ends what is known).
/// `None` when the stream is damaged or inflates to another size than `size`.
///
/// The stream's Adler-32 checksum is not verified when it is not inflated to its
/// end: a commit's header is all the history walk reads, and a damaged stream
/// rarely decodes that far (git verifies checksums when it writes the pack).
pub(super) fn inflate_prefix<'b>(
    inflater: &mut Decompressor,
    input: &[u8],
    size: usize,
    out: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    out.clear();
    out.resize(size.min(PREFIX_BYTES), 0);
    match inflater.zlib_decompress(input, out) {
        Ok(written) => (written == size).then_some(&out[..written]),
        Err(DecompressionError::InsufficientSpace) if size > PREFIX_BYTES => {
            let known = memchr::memchr(0, out).unwrap_or(out.len());
            Some(&out[..known])
        }
        Err(_) => None,
    }
}

fn delta_varint(delta: &[u8], at: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    let mut shift = 0;
    loop {
        let byte = *delta.get(*at)?;
        *at += 1;
        if shift > 56 {
            return None;
        }
        value |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
}

/// Apply a git delta (`patch-delta.c`) to `base`; `None` for a malformed delta or
/// one that does not fit `base`.
#[must_use]
pub fn apply_delta(base: &[u8], delta: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    apply_delta_into(base, delta, &mut out)?;
    Some(out)
}

/// The size a delta says its result has (unchecked until it is applied).
pub(super) fn delta_target_size(delta: &[u8]) -> Option<usize> {
    let mut at = 0;
    delta_varint(delta, &mut at)?;
    delta_varint(delta, &mut at)
}

/// [`apply_delta`], writing the result into `out` (cleared first).
pub(super) fn apply_delta_into(base: &[u8], delta: &[u8], out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let mut at = 0;
    let source_size = delta_varint(delta, &mut at)?;
    let target_size = delta_varint(delta, &mut at)?;
    // Each instruction copies at most the whole base or inserts at most 127 bytes, so
    // a larger claimed size is damage (and must not become a huge allocation).
    let most = delta
        .len()
        .saturating_mul(base.len().max(127))
        .min(MAX_OBJECT_BYTES);
    if source_size != base.len() || target_size > most {
        return None;
    }
    // The header's size is only a hint until the result is checked against it.
    out.reserve(target_size.min(base.len().saturating_add(delta.len()) * 2));
    while at < delta.len() {
        let op = delta[at];
        at += 1;
        if op & 0x80 != 0 {
            let mut offset = 0usize;
            let mut size = 0usize;
            for bit in 0..4 {
                if op & (1 << bit) != 0 {
                    offset |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            for bit in 0..3 {
                if op & (0x10 << bit) != 0 {
                    size |= usize::from(*delta.get(at)?) << (8 * bit);
                    at += 1;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            out.extend_from_slice(base.get(offset..offset.checked_add(size)?)?);
        } else if op != 0 {
            let len = usize::from(op);
            out.extend_from_slice(delta.get(at..at + len)?);
            at += len;
        } else {
            return None;
        }
        if out.len() > target_size {
            return None;
        }
    }
    (out.len() == target_size).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`inflate_prefix`] relies on: with an output buffer of at most
    /// [`PREFIX_BYTES`], a stream too long for it leaves the buffer as the start of
    /// its output followed by untouched bytes, whatever wrote the stream (libdeflate
    /// at every level, and git's zlib in loose objects) and wherever a match or
    /// literal falls at the boundary.
    #[test]
    fn a_short_buffer_holds_the_start_of_the_output_and_nothing_else() {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for n in 0..40u32 {
            let mut text = format!(
                "tree {:040x}\nparent {:040x}\nauthor A U Thor <a@example.com> {} +0000\n",
                n.wrapping_mul(2_654_435_761),
                n,
                1_700_000_000 + n
            )
            .into_bytes();
            // Base64-like signature lines, repeated runs and a message: literals and
            // matches of every length land on the boundary somewhere.
            for line in 0..(n % 9) {
                text.extend(format!(" {:064x}\n", u64::from(line * n + 7).pow(3)).bytes());
            }
            text.extend(std::iter::repeat_n(
                b'a' + (n % 26) as u8,
                (n * 13 % 300) as usize,
            ));
            text.extend(
                b"\n\nMerge pull request #1 from someone/branch\n".repeat(n as usize % 4 + 1),
            );
            texts.push(text);
        }
        let mut streams: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for text in &texts {
            for level in 0..=12 {
                let mut compressor =
                    libdeflater::Compressor::new(libdeflater::CompressionLvl::new(level).unwrap());
                let mut stream = vec![0; compressor.zlib_compress_bound(text.len())];
                let len = compressor.zlib_compress(text, &mut stream).unwrap();
                stream.truncate(len);
                streams.push((stream, text.clone()));
            }
        }
        // git's own zlib: the loose objects of a small repository.
        let repo = crate::testutil::TestRepo::new();
        for (n, text) in texts.iter().enumerate().take(8) {
            repo.write(&format!("f{n}.txt"), &String::from_utf8_lossy(text));
            repo.commit(&String::from_utf8_lossy(text));
        }
        let objects = repo.path().join(".git/objects");
        for dir in std::fs::read_dir(&objects).unwrap().flatten() {
            if dir.file_name().len() != 2 {
                continue;
            }
            for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
                let stream = std::fs::read(file.path()).unwrap();
                let mut whole = vec![0; 1 << 16];
                let len = Decompressor::new()
                    .zlib_decompress(&stream, &mut whole)
                    .unwrap();
                whole.truncate(len);
                streams.push((stream, whole));
            }
        }
        assert!(streams.len() > 500);
        let mut inflater = Decompressor::new();
        let mut cut = 0;
        for (stream, whole) in &streams {
            for room in [1, 2, 7, 46, 100, 190, 255, PREFIX_BYTES] {
                if room >= whole.len() {
                    continue;
                }
                let mut out = vec![0u8; room];
                assert_eq!(
                    inflater.zlib_decompress(stream, &mut out),
                    Err(DecompressionError::InsufficientSpace)
                );
                let same = out.iter().zip(whole).take_while(|(a, b)| a == b).count();
                assert!(
                    out[same..].iter().all(|&b| b == 0),
                    "bytes written past the output's start ({room} of {})",
                    whole.len()
                );
                cut += usize::from(same < room);
            }
            let mut buffer = Vec::new();
            let known = inflate_prefix(&mut inflater, stream, whole.len(), &mut buffer).unwrap();
            assert!(whole.starts_with(known));
            if whole.len() <= PREFIX_BYTES {
                assert_eq!(known, &whole[..]);
            }
        }
        // Decoding did stop short of the buffer's end (a match that did not fit).
        assert!(cut > 0);
        // A stream shorter than the entry claims, or damaged: no prefix.
        let (stream, whole) = &streams[0];
        let mut buffer = Vec::new();
        assert!(inflate_prefix(&mut inflater, stream, whole.len() + 1, &mut buffer).is_none());
        assert!(inflate_prefix(
            &mut inflater,
            &stream[..stream.len() / 2],
            whole.len().min(PREFIX_BYTES),
            &mut buffer
        )
        .is_none());
    }

    #[test]
    fn delta_copy_and_insert() {
        let base = b"hello world";
        // sizes 11 -> 11; copy offset 0 size 6 ("hello "), insert "there".
        let delta = [11, 11, 0x90, 6, 5, b't', b'h', b'e', b'r', b'e'];
        assert_eq!(apply_delta(base, &delta).unwrap(), b"hello there");
        // Wrong source size and a zero opcode are rejected.
        assert_eq!(apply_delta(b"x", &delta), None);
        assert_eq!(apply_delta(base, &[11, 1, 0]), None);
        // A copy past the end of the base is rejected, not a panic.
        assert_eq!(apply_delta(base, &[11, 5, 0x91, 9, 5]), None);
        // An impossible target size is rejected before anything is allocated for it.
        assert_eq!(
            apply_delta(base, &[11, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x90, 6]),
            None
        );
    }

    #[test]
    fn headers_decode_and_refuse_damage() {
        // A tree of 5 bytes at offset 0.
        assert!(matches!(
            header(&[0x25], 0),
            Ok(Entry::Base(ObjectKind::Tree, 1, 5))
        ));
        // An offset delta whose base would lie before the pack.
        assert!(header(&[0x65, 0x10], 0)
            .unwrap_err()
            .contains("base distance"));
        // Type 5 is reserved; a header cut short is truncated.
        assert!(header(&[0x55], 0)
            .unwrap_err()
            .contains("unknown entry type 5"));
        assert!(header(&[0xa5], 0).unwrap_err().contains("truncated"));
    }
}
