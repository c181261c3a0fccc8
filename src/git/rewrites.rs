//! History rewritten in place: replace refs (`refs/replace/<oid>`, `git replace`) and
//! the grafts file (`info/grafts`), read as `git log` reads them.
//!
//! * Replace refs: every ref under `$GIT_REPLACE_REF_BASE` (default `refs/replace/`)
//!   whose last path component starts with 40 hex digits replaces that object
//!   (`replace-object.c`). Replacements are followed in a chain, at most 4 steps; a
//!   longer chain or a cycle is an error ("replace depth too high"). They are not
//!   used with `GIT_NO_REPLACE_OBJECTS` set or `core.useReplaceRefs=false`.
//! * Grafts: `$GIT_GRAFT_FILE` (default `<common dir>/info/grafts`), one
//!   `<commit> <parent>...` line each. They apply whatever the replace refs settings
//!   say: git reads them even with `GIT_NO_REPLACE_OBJECTS`.
//!
//! A commit id no longer fixes a commit's parents or tree when either is in use, so
//! callers must not cache facts by commit id then (see [`Rewrites::is_empty`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use git2::Oid;

use super::Error;

/// Replacements followed from one object at most, as git's `MAXREPLACEDEPTH` (5)
/// lets its loop take them: the fifth is an error.
const MAX_REPLACE_STEPS: usize = 4;

/// Where replace refs come from, as git's settings decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceRefs {
    /// Not used (`GIT_NO_REPLACE_OBJECTS`, `core.useReplaceRefs=false`).
    Disabled,
    /// Every ref whose name starts with this prefix (`$GIT_REPLACE_REF_BASE`).
    Under(Vec<u8>),
}

/// The replace refs and grafts of one repository, read once when it is opened.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    replace: HashMap<Oid, Oid>,
    grafts: HashMap<Oid, Vec<Oid>>,
}

