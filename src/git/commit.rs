//! Commit objects: the header fields the history walk needs, read exactly as git's
//! `parse_commit_buffer` reads them.

use git2::Oid;

use super::bytes::hex_oid;

/// `tree ` and 40 hex digits: a tree line without its newline.
const TREE_LINE: usize = 45;
/// `parent ` and 40 hex digits: a parent line without its newline.
const PARENT_LINE: usize = 47;

/// A commit's root tree and parents (in stored order, first parent first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitHeader {
    /// The root tree.
    pub tree: Oid,
    /// The parents, first parent first.
    pub parents: Vec<Oid>,
}

/// Read the tree and parents of a raw commit object as git's `parse_commit_buffer`
/// does, so that the answer is the same whether a commit-graph file (written from
/// that parse) is used or not.
///
/// * The object starts with `tree <40 hex>\n`, and something follows it.
/// * The parents are the `parent <40 hex>\n` lines right after it, in order, up to
///   the first other line: a `parent` line after `author`, `encoding` or any other
///   header is not a parent. Each such line must be well formed and followed by
///   something (git: "bad parents in commit").
/// * Hex digits may be in either case; nothing after the parents is looked at.
///
/// Called once per commit on histories of hundreds of thousands: it reads only the
/// header's first lines and allocates only the parent list.
///
/// # Errors
///
/// What git reports for the commit: "bogus commit object" (no tree line first),
/// "bad tree pointer" or "bad parents".
pub fn parse_header(data: &[u8]) -> Result<CommitHeader, &'static str> {
    // With every byte known, the prefix parse always answers.
    parse_header_prefix(data, data.len()).unwrap_or(Err(BOGUS))
}

/// git's message for an object that does not start with a tree line.
const BOGUS: &str = "bogus commit object: it does not start with a tree line";
/// git's message for a malformed parent line.
const BAD_PARENTS: &str = "bad parents: a parent line that is not `parent <40 hex digits>`";

