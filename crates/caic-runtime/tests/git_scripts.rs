//! The container-side git scripts round-tripped with caic-git's host side: a temp dir
//! stands in for the container (`bash -c SCRIPT` with its own HOME), as in a container.

mod support;

use caic_api::DiffFile;
use caic_git::{
    bundle_create, bundle_import, create_branch, diff_stat_host, host_identity, parse_numstat,
    BranchAllocator, Error,
};
use caic_runtime::git_scripts::*;
use std::path::PathBuf;
use support::{checkout_state, ctr_git, dirty, fixture, git, run_script, write, Fixture};

const BINARY: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\x01\x02\x03";

/// A host fixture with branch caic-1 from main, imported into a "container" home.
struct Ctr {
    fx: Fixture,
    home: PathBuf,
    wd: PathBuf,
    branch: String,
    base: String,
}

/// The container's workdir as caic would name it.
const WORKDIR: &str = "~/src/my repo";

async fn imported() -> Ctr {
    let fx = fixture();
    let branch = BranchAllocator::new(&fx.host).reserve().await.unwrap();
    let base = create_branch(&fx.host, &branch, "main").await.unwrap();
    let home = fx.tmp.path().join("ctr home");
    let wd = home.join("src/my repo");
    let bundle = bundle_create(&fx.host, &branch).await.unwrap();
    let run = run_script(&home, &container_import_script(WORKDIR, &branch), &bundle);
    assert_eq!(run.code, 0, "import: {}", run.stderr);
    assert!(run.stdout.is_empty());
    Ctr {
        fx,
        home,
        wd,
        branch,
        base,
    }
}

impl Ctr {
    fn git(&self, args: &[&str]) -> String {
        ctr_git(&self.home, &self.wd, args)
    }
    fn numstat(&self) -> Vec<DiffFile> {
        let run = run_script(
            &self.home,
            &container_diff_script(WORKDIR, DiffMode::NumStat),
            b"",
        );
        assert_eq!(run.code, 0, "diff: {}", run.stderr);
        let mut files = parse_numstat(&String::from_utf8(run.stdout).unwrap());
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files
    }
    fn export(&self) -> Vec<u8> {
        let script =
            container_export_script(WORKDIR, &self.branch, "Host User", "host@example.com");
        let run = run_script(&self.home, &script, b"");
        assert_eq!(run.code, 0, "export: {}", run.stderr);
        run.stdout
    }
}

fn file(path: &str, added: u64, deleted: u64, binary: bool) -> DiffFile {
    DiffFile {
        path: path.into(),
        added,
        deleted,
        binary,
    }
}

