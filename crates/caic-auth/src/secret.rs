//! [`Secret`]: the workspace's one secret type (S15), from `caic-secrets`, re-exported
//! so `caic_auth::Secret` keeps working. Its `Debug` and `Display` show only the last
//! 4 characters; [`Secret::expose`] is the only way to the value.

pub use caic_secrets::{mask, serialize_exposed, serialize_exposed_opt, Secret};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::capture_logs;

    const VALUE: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn s15_log_lines_never_contain_the_value() {
        let s = Secret::new(VALUE);
        let out = capture_logs(|| {
            tracing::info!(token = %s, "display field");
            tracing::info!(token = ?s, "debug field");
            tracing::warn!("in a message: {s} {s:?}");
        });
        assert_eq!(out.matches("…6789").count(), 4, "{out}");
        assert!(!out.contains(VALUE), "{out}");
        assert!(!out.contains("ghp_"), "{out}");
    }
}
