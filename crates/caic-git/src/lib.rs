//! Host-side git for caic, through the `git` CLI (no libgit2), every call with a timeout.
//!
//! - [`discover_repos`]: the repos under the repos root, with their default branches.
//! - [`list_branches`], [`BranchAllocator`], [`create_branch`]: base branches and caic's own
//!   `caic-N` branches, made with `update-ref` only.
//! - Into a container: [`bundle_create`] on the host, piped into [`container_import_script`]
//!   run in the container with `bash -c`.
//! - Diffs: [`container_diff_script`] in the container, [`parse_numstat`] on its output,
//!   [`diff_stat_host`] on the host.
//! - Back: [`container_export_script`] in the container, its stdout into [`bundle_import`].
//! - Before a push: [`scan_diff`], the secret scan of what a branch adds (SECURITY.md S19).
//!
//! caic never changes the host checkout's work tree, index or current branch: it only creates
//! and moves branches that are not checked out.

mod branch;
mod bundle;
mod cmd;
mod discover;
mod error;
mod numstat;
mod push;
mod scan;
mod script;
#[cfg(test)]
mod testutil;

pub use branch::{create_branch, has_base, list_branches, BranchAllocator, BRANCH_PREFIX};
pub use bundle::{bundle_create, bundle_import, host_identity, FALLBACK_EMAIL, FALLBACK_NAME};
pub use discover::{default_branch, discover_repos, RepoInfo};
pub use error::{Error, Result};
pub use numstat::{diff_stat_host, parse_numstat};
pub use push::{base_ref, push_branch, squash_onto};
pub use scan::{scan_diff, scan_patch, Finding, FindingKind, MAX_BINARY_BYTES};
pub use script::{
    container_diff_script, container_export_script, container_import_script, DiffMode, BASE_REF,
    EXPORT_EXIT_DIVERGED, IMPORT_EXIT_DIVERGED, WIP_MESSAGE,
};
