//! The pin file format, the pin stage of the chain builder and re-pinning.

use super::*;
use crate::migrations::chain::tests::{dynamic, fixed};
use crate::migrations::chain::{self, Chain, ChainError};
use crate::migrations::repin::extend;

const AT: &str = "0123456789abcdef0123456789abcdef01234567";
const LATER: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn pin(rev: &str, parent: Option<&str>) -> Pin {
    Pin {
        revision: rev.into(),
        down_revision: parent.map(str::to_owned),
        file: format!("{rev}_m.py"),
        pinned_at: AT.into(),
    }
}

fn set(pins: Vec<Pin>) -> PinSet {
    PinSet {
        source: PathBuf::from("m/revision_pins.json"),
        pins,
    }
}

fn links(chain: &Chain) -> Vec<(&str, Option<&str>)> {
    chain
        .links
        .iter()
        .map(|(r, p)| (r.as_str(), p.as_deref()))
        .collect()
}

fn parse_text(text: &str) -> Result<PinSet, PinError> {
    parse(Path::new("m/revision_pins.json"), text.as_bytes())
}

fn malformed(text: &str) -> String {
    match parse_text(text) {
        Err(PinError::Malformed { file, detail }) => {
            assert_eq!(file, Path::new("m/revision_pins.json"));
            detail
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn render_and_parse_round_trip() {
    let pins = vec![
        pin("a", None),
        pin("b", Some("a")),
        pin("c\"\\é", Some("b")),
    ];
    let text = render(&pins);
    assert!(text.starts_with(
        "{\n  \"format\": \"alembic-git-revisions pins\",\n  \"version\": 1,\n  \"pins\": [\n"
    ));
    assert!(text.ends_with("  ]\n}\n"));
    assert_eq!(parse_text(&text).unwrap().pins, pins);
    assert_eq!(parse_text(&render(&[])).unwrap().pins, vec![]);
}

#[test]
fn appending_pins_only_adds_lines() {
    let before = render(&[pin("a", None), pin("b", Some("a"))]);
    let after = render(&[pin("a", None), pin("b", Some("a")), pin("c", Some("b"))]);
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    assert_eq!(new.len(), old.len() + 1);
    // Every old line survives unchanged, in order; one line is inserted.
    let inserted = new.len() - 3;
    assert_eq!(&new[..inserted], &old[..inserted]);
    assert_eq!(&new[inserted + 1..], &old[inserted..]);
    assert!(new[inserted].starts_with("  , {\"revision\": \"c\""));
    // From nothing pinned to one pin: still one added line.
    let empty: Vec<String> = render(&[]).lines().map(str::to_owned).collect();
    let one: Vec<String> = render(&[pin("a", None)])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(one.len(), empty.len() + 1);
    assert_eq!(one[..4], empty[..4]);
}

#[test]
fn layout_is_free_content_is_strict() {
    let compact = format!(
        "{{\"pins\":[{{\"pinned_at\":\"{AT}\",\"file\":\"a.py\",\"down_revision\":null,\
         \"revision\":\"a\"}}],\"version\":1,\"format\":\"alembic-git-revisions pins\"}}"
    );
    assert_eq!(parse_text(&compact).unwrap().pins.len(), 1);

    let entry = |extra: &str| {
        format!(
            "{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": [{{{extra}}}]}}"
        )
    };
    let full = format!(
        "\"revision\": \"a\", \"down_revision\": null, \"file\": \"a.py\", \"pinned_at\": \"{AT}\""
    );
    assert!(parse_text(&entry(&full)).is_ok());
    let missing_parent =
        format!("\"revision\": \"a\", \"file\": \"a.py\", \"pinned_at\": \"{AT}\"");
    assert!(malformed(&entry(&missing_parent)).contains("missing field `down_revision`"));
    assert!(malformed(&entry(&format!("{full}, \"note\": 1"))).contains("unknown field `note`"));
    assert!(malformed(&entry(&format!("{full}, \"revision\": \"b\"")))
        .contains("duplicate field `revision`"));
    let numeric = full.replace("\"a\", \"down", "7, \"down");
    assert!(malformed(&entry(&numeric)).contains("invalid type: integer `7`"));
    let short_commit = full.replace(AT, "abc123");
    assert!(malformed(&entry(&short_commit)).contains("is not a full commit id"));
    let upper = full.replace(AT, &AT.to_uppercase());
    assert!(malformed(&entry(&upper)).contains("is not a full commit id"));
    let empty_parent = full.replace("null", "\"\"");
    assert!(malformed(&entry(&empty_parent)).contains("empty down_revision"));
}

#[test]
fn malformed_files_say_what_is_wrong() {
    assert!(malformed("").contains("is empty"));
    assert!(malformed("  \n").contains("is empty"));
    assert!(
        malformed("{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": [")
            .contains("not valid JSON")
    );
    assert!(malformed("[]").contains("must hold a JSON object, not an array"));
    let as_arrays = format!("{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": [[\"a\", null, \"a.py\", \"{AT}\"]]}}");
    assert!(malformed(&as_arrays).contains("pin 1 must be a JSON object, not an array"));
    assert!(
        malformed("{\"format\": \"alembic-git-revisions pins\", \"version\": 1}")
            .contains("missing field `pins`")
    );
    assert!(
        malformed("{\"format\": \"x\", \"version\": 1, \"pins\": []}").contains("format is \"x\"")
    );
    let newer =
        malformed("{\"format\": \"alembic-git-revisions pins\", \"version\": 2, \"pins\": []}");
    assert!(newer.contains("layout version 2") && newer.contains("upgrade"));
    let huge = malformed(
        "{\"format\": \"alembic-git-revisions pins\", \"version\": 99999999999999999999999, \"pins\": []}",
    );
    assert!(huge.contains("invalid type: floating point"), "{huge}");
    let conflict = format!(
        "{}<<<<<<< HEAD\n  , {{}}\n=======\n  , {{}}\n>>>>>>> other\n  ]\n}}\n",
        render(&[pin("a", None)]).trim_end_matches("  ]\n}\n")
    );
    assert!(malformed(&conflict).contains("merge conflict markers"));
    let deep = format!(
        "{{\"format\": \"alembic-git-revisions pins\", \"version\": 1, \"pins\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(!malformed(&deep).is_empty());
    assert!(matches!(
        parse(Path::new("p"), b"\xff\xfe"),
        Err(PinError::Malformed { .. })
    ));
}

#[test]
fn duplicate_and_misordered_pins_are_refused() {
    let twice = render(&[pin("a", None), pin("a", None)]);
    assert!(malformed(&twice).contains("pins 1 and 2 both pin \"a\""));
    let misordered = render(&[pin("b", Some("a")), pin("a", None)]);
    assert!(malformed(&misordered).contains("only pinned further down (pin 2)"));
    let own_parent = render(&[pin("a", Some("a"))]);
    assert!(malformed(&own_parent).contains("further down"));
}

#[test]
fn without_pins_the_builder_is_unchanged() {
    let files = [fixed("s", 0, &[]), dynamic("b", 2), dynamic("a", 1)];
    assert_eq!(
        chain::build(&files, None).unwrap(),
        chain::build(&files, None).unwrap()
    );
    assert_eq!(
        chain::build(&files, Some(&set(vec![]))).unwrap(),
        chain::build(&files, None).unwrap()
    );
}

#[test]
fn pinned_parents_hold_whatever_the_git_order() {
    // Pinned at: s <- a <- b. History later put the new f before a and b.
    let files = [
        fixed("s", 0, &[]),
        dynamic("f", 1),
        dynamic("a", 2),
        dynamic("b", 3),
    ];
    assert_eq!(
        links(&chain::build(&files, None).unwrap()),
        vec![("f", Some("s")), ("a", Some("f")), ("b", Some("a"))]
    );
    let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
    let chain = chain::build(&files, Some(&pins)).unwrap();
    assert_eq!(
        links(&chain),
        vec![("a", Some("s")), ("b", Some("a")), ("f", Some("b"))]
    );
    assert_eq!(chain.unchained, None);
}

#[test]
fn unpinned_migrations_follow_a_hybrid_on_the_pinned_head() {
    // Pinned: s <- a <- b; then h hardcodes b (a hybrid), and x, y are new.
    let files = [
        fixed("s", 0, &[]),
        dynamic("y", 1),
        dynamic("a", 2),
        dynamic("b", 3),
        fixed("h", 4, &["b"]),
        dynamic("x", 5),
    ];
    let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
    assert_eq!(
        links(&chain::build(&files, Some(&pins)).unwrap()),
        vec![
            ("a", Some("s")),
            ("b", Some("a")),
            ("y", Some("h")),
            ("x", Some("y"))
        ]
    );
}

#[test]
fn hybrids_inside_the_pinned_chain_stay_in_place() {
    // At pin time: s <- a <- h (hardcoded to a) <- b.
    let files = [
        fixed("s", 0, &[]),
        dynamic("n", 1),
        dynamic("a", 2),
        dynamic("b", 3),
        fixed("h", 4, &["a"]),
    ];
    let pins = set(vec![pin("a", Some("s")), pin("b", Some("h"))]);
    assert_eq!(
        links(&chain::build(&files, Some(&pins)).unwrap()),
        vec![("a", Some("s")), ("b", Some("h")), ("n", Some("b"))]
    );
}

#[test]
fn a_pinned_root_without_static_migrations() {
    let files = [dynamic("n", 0), dynamic("a", 1), dynamic("b", 2)];
    let pins = set(vec![pin("a", None), pin("b", Some("a"))]);
    assert_eq!(
        links(&chain::build(&files, Some(&pins)).unwrap()),
        vec![("a", None), ("b", Some("a")), ("n", Some("b"))]
    );
}

#[test]
fn a_pinned_migration_made_static_with_the_same_parent_is_fine() {
    let files = [
        fixed("s", 0, &[]),
        fixed("a", 1, &["s"]),
        dynamic("n", 2),
        dynamic("b", 3),
    ];
    let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
    assert_eq!(
        links(&chain::build(&files, Some(&pins)).unwrap()),
        vec![("b", Some("a")), ("n", Some("b"))]
    );
}

#[test]
fn a_deleted_pinned_migration_is_an_error_naming_it() {
    let files = [fixed("s", 0, &[]), dynamic("b", 1)];
    let pins = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
    let error = chain::build(&files, Some(&pins)).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ChainError::PinnedMigrationGone { .. }));
    assert!(
        text.contains("m/revision_pins.json pins migration \"a\" (a_m.py"),
        "{text}"
    );
    assert!(text.contains("0123456789"), "{text}");
}

#[test]
fn a_changed_pinned_parent_is_an_error_naming_the_file() {
    let files = [
        fixed("s", 0, &[]),
        fixed("t", 1, &["s"]),
        fixed("a", 2, &["t"]),
    ];
    let pins = set(vec![pin("a", Some("s"))]);
    let text = chain::build(&files, Some(&pins)).unwrap_err().to_string();
    assert!(text.starts_with("a_m.py now hardcodes down_revision \"t\", but m/revision_pins.json pins \"a\" to \"s\""), "{text}");
}

#[test]
fn a_pinned_parent_that_is_gone_is_an_error() {
    let files = [fixed("t", 0, &[]), dynamic("a", 1)];
    let pins = set(vec![pin("a", Some("s"))]);
    assert!(matches!(
        chain::build(&files, Some(&pins)),
        Err(ChainError::PinnedParentGone { .. })
    ));
}

#[test]
fn a_cycle_through_pins_names_the_pin_file() {
    let files = [fixed("s", 0, &[]), dynamic("a", 1), fixed("h", 2, &["a"])];
    let pins = set(vec![pin("a", Some("h"))]);
    let error = chain::build(&files, Some(&pins)).unwrap_err();
    assert!(matches!(error, ChainError::PinnedCycle { .. }));
    assert!(error
        .to_string()
        .starts_with("m/revision_pins.json: pinned and hardcoded parents form a cycle"));
}

#[test]
fn duplicates_are_reported_as_duplicates_with_pins_too() {
    let mut second = dynamic("a", 2);
    second.filename = b"other.py".to_vec();
    let files = [fixed("s", 0, &[]), dynamic("a", 1), second];
    assert!(matches!(
        chain::build(&files, Some(&set(vec![pin("a", Some("s"))]))),
        Err(ChainError::DuplicateRevision { .. })
    ));
}

#[test]
fn extend_appends_new_migrations_in_chain_order() {
    let files = [
        fixed("s", 0, &[]),
        dynamic("a", 1),
        dynamic("b", 2),
        dynamic("c", 3),
    ];
    let file = Path::new("m/revision_pins.json");
    let chain = chain::build(&files, None).unwrap();
    let first = extend(None, file, &files, &chain, AT, "v1").unwrap();
    assert_eq!(
        first,
        vec![
            pin("a", Some("s")),
            pin("b", Some("a")),
            pin("c", Some("b"))
        ]
    );
    let existing = set(first[..2].to_vec());
    let again = extend(Some(&existing), file, &files, &chain, LATER, "v2").unwrap();
    assert_eq!(&again[..2], &first[..2]);
    assert_eq!(again[2].revision, "c");
    assert_eq!(again[2].pinned_at, LATER);
}

#[test]
fn extend_refuses_to_change_or_drop_a_pin() {
    let file = Path::new("m/revision_pins.json");
    let existing = set(vec![pin("a", Some("s")), pin("b", Some("a"))]);
    // At this commit git puts f before a and b, and no pin file is there.
    let files = [
        fixed("s", 0, &[]),
        dynamic("f", 1),
        dynamic("a", 2),
        dynamic("b", 3),
    ];
    let chain = chain::build(&files, None).unwrap();
    let error = extend(Some(&existing), file, &files, &chain, LATER, "v2").unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, PinError::WouldChange { .. }));
    assert!(
        text.starts_with("refusing to re-pin m/revision_pins.json: it pins \"a\" to \"s\", but at v2 its parent is \"f\""),
        "{text}"
    );

    let older = [fixed("s", 0, &[]), dynamic("a", 1)];
    let chain = chain::build(&older, None).unwrap();
    let error = extend(Some(&existing), file, &older, &chain, LATER, "v0").unwrap_err();
    assert!(matches!(error, PinError::WouldDrop { ref pin, .. } if pin.revision == "b"));
    assert!(error.to_string().contains("which does not exist at v0"));

    let now_static = [fixed("s", 0, &[]), fixed("a", 1, &["s"]), dynamic("b", 2)];
    let chain = chain::build(&now_static, None).unwrap();
    assert!(extend(Some(&existing), file, &now_static, &chain, LATER, "v3").is_ok());
}

#[test]
fn extend_refuses_an_unchained_migration() {
    let files = [fixed("s", 0, &[]), fixed("t", 1, &[]), dynamic("a", 2)];
    let chain = chain::build(&files, None).unwrap();
    let error = extend(None, Path::new("p"), &files, &chain, AT, "HEAD").unwrap_err();
    assert!(matches!(error, PinError::Unchained { .. }));
    assert!(error.to_string().contains("2 heads: s, t"));
}
