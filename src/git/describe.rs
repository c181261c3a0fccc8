//! Commits described for people: short id, author date and author name, as
//! `git log --format='%h %ai %an'` shows them (the short id at a fixed length), and
//! their subject (`%s`).

use git2::Oid;

use super::repository::Repository;

/// Hex digits of a short commit id.
const SHORT_ID_DIGITS: usize = 10;

/// A commit described for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The first 10 hex digits of the id.
    pub short_id: String,
    /// The author date, `YYYY-MM-DD HH:MM:SS +HHMM` in the author's time zone (`%ai`);
    /// empty for an unknown commit.
    pub author_date: String,
    /// The author name (`%an`); empty for an unknown commit.
    pub author: String,
}

/// Describe each commit of `ids` (full hex ids). An id that is not a commit of `repo`
/// is described by its short id alone.
#[must_use]
pub fn describe(repo: &Repository, ids: &[String]) -> Vec<Description> {
    ids.iter()
        .map(|hex| {
            let short_id: String = hex.chars().take(SHORT_ID_DIGITS).collect();
            let commit = Oid::from_str(hex)
                .ok()
                .and_then(|oid| repo.libgit2().find_commit(oid).ok());
            match commit {
                Some(commit) => {
                    let author = commit.author();
                    let when = author.when();
                    let local = when.seconds() + i64::from(when.offset_minutes()) * 60;
                    Description {
                        short_id,
                        author_date: iso_date(local, when.offset_minutes()),
                        author: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                    }
                }
                None => Description {
                    short_id,
                    author_date: String::new(),
                    author: String::new(),
                },
            }
        })
        .collect()
}

/// The subject of a commit, as `git log --format=%s` shows it (the message's first
/// paragraph on one line); empty for an unknown commit.
#[must_use]
pub fn subject(repo: &Repository, oid: Oid) -> String {
    repo.libgit2()
        .find_commit(oid)
        .ok()
        .and_then(|commit| {
            commit
                .summary_bytes()
                .map(|s| String::from_utf8_lossy(s).into_owned())
        })
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS +HHMM` from local seconds since the epoch and the offset.
fn iso_date(local_seconds: i64, offset_minutes: i32) -> String {
    let days = local_seconds.div_euclid(86_400);
    let secs = local_seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let offset = offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        offset / 60,
        offset % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{git, TestRepo};

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date(0, 0), "1970-01-01 00:00:00 +0000");
        assert_eq!(
            iso_date(1_700_000_000 + 3600, 60),
            "2023-11-14 23:13:20 +0100"
        );
        assert_eq!(iso_date(951_782_400, -330), "2000-02-29 00:00:00 -0530");
    }

    #[test]
    fn commits_are_described_as_git_log_shows_them() {
        let repo = TestRepo::new();
        repo.write("a.py", "");
        let id = repo.commit("first");
        let expected = git(repo.path(), &["log", "-1", "--format=%ai|%an", &id]);
        let handle = Repository::discover(repo.path()).unwrap();
        let unknown = "0".repeat(40);
        let described = describe(&handle, &[id.clone(), unknown]);
        assert_eq!(
            format!("{}|{}", described[0].author_date, described[0].author),
            expected.trim()
        );
        assert_eq!(described[0].short_id, id[..10]);
        assert_eq!(described[1].short_id, "0000000000");
        assert_eq!(described[1].author, "");
        let oid = Oid::from_str(&id).unwrap();
        let expected = git(repo.path(), &["log", "-1", "--format=%s", &id]);
        assert_eq!(subject(&handle, oid), expected.trim());
        assert_eq!(subject(&handle, Oid::ZERO_SHA1), "");
    }
}
