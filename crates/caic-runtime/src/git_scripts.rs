//! Container side: bash scripts caic runs in the container (`bash -c SCRIPT` over SSH).
//!
//! They need only bash, coreutils and git (Debian bookworm's 2.39 is enough). Each one sends
//! git's own chatter to stderr, so stdout carries only the documented payload, and fails
//! with a non-zero exit and a `caic-<step>:` message on stderr. caic-git's
//! `parse_numstat` reads what the numstat diff prints. Host-side git (bundles, branches)
//! is caic-git's.

/// Ref in the container repo that marks the commit the task started from; diffs and exports
/// are taken against it.
pub const BASE_REF: &str = "refs/caic/base";

/// Exit status of [`container_import_script`] when the container's branch already exists and
/// neither contains the imported commit nor can be fast-forwarded to it cleanly.
pub const IMPORT_EXIT_DIVERGED: i32 = 3;

/// Exit status of [`container_export_script`] when `HEAD` has left the task branch for history
/// that does not contain it.
pub const EXPORT_EXIT_DIVERGED: i32 = 3;

/// Message of the commit the export script makes of uncommitted work.
pub const WIP_MESSAGE: &str = "caic: work in progress";

/// What [`container_diff_script`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffMode {
    /// `git diff --numstat -z`, for caic-git's `parse_numstat`.
    NumStat,
    /// The unified diff; binary files appear as `Binary files a/x and b/x differ`.
    Full,
}

/// Quotes a string for bash (single quotes).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a directory, letting a leading `~/` (or a lone `~`) mean the SSH user's home.
fn quote_dir(dir: &str) -> String {
    if dir == "~" {
        "\"$HOME\"".to_string()
    } else if let Some(rest) = dir.strip_prefix("~/") {
        format!("\"$HOME\"/{}", quote(rest))
    } else {
        quote(dir)
    }
}

/// Shared prologue: strict mode, stdout kept on fd 3 for the payload, a `die` helper.
fn prologue(step: &str) -> String {
    format!(
        r#"set -euo pipefail
exec 3>&1 1>&2
die() {{ echo "caic-{step}: $1" >&2; exit "${{2:-1}}"; }}
"#
    )
}

/// Script that reads a bundle (from caic-git's `bundle_create`) on stdin and checks out
/// `branch` from it in `workdir` (absolute, or `~/...` for the SSH user's home).
///
/// First run: creates and `git init`s `workdir` if needed, fetches the branch, checks it out
/// forced with a clean tree, and sets [`BASE_REF`] to the imported commit. It sets
/// `user.name`/`user.email` in the repo when git has none. Prints nothing on stdout.
///
/// Re-run when [`BASE_REF`] and the branch already exist (revive): the agent's commits and
/// uncommitted work are kept. If the branch already contains the imported commit nothing
/// moves; if the branch is behind it and the tree is clean it is fast-forwarded; otherwise
/// the script exits with [`IMPORT_EXIT_DIVERGED`] without changing anything. [`BASE_REF`]
/// stays where the first run put it.
pub fn container_import_script(workdir: &str, branch: &str) -> String {
    let mut s = prologue("import");
    s.push_str(&format!(
        "workdir={}\nbranch={}\n",
        quote_dir(workdir),
        quote(branch)
    ));
    s.push_str(
        r#"tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/in.bundle"
[ -s "$tmp/in.bundle" ] || die "no bundle on stdin"
mkdir -p "$workdir"
cd "$workdir"
git init -q .
git bundle verify -q "$tmp/in.bundle" || die "invalid bundle"
git fetch -q --no-tags --no-write-fetch-head "$tmp/in.bundle" "+refs/heads/$branch:refs/caic/import" \
  || die "cannot fetch refs/heads/$branch from the bundle"
new=$(git rev-parse --verify "refs/caic/import^{commit}")
git update-ref -d refs/caic/import
git config --get user.name >/dev/null || git config user.name caic
git config --get user.email >/dev/null || git config user.email caic@localhost
git config advice.detachedHead false
if git rev-parse --verify -q "refs/caic/base^{commit}" >/dev/null \
  && cur=$(git rev-parse --verify -q "refs/heads/$branch^{commit}"); then
  if git merge-base --is-ancestor "$new" "$cur"; then
    echo "caic-import: $branch already has $new; kept as is"
  elif git merge-base --is-ancestor "$cur" "$new" && [ -z "$(git status --porcelain)" ]; then
    if [ "$(git symbolic-ref -q HEAD || true)" = "refs/heads/$branch" ]; then
      git merge -q --ff-only "$new"
    else
      git update-ref "refs/heads/$branch" "$new" "$cur"
    fi
    echo "caic-import: fast-forwarded $branch to $new"
  else
    die "$branch in $workdir has diverged from the imported $new or has uncommitted changes; not overwriting" 3
  fi
else
  git checkout -q -f -B "$branch" "$new"
  git clean -q -ffd
  git update-ref refs/caic/base "$new"
  echo "caic-import: checked out $branch at $new"
fi
"#,
    );
    s
}

