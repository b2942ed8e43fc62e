//! Task owners recorded by earlier versions of caic. The engine now records each task's
//! owner in the task itself; before, the server kept a map from task id to user id in
//! `owners.json` (0600) in the config dir. That file is read once at startup, never
//! written again, and gives its owners to the tasks that have none.

use caic_auth::Error;
use std::collections::BTreeMap;
use std::path::Path;

/// The owners file name.
pub const OWNERS_FILE: &str = "owners.json";

/// Reads `config_dir/owners.json` (task id -> user id); absent is an empty map.
pub fn legacy_owners(config_dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    let path = config_dir.join(OWNERS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(Error::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_owners_are_read_and_a_broken_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(legacy_owners(tmp.path()).unwrap().is_empty());
        std::fs::write(tmp.path().join(OWNERS_FILE), r#"{"t1":"github:1"}"#).unwrap();
        let m = legacy_owners(tmp.path()).unwrap();
        assert_eq!(m.get("t1").map(String::as_str), Some("github:1"));
        std::fs::write(tmp.path().join(OWNERS_FILE), "[").unwrap();
        let e = legacy_owners(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(OWNERS_FILE), "{e}");
    }
}
