//! Annotated tag objects: what they point at, for peeling a tip to its commit.

use git2::Oid;

use super::bytes::hex_oid;

/// The object an annotated tag points at, read as git's `parse_tag_buffer` reads
/// it: `object <40 hex>\n` first, then a `type` line.
///
/// # Errors
///
/// What is wrong with the tag's header.
pub fn parse_target(data: &[u8]) -> Result<Oid, &'static str> {
    const NOT_A_TAG: &str = "bad tag: it does not start with `object <id>` and `type <kind>` lines";
    // git's minimum: the object line (48 bytes), `type ` and a short type name.
    if data.len() < 64 || !data.starts_with(b"object ") || data[47] != b'\n' {
        return Err(NOT_A_TAG);
    }
    if !data[48..].starts_with(b"type ") {
        return Err(NOT_A_TAG);
    }
    hex_oid(&data[7..47]).ok_or(NOT_A_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn tags_give_their_target() {
        let tag = format!("object {TARGET}\ntype commit\ntag v1\ntagger t <t@e> 0 +0000\n\nm\n");
        assert_eq!(parse_target(tag.as_bytes()).unwrap().to_string(), TARGET);
        for bad in [
            format!("type commit\nobject {TARGET}\ntag v1\ntagger t <t@e> 0 +0000\n"),
            format!(
                "object {}\ntype commit\ntag v1\ntagger t <t@e> 0 +0000\n",
                &TARGET[..39]
            ),
            format!("object {TARGET}\ntag v1\ntagger t <t@e> 0 +0000\n\nmessage\n"),
            format!("object {TARGET}\ntype commit\n"),
        ] {
            assert!(parse_target(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