/// Script that prints the diff of everything in `workdir` against [`BASE_REF`]: the agent's
/// commits, staged and unstaged changes and untracked (not ignored) files.
///
/// It works on a copy of the index (`GIT_INDEX_FILE` in a temp dir: the real index copied,
/// or `HEAD` read into it, then `git add -A`), so the agent's index is never changed. The
/// only trace is blob objects for new content in the object store. Renames are detected.
pub fn container_diff_script(workdir: &str, mode: DiffMode) -> String {
    let mut s = prologue("diff");
    s.push_str(&format!("workdir={}\n", quote_dir(workdir)));
    s.push_str(
        r#"cd "$workdir"
git rev-parse --verify -q "refs/caic/base^{commit}" >/dev/null || die "no refs/caic/base in $workdir"
real_index=$(git rev-parse --git-path index)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -f "$real_index" ]; then cp "$real_index" "$tmp/index"; fi
export GIT_INDEX_FILE="$tmp/index"
if [ ! -f "$tmp/index" ]; then git read-tree HEAD; fi
git -c advice.addEmbeddedRepo=false add -A
"#,
    );
    let args = match mode {
        DiffMode::NumStat => "--numstat -z",
        DiffMode::Full => "",
    };
    s.push_str(&format!(
        "git -c core.quotepath=false diff --cached -M --no-color --no-ext-diff --no-textconv {args} refs/caic/base -- >&3\n"
    ));
    s
}

/// Script that commits the agent's uncommitted work on `branch` in `workdir` and writes a
/// bundle of the new commits (`refs/caic/base..refs/heads/<branch>`) to stdout, for
/// caic-git's `bundle_import`.
///
/// Uncommitted changes, including untracked (not ignored) files, become one commit with
/// message [`WIP_MESSAGE`], authored and committed as `author_name <author_email>`, with hooks
/// and signing off. If `HEAD` was moved off the branch to history that contains it, the branch
/// is fast-forwarded to `HEAD`; if that history does not contain it, the script exits with
/// [`EXPORT_EXIT_DIVERGED`]. When the branch has no commit that [`BASE_REF`] lacks, stdout
/// stays **empty** and the exit status is 0: "nothing to bring back".
pub fn container_export_script(
    workdir: &str,
    branch: &str,
    author_name: &str,
    author_email: &str,
) -> String {
    let mut s = prologue("export");
    s.push_str(&format!(
        "workdir={}\nbranch={}\nmessage={}\n",
        quote_dir(workdir),
        quote(branch),
        quote(WIP_MESSAGE)
    ));
    s.push_str(&format!(
        "export GIT_AUTHOR_NAME={n} GIT_COMMITTER_NAME={n} GIT_AUTHOR_EMAIL={e} GIT_COMMITTER_EMAIL={e}\n",
        n = quote(author_name),
        e = quote(author_email)
    ));
    s.push_str(
        r#"cd "$workdir"
git rev-parse --verify -q "refs/caic/base^{commit}" >/dev/null || die "no refs/caic/base in $workdir"
git rev-parse --verify -q "refs/heads/$branch^{commit}" >/dev/null || die "no branch $branch in $workdir"
git -c advice.addEmbeddedRepo=false add -A
if ! git diff --cached --quiet; then
  git -c core.hooksPath=/dev/null -c commit.gpgsign=false commit -q --no-verify -m "$message"
fi
if [ "$(git symbolic-ref -q HEAD || true)" != "refs/heads/$branch" ]; then
  if git merge-base --is-ancestor "refs/heads/$branch" HEAD; then
    git update-ref "refs/heads/$branch" HEAD
  else
    die "HEAD is not on $branch and does not contain it" 3
  fi
fi
if [ -z "$(git rev-list -n 1 "refs/caic/base..refs/heads/$branch")" ]; then
  exit 0
fi
git bundle create - "refs/caic/base..refs/heads/$branch" >&3
"#,
    );
    s
}
