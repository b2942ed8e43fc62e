//! Test helpers: real git repos in temp dirs (feature `testutil`, for other crates'
//! tests too).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A commit date far from "now", so tests control the ordering.
pub const T0: i64 = 1_700_000_000;

/// A git command with a fixed identity and no system config.
fn git_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.com")
        .env("GIT_COMMITTER_NAME", "Test Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.com")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE");
    c
}

/// Runs git, panics on failure, returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir, args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `path` (creating parents) in `dir`.
pub fn write(dir: &Path, path: &str, content: impl AsRef<[u8]>) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// Writes a file, stages everything and commits at time `t`; returns the commit.
pub fn commit(dir: &Path, path: &str, content: &str, msg: &str, t: i64) -> String {
    write(dir, path, content);
    git(dir, &["add", "-A"]);
    let date = format!("@{t} +0000");
    let out = git_cmd(dir, &["commit", "-q", "-m", msg])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(dir, &["rev-parse", "HEAD"])
}

/// A bare `origin`, a `seed` clone used to push to it, and the user's `host` clone.
pub struct Fixture {
    /// Holds the three repos; removed when dropped.
    pub tmp: tempfile::TempDir,
    /// The bare remote.
    pub origin: PathBuf,
    /// A clone that pushes to `origin`.
    pub seed: PathBuf,
    /// The user's clone.
    pub host: PathBuf,
}

/// origin has `main` (README.md, src/lib.rs) and `dev`; `host` is a clone (origin/HEAD ->
/// main) with its own identity in local config.
pub fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin.git");
    let seed = tmp.path().join("seed");
    let host = tmp.path().join("host");
    git(
        tmp.path(),
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
    );
    git(tmp.path(), &["init", "-q", "-b", "main", "seed"]);
    write(&seed, "src/lib.rs", "pub fn one() -> u32 {\n    1\n}\n");
    commit(&seed, "README.md", "hello\n", "initial", T0);
    git(
        &seed,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    git(&seed, &["checkout", "-q", "-b", "dev"]);
    commit(&seed, "dev.txt", "dev\n", "dev work", T0 + 100);
    git(&seed, &["push", "-q", "origin", "dev"]);
    git(&seed, &["checkout", "-q", "main"]);
    git(
        tmp.path(),
        &["clone", "-q", origin.to_str().unwrap(), "host"],
    );
    git(&host, &["config", "user.name", "Host User"]);
    git(&host, &["config", "user.email", "host@example.com"]);
    Fixture {
        tmp,
        origin,
        seed,
        host,
    }
}

/// What a user sees of their checkout: HEAD, status, staged and unstaged diffs, index bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Checkout {
    head_ref: String,
    head: String,
    status: String,
    staged: String,
    unstaged: String,
    index: Vec<u8>,
}

/// Snapshot of a checkout, taken without refreshing the index.
pub fn checkout_state(repo: &Path) -> Checkout {
    Checkout {
        head_ref: git(repo, &["symbolic-ref", "HEAD"]),
        head: git(repo, &["rev-parse", "HEAD"]),
        status: git(repo, &["status", "--porcelain=v1", "-uall"]),
        staged: git(repo, &["diff", "--cached"]),
        unstaged: git(repo, &["diff"]),
        index: std::fs::read(repo.join(".git/index")).unwrap(),
    }
}

/// Makes the host checkout dirty: a staged change, an unstaged change, an untracked file.
pub fn dirty(repo: &Path) {
    write(repo, "README.md", "hello\nstaged line\n");
    git(repo, &["add", "README.md"]);
    write(repo, "README.md", "hello\nstaged line\nunstaged line\n");
    write(repo, "notes.txt", "untracked\n");
}
