//! [`Secret`]: the workspace's one secret type, from `caic-secrets`, re-exported so
//! `caic_forge::Secret` keeps working. It prints as its last 4 characters only and
//! compares in constant time.

pub use caic_secrets::Secret;
