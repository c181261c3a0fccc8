//! Commit objects: the header fields the history walk needs.

use git2::Oid;

use super::bytes::hex_oid;

/// A commit's root tree and parents (in stored order, first parent first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHeader {
    /// The root tree.
    pub tree: Oid,
    /// The parents, first parent first.
    pub parents: Vec<Oid>,
}

/// Read the `tree` and `parent` lines of a raw commit object's header (the lines
/// before the first empty one).
///
/// Any number of `parent` lines is read, wherever they stand in the header; git
/// itself (`parse_commit_buffer`) only reads those that directly follow `tree`.
///
/// # Errors
///
/// What is wrong with the header: no `tree` line, or an id that is not 40 hex digits.
pub fn parse_header(data: &[u8]) -> Result<CommitHeader, &'static str> {
    let mut tree = None;
    let mut parents = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            break;
        }
        if let Some(hex) = line.strip_prefix(b"tree ") {
            tree = Some(hex_oid(hex).ok_or("bad tree line")?);
        } else if let Some(hex) = line.strip_prefix(b"parent ") {
            parents.push(hex_oid(hex).ok_or("bad parent line")?);
        }
    }
    Ok(CommitHeader {
        tree: tree.ok_or("no tree line")?,
        parents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const PARENT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn headers_give_tree_and_parents_in_order() {
        let raw = format!(
            "tree {TREE}\nparent {PARENT}\nparent {TREE}\nauthor a <a> 0 +0000\n\nparent {PARENT}\n"
        );
        let header = parse_header(raw.as_bytes()).unwrap();
        assert_eq!(header.tree.to_string(), TREE);
        let parents: Vec<String> = header.parents.iter().map(Oid::to_string).collect();
        // The message is not the header: its "parent" line is not read.
        assert_eq!(parents, [PARENT, TREE]);
    }

    #[test]
    fn damaged_headers_say_what_is_wrong() {
        assert_eq!(parse_header(b"author a\n"), Err("no tree line"));
        assert_eq!(parse_header(b"tree 1234\n"), Err("bad tree line"));
        let raw = format!("tree {TREE}\nparent xyz\n");
        assert_eq!(parse_header(raw.as_bytes()), Err("bad parent line"));
    }
}
