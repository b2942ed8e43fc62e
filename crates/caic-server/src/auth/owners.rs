//! Who owns which task: the engine has no owner field, so the server keeps a map from
//! task id to user id, filled when a logged-in user creates a task and persisted in
//! `owners.json` (0600) in the config dir.

use caic_auth::files::write_private;
use caic_auth::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::watch;

/// The owners file name.
pub const OWNERS_FILE: &str = "owners.json";

/// Task id -> user id, written through on each change.
#[derive(Debug)]
pub struct Owners {
    path: Option<PathBuf>,
    map: Mutex<BTreeMap<String, String>>,
    changed: watch::Sender<u64>,
}

impl Owners {
    /// An empty map kept in memory only.
    pub fn in_memory() -> Self {
        Owners {
            path: None,
            map: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }

    /// Opens `config_dir/owners.json` (absent is an empty map).
    pub fn open(config_dir: &Path) -> Result<Self, Error> {
        let path = config_dir.join(OWNERS_FILE);
        let map = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(Error::Io { path, source }),
        };
        Ok(Owners {
            path: Some(path),
            map: Mutex::new(map),
            changed: watch::channel(0).0,
        })
    }

    /// The user id owning `task`, if recorded.
    pub fn owner(&self, task: &str) -> Option<String> {
        self.lock().get(task).cloned()
    }

    /// True when `user` owns `task`.
    pub fn owns(&self, user: &str, task: &str) -> bool {
        self.lock().get(task).is_some_and(|u| u == user)
    }

    /// Records that `user` owns `task`, persists the map and wakes the watchers.
    pub fn set(&self, task: &str, user: &str) -> Result<(), Error> {
        let mut map = self.lock();
        map.insert(task.to_string(), user.to_string());
        if let Some(path) = &self.path {
            let text = serde_json::to_string_pretty(&*map).unwrap_or_default();
            write_private(path, text.as_bytes())?;
        }
        drop(map);
        self.changed.send_modify(|v| *v += 1);
        Ok(())
    }

    /// A receiver that changes whenever an owner is recorded.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_persist_privately_across_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Owners::open(tmp.path()).unwrap();
        assert_eq!(o.owner("t1"), None);
        let mut rx = o.changes();
        o.set("t1", "github:1").unwrap();
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        assert!(o.owns("github:1", "t1"));
        assert!(!o.owns("github:2", "t1"));
        drop(o);
        let again = Owners::open(tmp.path()).unwrap();
        assert_eq!(again.owner("t1").as_deref(), Some("github:1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(tmp.path().join(OWNERS_FILE)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(tmp.path().join(OWNERS_FILE), "[").unwrap();
        let e = Owners::open(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(OWNERS_FILE), "{e}");
    }
}
