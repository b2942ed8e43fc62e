//! Host-side git for caic, through the `git` CLI (no libgit2), every call with a timeout.
//!
//! - [`discover_repos`]: the repos under the repos root, with their default branches.
//! - [`list_branches`], [`BranchAllocator`], [`create_branch`]: base branches and caic's own
//!   `caic-N` branches, made with `update-ref` only.
//! - Into a container: [`bundle_create`] on the host, piped into caic-runtime's
//!   `container_import_script` run in the container.
//! - Diffs: [`diff_stat_host`] and [`parse_numstat`] on the host (the container side is
//!   caic-runtime's).
//! - Back: caic-runtime's `container_export_script` in the container, its stdout into
//!   [`bundle_import`].
//! - Before a push: [`scan_diff`], the secret scan of what a branch adds (SECURITY.md S19).
//!
//! caic never changes the host checkout's work tree, index or current branch: it only creates
//! and moves branches that are not checked out.

#![warn(missing_docs)]

mod branch;
mod bundle;
mod cmd;
mod discover;
mod error;
mod numstat;
mod push;
mod scan;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

pub use branch::{create_branch, has_base, list_branches, BranchAllocator, BRANCH_PREFIX};
pub use bundle::{bundle_create, bundle_import, host_identity, FALLBACK_EMAIL, FALLBACK_NAME};
pub use discover::{default_branch, discover_repos, RepoInfo};
pub use error::{Error, Result};
pub use numstat::{diff_stat_host, parse_numstat};
pub use push::{base_ref, push_branch, squash_onto};
pub use scan::{scan_diff, scan_patch, Finding, FindingKind, MAX_BINARY_BYTES};