impl Rewrites {
    /// Read the replace refs of `repo` (as `replace_refs` says) and the grafts file
    /// `graft_file` (absent: no grafts).
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateReplaceRef`] when two refs replace one object (git dies
    /// there), [`Error::BadGrafts`] for a grafts file git reports errors in, and
    /// [`Error::Git`] when the refs cannot be listed.
    pub fn read(
        repo: &git2::Repository,
        replace_refs: &ReplaceRefs,
        graft_file: &Path,
    ) -> Result<Self, Error> {
        let replace = match replace_refs {
            ReplaceRefs::Disabled => HashMap::new(),
            ReplaceRefs::Under(base) => read_replace_refs(repo, base)?,
        };
        let grafts = match std::fs::read(graft_file) {
            Ok(text) => parse_grafts(&text).map_err(|(line, detail)| Error::BadGrafts {
                path: graft_file.to_path_buf(),
                line,
                detail,
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(error) => {
                return Err(Error::BadGrafts {
                    path: graft_file.to_path_buf(),
                    line: 0,
                    detail: format!("cannot be read: {error}"),
                })
            }
        };
        Ok(Rewrites { replace, grafts })
    }

    /// Whether nothing is rewritten.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty() && self.grafts.is_empty()
    }

    /// The object to read in place of `oid`, following replacements as git's
    /// `lookup_replace_object` does: `oid` itself when it is not replaced, `None`
    /// when the chain takes more than 4 steps or loops (git: "replace depth too
    /// high").
    #[must_use]
    pub fn object(&self, oid: Oid) -> Option<Oid> {
        let mut current = oid;
        for _ in 0..=MAX_REPLACE_STEPS {
            match self.replace.get(&current) {
                None => return Some(current),
                Some(&next) => current = next,
            }
        }
        None
    }

    /// Whether any object is replaced.
    #[must_use]
    pub fn replaces_objects(&self) -> bool {
        !self.replace.is_empty()
    }

    /// The parents the grafts file gives `commit` (by its own id, not its
    /// replacement's, as git looks grafts up), if it names it.
    #[must_use]
    pub fn grafted_parents(&self, commit: &Oid) -> Option<&[Oid]> {
        self.grafts.get(commit).map(Vec::as_slice)
    }
}

/// The graft file git reads: `$GIT_GRAFT_FILE` (resolved from `base`), else
/// `<common dir>/info/grafts`.
#[must_use]
pub fn graft_file(common_dir: &Path, base: &Path, env: &super::Environment) -> PathBuf {
    match super::environment::non_empty(env.graft_file.as_deref()) {
        Some(path) => super::environment::resolve(base, path),
        None => common_dir.join("info").join("grafts"),
    }
}

/// Every ref whose full name starts with `base`, read as git's
/// `register_replace_ref` reads it: the object named by the first 40 hex digits of
/// the last path component (either case, anything after them ignored) is replaced
/// by the ref's target. Other names are skipped (git warns "bad replace ref name").
fn read_replace_refs(repo: &git2::Repository, base: &[u8]) -> Result<HashMap<Oid, Oid>, Error> {
    let listing_error = |source| Error::Git {
        git_dir: repo.path().to_path_buf(),
        action: "listing replace refs",
        source,
    };
    // A glob lists only the refs under the base's directory; a base that a glob
    // would misread is matched by hand over every ref.
    let globbable = std::str::from_utf8(base)
        .ok()
        .filter(|b| !b.contains(['*', '?', '[', '\\']));
    let references = match globbable {
        Some(base) => repo.references_glob(&format!("{base}*")),
        None => repo.references(),
    }
    .map_err(listing_error)?;
    let mut map = HashMap::new();
    let mut names: HashMap<Oid, Vec<u8>> = HashMap::new();
    for reference in references {
        let reference = reference.map_err(listing_error)?;
        let name = reference.name_bytes().to_vec();
        let Some(rest) = name.strip_prefix(base) else {
            continue;
        };
        let last = rest.rsplit(|&b| b == b'/').next().unwrap_or(rest);
        let Some(original) = last.get(..40).and_then(super::bytes::hex_oid) else {
            continue;
        };
        // A symbolic ref replaces with what it resolves to, as git's ref iteration
        // reports it.
        let target = match reference.target() {
            Some(target) => target,
            None => match reference.resolve().ok().and_then(|r| r.target()) {
                Some(target) => target,
                None => continue,
            },
        };
        if let Some(first) = names.get(&original) {
            return Err(Error::DuplicateReplaceRef {
                git_dir: repo.path().to_path_buf(),
                oid: original,
                first: String::from_utf8_lossy(first).into_owned(),
                second: String::from_utf8_lossy(&name).into_owned(),
            });
        }
        map.insert(original, target);
        names.insert(original, name);
    }
    Ok(map)
}

/// git's `isspace` (`sane_ctype`): space, tab, line feed and carriage return only.
fn is_git_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The grafts of a grafts file, parsed as git's `read_graft_line` parses each line:
/// trailing whitespace dropped; empty lines and lines starting with `#` skipped;
/// otherwise 40 hex digits, then any number of parents each after exactly one
/// whitespace character. git reports any other line ("bad graft data") and a second
/// line for the same commit ("duplicate graft data") as errors and carries on
/// without them; here they are refused, `(line number, what is wrong)`, so that
/// history is never read from a grafts file that does not say what its author meant.
fn parse_grafts(text: &[u8]) -> Result<HashMap<Oid, Vec<Oid>>, (usize, String)> {
    let mut grafts = HashMap::new();
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let end = line
            .iter()
            .rposition(|&b| !is_git_space(b))
            .map_or(0, |i| i + 1);
        let line = &line[..end];
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        // git parses the line as a C string: a NUL ends it.
        let line = line.split(|&b| b == 0).next().unwrap_or(line);
        let bad = || {
            (
                number,
                format!(
                    "bad graft data {:?}: expected a commit id and its parents' ids, \
                     separated by single spaces",
                    String::from_utf8_lossy(line)
                ),
            )
        };
        let mut ids = Vec::with_capacity(line.len() / 41 + 1);
        let mut rest = line;
        loop {
            let id = rest
                .get(..40)
                .and_then(super::bytes::hex_oid)
                .ok_or_else(bad)?;
            ids.push(id);
            rest = &rest[40..];
            match rest.split_first() {
                None => break,
                Some((&separator, after)) if is_git_space(separator) => rest = after,
                Some(_) => return Err(bad()),
            }
        }
        let commit = ids.remove(0);
        if grafts.contains_key(&commit) {
            return Err((
                number,
                format!("duplicate graft data: a second line for commit {commit}"),
            ));
        }
        grafts.insert(commit, ids);
    }
    Ok(grafts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "56ce27d3b522d164b25d0f227e234d0c1bb51820";
    const P: &str = "810ced26e7b21f6d231af47494edaa393c3c0d3b";
    const Q: &str = "3cf8e40cbb955b15862bcfa8be1e45f41d4c33a0";

    fn oid(hex: &str) -> Oid {
        Oid::from_str(hex).unwrap()
    }

    /// Each case was run through git 2.39 and 2.47 (`git log` with the file as
    /// `info/grafts`): what git applies is accepted, what it reports is refused.
    #[test]
    fn grafts_lines_as_git_reads_them() {
        let accepted = [
            (format!("{C} {P}\n"), vec![P]),
            (format!("# comment\n\n{C} {P}\n\n# more\n"), vec![P]),
            (format!("{C}\t{P}\n"), vec![P]),
            (format!("{C}\r{P}\n"), vec![P]),
            (format!("{C} {P}  \r\n"), vec![P]),
            (format!("{C} {P}"), vec![P]),
            (format!("{C} {P} {Q}\n"), vec![P, Q]),
            (format!("{C}\n"), vec![]),
            (format!("{} {P}\n", C.to_uppercase()), vec![P]),
            (format!("{C} {P}\0 trailing garbage after a NUL\n"), vec![P]),
        ];
        for (text, parents) in accepted {
            let grafts =
                parse_grafts(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            let expected: Vec<Oid> = parents.into_iter().map(oid).collect();
            assert_eq!(grafts.get(&oid(C)), Some(&expected), "{text:?}");
            assert_eq!(grafts.len(), 1, "{text:?}");
        }
        let refused = [
            (format!("  # indented comment\n{C} {P}\n"), 1),
            (format!(" {C} {P}\n"), 1),
            (format!("{C}  {P}\n"), 1),
            (format!("{C}\x0b{P}\n"), 1),
            (format!("{C} {P} # comment\n"), 1),
            (format!("{C} {P}xx\n"), 1),
            (format!("{C} {}\n", &P[..39]), 1),
            (format!("{C} {P}\nzz\n"), 2),
            (format!("{C} {P}\n{C} {Q}\n"), 2),
        ];
        for (text, line) in refused {
            let error = parse_grafts(text.as_bytes()).expect_err(&text);
            assert_eq!(error.0, line, "{text:?}: {error:?}");
        }
        assert!(parse_grafts(b"").unwrap().is_empty());
    }

    #[test]
    fn replacements_are_followed_four_steps_at_most() {
        let ids: Vec<Oid> = (1..=7u8)
            .map(|n| Oid::from_bytes(&[n; 20]).unwrap())
            .collect();
        let mut rewrites = Rewrites::default();
        assert_eq!(rewrites.object(ids[0]), Some(ids[0]));
        for step in 0..4 {
            rewrites.replace.insert(ids[step], ids[step + 1]);
        }
        assert_eq!(rewrites.object(ids[0]), Some(ids[4]));
        assert_eq!(rewrites.object(ids[3]), Some(ids[4]));
        assert_eq!(rewrites.object(ids[6]), Some(ids[6]));
        rewrites.replace.insert(ids[4], ids[5]);
        assert_eq!(rewrites.object(ids[0]), None);
        assert_eq!(rewrites.object(ids[1]), Some(ids[5]));
        let mut cycle = Rewrites::default();
        cycle.replace.insert(ids[0], ids[1]);
        cycle.replace.insert(ids[1], ids[0]);
        assert_eq!(cycle.object(ids[0]), None);
    }
}