/// [`parse_header`] of a commit of `total` bytes, from `known`, its first bytes (what
/// a partial inflate gives): `None` when they do not decide the answer, else exactly
/// what [`parse_header`] of the whole object returns (it is this function with every
/// byte known). Every length rule is judged on `total`, and a byte past `known` is
/// never guessed.
#[must_use]
pub fn parse_header_prefix(
    known: &[u8],
    total: usize,
) -> Option<Result<CommitHeader, &'static str>> {
    let known = &known[..known.len().min(total)];
    // A tree line, and something after it.
    if total <= TREE_LINE + 1 {
        return Some(Err(BOGUS));
    }
    if known.len() <= TREE_LINE {
        return None;
    }
    if !known.starts_with(b"tree ") || known[TREE_LINE] != b'\n' {
        return Some(Err(BOGUS));
    }
    let Some(tree) = hex_oid(&known[5..TREE_LINE]) else {
        return Some(Err("bad tree pointer"));
    };
    let mut at = TREE_LINE + 1;
    let mut parents = Vec::new();
    loop {
        let rest_total = total - at;
        if rest_total <= PARENT_LINE {
            break;
        }
        let rest = &known[at..];
        // Is it a parent line? Decided by the first byte that differs from
        // `parent `, or by all seven.
        let shown = rest.len().min(7);
        if rest[..shown] != b"parent "[..shown] {
            break;
        }
        if shown < 7 {
            return None;
        }
        // A parent line must be whole and followed by something.
        if rest_total <= PARENT_LINE + 1 {
            return Some(Err(BAD_PARENTS));
        }
        if rest.len() <= PARENT_LINE {
            return None;
        }
        if rest[PARENT_LINE] != b'\n' {
            return Some(Err(BAD_PARENTS));
        }
        match hex_oid(&rest[7..PARENT_LINE]) {
            Some(parent) => parents.push(parent),
            None => return Some(Err(BAD_PARENTS)),
        }
        at += PARENT_LINE + 1;
    }
    Some(Ok(CommitHeader { tree, parents }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const PARENT: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER: &str = "89abcdef0123456789abcdef0123456789abcdef";
    const AUTHOR: &str = "author a <a> 0 +0000\ncommitter a <a> 0 +0000\n";

    fn parents(raw: &str) -> Result<Vec<String>, &'static str> {
        parse_header(raw.as_bytes()).map(|h| h.parents.iter().map(Oid::to_string).collect())
    }

    #[test]
    fn headers_give_tree_and_parents_in_order() {
        let raw = format!("tree {TREE}\nparent {PARENT}\nparent {OTHER}\n{AUTHOR}\nm\n");
        let header = parse_header(raw.as_bytes()).unwrap();
        assert_eq!(header.tree.to_string(), TREE);
        assert_eq!(parents(&raw).unwrap(), [PARENT, OTHER]);
        assert_eq!(
            parents(&format!("tree {TREE}\n{AUTHOR}\nm\n")).unwrap(),
            [""; 0]
        );
    }

    /// Each case was checked with git 2.39 and 2.47 (`git hash-object --literally`,
    /// then `git log --format=%P`).
    #[test]
    fn only_parent_lines_right_after_the_tree_count() {
        // After another header, or in the message: not a parent.
        let cases = [
            format!("tree {TREE}\nparent {PARENT}\n{AUTHOR}encoding UTF-8\nparent {OTHER}\n\nm\n"),
            format!("tree {TREE}\n{AUTHOR}parent {OTHER}\n\nm\n"),
            format!("tree {TREE}\nparent {PARENT}\n\nparent {OTHER}\n"),
        ];
        let expected: [&[&str]; 3] = [&[PARENT], &[], &[PARENT]];
        for (raw, expected) in cases.iter().zip(expected) {
            assert_eq!(parents(raw).unwrap(), expected, "{raw:?}");
        }
        // Upper-case hex is read; a repeated parent stays repeated.
        let upper = format!(
            "tree {}\nparent {}\n{AUTHOR}",
            TREE.to_uppercase(),
            OTHER.to_uppercase()
        );
        assert_eq!(parents(&upper).unwrap(), [OTHER]);
        let twice = format!("tree {TREE}\nparent {PARENT}\nparent {PARENT}\n{AUTHOR}");
        assert_eq!(parents(&twice).unwrap(), [PARENT, PARENT]);
        // A parent line followed by a single byte is still a parent.
        assert_eq!(
            parents(&format!("tree {TREE}\nparent {PARENT}\nx")).unwrap(),
            [PARENT]
        );
        // A tree line followed by a single byte is a commit without parents.
        assert_eq!(parents(&format!("tree {TREE}\nx")).unwrap(), [""; 0]);
    }

    #[test]
    fn damaged_headers_are_refused_as_git_refuses_them() {
        let bogus = "bogus commit object: it does not start with a tree line";
        let bad_parents = "bad parents: a parent line that is not `parent <40 hex digits>`";
        let cases = [
            (
                format!("{AUTHOR}tree {TREE}\nparent {PARENT}\n\nm\n"),
                bogus,
            ),
            (format!("tree {TREE}\n"), bogus),
            (format!("tree {TREE}\r\nparent {PARENT}\n{AUTHOR}"), bogus),
            ("tree 1234\nparent x\n".to_owned(), bogus),
            ("author a\n".to_owned(), bogus),
            (
                format!("tree {}\n{AUTHOR}", TREE.replace('4', "z")),
                "bad tree pointer",
            ),
            (
                format!("tree {TREE}\nparent {}\n{AUTHOR}", &PARENT[..39]),
                bad_parents,
            ),
            (
                format!("tree {TREE}\nparent {PARENT}x\n{AUTHOR}"),
                bad_parents,
            ),
            (
                format!("tree {TREE}\nparent {PARENT} \n{AUTHOR}"),
                bad_parents,
            ),
            (format!("tree {TREE}\nparent {PARENT}\n"), bad_parents),
            (
                format!("tree {TREE}\nparent {}\n{AUTHOR}", PARENT.replace('a', "g")),
                bad_parents,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parents(&raw), Err(expected), "{raw:?}");
        }
    }

    /// Whatever prefix it is given, the prefix parse either declines or answers
    /// exactly as the whole object's parse does, and it answers once the header's
    /// lines and the first byte after them are known.
    #[test]
    fn prefixes_answer_as_the_whole_object_or_not_at_all() {
        let mut objects: Vec<String> = vec![
            format!("tree {TREE}\nparent {PARENT}\nparent {OTHER}\n{AUTHOR}\nm\n"),
            format!("tree {TREE}\n{AUTHOR}\nm\n"),
            format!("tree {TREE}\nparent {PARENT}\n{AUTHOR}encoding UTF-8\nparent {OTHER}\n\nm\n"),
            format!("tree {TREE}\nparent {PARENT}\n\nparent {OTHER}\n"),
            format!("tree {TREE}\nparent {PARENT}\nx"),
            format!("tree {TREE}\nparent {PARENT}\nparent {}", &OTHER[..30]),
            format!("tree {TREE}\nparent {PARENT}x\n{AUTHOR}"),
            format!("tree {TREE}\nparent {}\n{AUTHOR}", &PARENT[..39]),
            format!("tree {}\n{AUTHOR}", TREE.replace('4', "z")),
            format!("{AUTHOR}tree {TREE}\n"),
            format!("tree {TREE}\nparent {PARENT}\nparen"),
            format!(
                "tree {TREE}\nparent {PARENT}\nparent {PARENT}\n{}",
                "p".repeat(300)
            ),
        ];
        objects.push(format!("{}{}", objects[0], "gpgsig x\n".repeat(40)));
        for object in &objects {
            let data = object.as_bytes();
            let whole = parse_header(data);
            for known in 0..=data.len() {
                if let Some(answer) = parse_header_prefix(&data[..known], data.len()) {
                    assert_eq!(answer, whole, "{object:?} from {known} bytes");
                }
            }
            assert_eq!(parse_header_prefix(data, data.len()), Some(whole.clone()));
        }
        // A two-parent header is decided by its lines and one more byte.
        let data = objects[0].as_bytes();
        let lines = TREE_LINE + 1 + 2 * (PARENT_LINE + 1);
        assert!(parse_header_prefix(&data[..lines], data.len()).is_none());
        assert_eq!(
            parse_header_prefix(&data[..=lines], data.len()),
            Some(parse_header(data))
        );
    }
}
