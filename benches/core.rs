//! Micro-benchmarks of the Rust core: `cargo bench --bench core`.
//!
//! * `topo`: git's topological order over a generated 60k-commit graph with merges.
//! * `parse`: the module parser on a typical migration file.
//! * `walk`: the history walk and tree comparison over a repository: the one named
//!   by `AGR_BENCH_REPO`, else a small one made with `benches/gen_monorepo.py`.
//!
//! A plain harness (no criterion) keeps `cargo test` builds light: each case runs a
//! few times and prints the median. Benchmarks never fail on timing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alembic_git_revisions_core::git::graph::CommitGraph;
use alembic_git_revisions_core::git::{topo, Repository, Tip};
use alembic_git_revisions_core::migrations::parser;
use alembic_git_revisions_core::parallel;
use alembic_git_revisions_core::walk::{adds, KnownCommits};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(label: &str, rounds: usize, mut body: impl FnMut() -> T) {
    let mut runs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        std::hint::black_box(body());
        runs.push(start.elapsed());
    }
    println!(
        "{label:<44} median {:>10.3} ms over {rounds} runs",
        median(runs).as_secs_f64() * 1e3
    );
}

/// The node number of the next commit of a generated graph.
// The graphs are this file's own, far below u32::MAX nodes.
#[allow(clippy::expect_used)]
fn next_node(parents: &[Vec<u32>]) -> u32 {
    u32::try_from(parents.len()).expect("a benchmark graph fits in u32")
}

/// A deterministic graph: a main line with feature branches merged back, both
/// parent orders.
fn graph(commits: u32) -> (Vec<Vec<u32>>, u32) {
    let mut parents: Vec<Vec<u32>> = vec![Vec::new()];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut main = 0u32;
    while next_node(&parents) < commits {
        let fork = main;
        let mut tip = fork;
        for _ in 0..=(next() % 5) {
            parents.push(vec![tip]);
            tip = next_node(&parents) - 1;
        }
        parents.push(vec![main]);
        main = next_node(&parents) - 1;
        let merge = if next() % 2 == 0 {
            vec![main, tip]
        } else {
            vec![tip, main]
        };
        parents.push(merge);
        main = next_node(&parents) - 1;
    }
    (parents, main)
}

const MIGRATION: &str = r#""""add orders table

Revision ID: 3f2a9c1b7d4e
Create Date: 2024-05-01 12:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from alembic_git_revisions import get_down_revision

revision: str = "3f2a9c1b7d4e"
down_revision: Union[str, None] = get_down_revision(revision)
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_orders_customer_id", table_name="orders")
    op.drop_table("orders")
"#;

fn bench_repo() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AGR_BENCH_REPO") {
        return Some(PathBuf::from(path));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target").join("bench-repo");
    if !out.join(".git").exists() {
        let status = std::process::Command::new("python3")
            .arg(root.join("benches").join("gen_monorepo.py"))
            .args([
                "--commits",
                "5000",
                "--migrations",
                "200",
                "--unrelated-files",
                "3000",
                "--out",
            ])
            .arg(&out)
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
    }
    Some(out)
}

fn main() {
    let (g, tip) = graph(60_000);
    time("topo: 60k commits with merges", 10, || {
        topo::topo_order(&g, tip)
    });

    let python = parser::PyVersion {
        major: 3,
        minor: 11,
    };
    // The parser runs on pool workers, whose stack its deepest inputs need.
    time("parse: one migration module x1000", 5, || {
        parallel::on_worker(|| {
            for _ in 0..1000 {
                std::hint::black_box(parser::parse_module(MIGRATION, python));
            }
        })
    });

    let Some(path) = bench_repo() else {
        println!("walk: skipped (set AGR_BENCH_REPO, or make python3 and git available)");
        return;
    };
    let Ok(repo) = Repository::discover(&path) else {
        println!("walk: {} is not a repository", path.display());
        return;
    };
    let Ok(Some(tip)) = repo.resolve(&Tip::Head) else {
        println!("walk: no commits in {}", path.display());
        return;
    };
    let never = || false;
    let unknown = |_: &_| None;
    time("walk: load commit graph", 3, || {
        CommitGraph::load(&repo, tip, &unknown, 2, &never)
    });
    let Ok(graph) = CommitGraph::load(&repo, tip, &unknown, 2, &never) else {
        return;
    };
    let Ok(order) = graph.log_order(&repo) else {
        return;
    };
    let known = KnownCommits::new();
    for threads in [1, 2] {
        time(
            &format!(
                "walk: tree comparison, {threads} thread(s), {} commits",
                order.len()
            ),
            3,
            || adds::commit_adds(&repo, &graph, &order, &known, threads, &never),
        );
    }
}