#[tokio::test]
async fn full_round_trip_leaves_host_checkout_alone() {
    let fx = fixture();
    dirty(&fx.host);
    let before = checkout_state(&fx.host);
    let branch = BranchAllocator::new(&fx.host).reserve().await.unwrap();
    assert_eq!(branch, "caic-1");
    let base = create_branch(&fx.host, &branch, "main").await.unwrap();
    let bundle = bundle_create(&fx.host, &branch).await.unwrap();
    let home = fx.tmp.path().join("ctr");
    let run = run_script(&home, &container_import_script(WORKDIR, &branch), &bundle);
    assert_eq!(run.code, 0, "import: {}", run.stderr);
    let c = Ctr {
        fx,
        wd: home.join("src/my repo"),
        home,
        branch,
        base,
    };
    // Checked out fresh, base recorded, an identity configured.
    assert_eq!(c.git(&["symbolic-ref", "HEAD"]), "refs/heads/caic-1");
    assert_eq!(c.git(&["rev-parse", "HEAD"]), c.base);
    assert_eq!(c.git(&["rev-parse", BASE_REF]), c.base);
    assert_eq!(c.git(&["status", "--porcelain"]), "");
    assert_eq!(c.git(&["config", "user.name"]), "caic");

    // The agent: edits a tracked file (partly staged), adds a text and a binary file.
    write(
        &c.wd,
        "src/lib.rs",
        "pub fn one() -> u32 {\n    1\n}\n\npub fn two() -> u32 {\n    2\n}\n",
    );
    c.git(&["add", "src/lib.rs"]);
    write(
        &c.wd,
        "src/lib.rs",
        "pub fn one() -> u32 {\n    11\n}\n\npub fn two() -> u32 {\n    2\n}\n",
    );
    write(&c.wd, "docs/new file.md", "brand new line\nsecond line\n");
    write(&c.wd, "img.bin", BINARY);
    let index_before = std::fs::read(c.wd.join(".git/index")).unwrap();
    let status_before = c.git(&["status", "--porcelain"]);

    assert_eq!(
        c.numstat(),
        [
            file("docs/new file.md", 2, 0, false),
            file("img.bin", 0, 0, true),
            file("src/lib.rs", 5, 1, false),
        ]
    );
    let run = run_script(
        &c.home,
        &container_diff_script(WORKDIR, DiffMode::Full),
        b"",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let full = String::from_utf8(run.stdout).unwrap();
    assert!(
        full.contains("diff --git a/docs/new file.md b/docs/new file.md"),
        "{full}"
    );
    assert!(full.contains("+brand new line\n"), "{full}");
    assert!(full.contains("+    11\n"), "{full}");
    assert!(
        full.contains("Binary files /dev/null and b/img.bin differ"),
        "{full}"
    );
    // The agent's index and status are as the agent left them.
    let index_after = std::fs::read(c.wd.join(".git/index")).unwrap();
    assert!(
        index_after == index_before,
        "the diff changed the agent's index"
    );
    assert_eq!(c.git(&["status", "--porcelain"]), status_before);

    let (name, email) = host_identity(&c.fx.host).await;
    assert_eq!(
        (name.as_str(), email.as_str()),
        ("Host User", "host@example.com")
    );
    let script = container_export_script(WORKDIR, &c.branch, &name, &email);
    let run = run_script(&c.home, &script, b"");
    assert_eq!(run.code, 0, "export: {}", run.stderr);
    assert!(!run.stdout.is_empty());
    assert_eq!(c.git(&["status", "--porcelain"]), "");
    let ctr_head = c.git(&["rev-parse", "HEAD"]);

    let host = &c.fx.host;
    let sha = bundle_import(host, &run.stdout, &c.branch).await.unwrap();
    assert_eq!(sha.as_deref(), Some(ctr_head.as_str()));
    assert_eq!(
        git(
            host,
            &["log", "-1", "--format=%an <%ae>|%cn|%s|%P", "caic-1"]
        ),
        format!(
            "Host User <host@example.com>|Host User|{WIP_MESSAGE}|{}",
            c.base
        )
    );
    assert_eq!(
        git(host, &["show", "caic-1:docs/new file.md"]),
        "brand new line\nsecond line"
    );
    let blob = std::process::Command::new("git")
        .args([
            "-C",
            host.to_str().unwrap(),
            "cat-file",
            "blob",
            "caic-1:img.bin",
        ])
        .output()
        .unwrap();
    assert_eq!(blob.stdout, BINARY);
    assert_eq!(
        git(host, &["rev-parse", "caic-1^{tree}"]),
        c.git(&["rev-parse", "HEAD^{tree}"])
    );
    let mut host_stat = diff_stat_host(host, "main", "caic-1").await.unwrap();
    host_stat.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(host_stat, c.numstat());

    // The user's checkout never moved.
    assert_eq!(checkout_state(host), before);
}

#[tokio::test]
async fn export_without_changes_is_empty() {
    let c = imported().await;
    assert!(c.numstat().is_empty());
    let out = c.export();
    assert!(out.is_empty());
    assert_eq!(
        bundle_import(&c.fx.host, &out, &c.branch).await.unwrap(),
        None
    );
    assert_eq!(git(&c.fx.host, &["rev-parse", "caic-1"]), c.base);
    assert_eq!(c.git(&["rev-parse", "HEAD"]), c.base);
}

#[tokio::test]
async fn reimport_on_revive_keeps_the_agents_work() {
    let c = imported().await;
    write(&c.wd, "committed.txt", "one\n");
    c.git(&["add", "committed.txt"]);
    c.git(&["commit", "-q", "-m", "agent commit"]);
    let agent_head = c.git(&["rev-parse", "HEAD"]);
    write(&c.wd, "pending.txt", "not committed\n");
    let stat = c.numstat();

    let bundle = bundle_create(&c.fx.host, &c.branch).await.unwrap();
    for _ in 0..2 {
        let run = run_script(
            &c.home,
            &container_import_script(WORKDIR, &c.branch),
            &bundle,
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(c.git(&["rev-parse", "HEAD"]), agent_head);
        assert_eq!(c.git(&["rev-parse", BASE_REF]), c.base);
        assert_eq!(c.git(&["status", "--porcelain"]), "?? pending.txt");
        assert_eq!(c.numstat(), stat);
    }

    // A host branch that went elsewhere is refused without touching anything.
    git(
        &c.fx.host,
        &["update-ref", "refs/heads/caic-1", "refs/remotes/origin/dev"],
    );
    let other = bundle_create(&c.fx.host, &c.branch).await.unwrap();
    let run = run_script(
        &c.home,
        &container_import_script(WORKDIR, &c.branch),
        &other,
    );
    assert_eq!(run.code, IMPORT_EXIT_DIVERGED, "{}", run.stderr);
    assert!(run.stderr.contains("caic-import: caic-1"), "{}", run.stderr);
    assert_eq!(c.git(&["rev-parse", "HEAD"]), agent_head);
    assert_eq!(c.git(&["status", "--porcelain"]), "?? pending.txt");

    // Both the agent's commit and the pending file come back (over a non-fast-forward).
    let out = c.export();
    let sha = bundle_import(&c.fx.host, &out, &c.branch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(git(&c.fx.host, &["rev-parse", "caic-1~1"]), agent_head);
    assert_eq!(
        git(&c.fx.host, &["show", &format!("{sha}:pending.txt")]),
        "not committed"
    );
}

#[tokio::test]
async fn reimport_fast_forwards_a_clean_branch() {
    let c = imported().await;
    let newer = git(&c.fx.host, &["rev-parse", "refs/remotes/origin/dev"]);
    // dev descends from main, which is where caic-1 is.
    git(&c.fx.host, &["update-ref", "refs/heads/caic-1", &newer]);
    let bundle = bundle_create(&c.fx.host, &c.branch).await.unwrap();
    let run = run_script(
        &c.home,
        &container_import_script(WORKDIR, &c.branch),
        &bundle,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(c.git(&["rev-parse", "HEAD"]), newer);
    assert_eq!(c.git(&["rev-parse", BASE_REF]), c.base);
    assert_eq!(c.numstat(), [file("dev.txt", 1, 0, false)]);
}

#[tokio::test]
async fn export_follows_head_moved_to_a_descendant() {
    let c = imported().await;
    c.git(&["switch", "-q", "-c", "agent-topic"]);
    write(&c.wd, "topic.txt", "t\n");
    let out = c.export();
    assert_eq!(
        c.git(&["rev-parse", "refs/heads/caic-1"]),
        c.git(&["rev-parse", "HEAD"])
    );
    let sha = bundle_import(&c.fx.host, &out, &c.branch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(git(&c.fx.host, &["show", &format!("{sha}:topic.txt")]), "t");
}

#[tokio::test]
async fn bundle_import_refuses_checked_out_or_missing_branches() {
    let c = imported().await;
    write(&c.wd, "x.txt", "x\n");
    let out = c.export();
    let host = &c.fx.host;
    let err = bundle_import(host, &out, "main").await.unwrap_err();
    assert!(
        matches!(&err, Error::BranchCheckedOut { branch, worktree } if branch == "main" && *worktree == *host),
        "{err:?}"
    );
    let wt = c.fx.tmp.path().join("wt");
    git(
        host,
        &["worktree", "add", "-q", wt.to_str().unwrap(), "caic-1"],
    );
    let err = bundle_import(host, &out, "caic-1").await.unwrap_err();
    assert!(
        matches!(&err, Error::BranchCheckedOut { worktree, .. } if *worktree == wt),
        "{err:?}"
    );
    assert!(err.to_string().contains("checked out"), "{err}");
    assert_eq!(git(host, &["rev-parse", "caic-1"]), c.base);
    let err = bundle_import(host, &out, "caic-2").await.unwrap_err();
    assert!(
        matches!(err, Error::BundleMissingBranch(ref b) if b == "caic-2"),
        "{err:?}"
    );
    let err = bundle_import(host, b"not a bundle", "caic-2")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Git { ref command, .. } if command.contains("bundle verify")),
        "{err:?}"
    );
}

#[test]
fn scripts_quote_their_arguments() {
    let s = container_export_script("/w/it's", "caic-1", "O'Brien $(rm -rf /)", "a@b");
    assert!(s.contains(r"workdir='/w/it'\''s'"), "{s}");
    assert!(
        s.contains(r"GIT_AUTHOR_NAME='O'\''Brien $(rm -rf /)'"),
        "{s}"
    );
    assert!(container_diff_script("~/src/x", DiffMode::Full).contains("workdir=\"$HOME\"/'src/x'"));
}
