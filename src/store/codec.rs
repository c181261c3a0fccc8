//! The binary frame of every cache file: an 8-byte magic, a format version, the body,
//! and an FNV-1a checksum of all that; written atomically.

use std::path::Path;
use std::time::SystemTime;

use git2::Oid;

use super::fnv1a;

/// Bumped whenever any file's layout changes: files of another version are ignored.
const FORMAT_VERSION: u32 = 1;

/// Builds one cache file. A length that does not fit the format's 32-bit counts
/// spoils the file, which is then not written.
pub(super) struct Writer {
    buf: Vec<u8>,
    too_large: bool,
}

impl Writer {
    pub(super) fn new(magic: [u8; 8]) -> Self {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(&magic);
        buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        Writer {
            buf,
            too_large: false,
        }
    }
    pub(super) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(super) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// A count or length, as a `u32`.
    pub(super) fn len(&mut self, n: usize) {
        match u32::try_from(n) {
            Ok(n) => self.u32(n),
            Err(_) => self.too_large = true,
        }
    }
    pub(super) fn oid(&mut self, v: &Oid) {
        self.buf.extend_from_slice(v.as_bytes());
    }
    pub(super) fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.buf.extend_from_slice(v);
    }
    /// Bytes without a length (the reader knows how many).
    pub(super) fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// The checksummed file, or `None` if something did not fit.
    pub(super) fn finish(mut self) -> Option<Vec<u8>> {
        if self.too_large {
            return None;
        }
        let sum = fnv1a(&self.buf);
        self.u64(sum);
        Some(self.buf)
    }
}

/// Reads one cache file; every read is `None` past the end.
pub(super) struct Reader<'a> {
    pub(super) data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Check magic, version and checksum; `None` for anything unexpected.
    pub(super) fn open(data: &'a [u8], magic: [u8; 8]) -> Option<Self> {
        if data.len() < 20 || data[..8] != magic {
            return None;
        }
        let (body, sum) = data.split_at(data.len() - 8);
        if fnv1a(body) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        if u32::from_le_bytes(body[8..12].try_into().ok()?) != FORMAT_VERSION {
            return None;
        }
        Some(Reader { data: &body[12..] })
    }
    /// The next `n` bytes.
    pub(super) fn take_bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        self.take(n)
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.data.len() < n {
            return None;
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Some(head)
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(super) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(super) fn oid(&mut self) -> Option<Oid> {
        Oid::from_bytes(self.take(20)?).ok()
    }
    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }
    pub(super) fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    /// A count, refused when it cannot fit in what is left (corrupt input).
    pub(super) fn count(&mut self, min_item: usize) -> Option<usize> {
        let n = usize::try_from(self.u32()?).ok()?;
        (n.saturating_mul(min_item) <= self.data.len()).then_some(n)
    }
    /// Whether everything was read: trailing bytes mean a damaged file.
    pub(super) fn is_done(&self) -> bool {
        self.data.is_empty()
    }
}

/// Write `data` (if any) to `path` atomically; failures are ignored (the cache is
/// optional).
pub(super) fn write_atomic(path: &Path, data: Option<Vec<u8>>) {
    let (Some(folder), Some(data)) = (path.parent(), data) else {
        return;
    };
    if std::fs::create_dir_all(folder).is_err() {
        return;
    }
    let temp = folder.join(format!(
        ".tmp-{}-{:x}",
        std::process::id(),
        fnv1a(format!("{:?}{:?}", std::thread::current().id(), SystemTime::now()).as_bytes())
    ));
    if std::fs::write(&temp, data).is_ok() && std::fs::rename(&temp, path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&temp);
}
