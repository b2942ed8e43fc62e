//! Private files in the config dir (S14): the dir is 0700, secret files 0600, written
//! atomically (temp file in the same dir, fsync, rename), and a startup check that
//! names anything more open than that.

use crate::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of the config dir.
pub const DIR_MODE: u32 = 0o700;
/// Mode of secret files.
pub const FILE_MODE: u32 = 0o600;

/// Files in the config dir that hold secrets and are checked at startup.
pub const SECRET_FILES: &[&str] = &["config.toml", "settings.json", "users.json"];

/// Creates `dir` (and parents) with mode 0700 if it is missing.
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    set_mode(dir, DIR_MODE)
}

/// Writes `data` to `path` atomically with mode 0600: a reader sees the old file or the
/// new one, never a half-written one, and the data is never readable by others.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(FILE_MODE);
        }
        let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // The mode given to open() is filtered by the umask; make it exact.
        set_mode(&tmp, FILE_MODE)?;
        f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), Error> {
    Ok(())
}

/// A file or dir that is more open than it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionFinding {
    /// The path.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// The most open mode allowed.
    pub expected: u32,
}

impl std::fmt::Display for PermissionFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} has mode {:o}, more open than {:o}; run chmod {:o} {}",
            self.path.display(),
            self.mode,
            self.expected,
            self.expected,
            self.path.display()
        )
    }
}

/// The startup check (S14): the config dir must be at most 0700 and each of
/// [`SECRET_FILES`] that exists at most 0600. Returns one finding per offender, and
/// logs a warning for each; missing files are fine.
pub fn check_permissions(config_dir: &Path) -> Vec<PermissionFinding> {
    let mut paths = vec![(config_dir.to_path_buf(), DIR_MODE)];
    paths.extend(SECRET_FILES.iter().map(|f| (config_dir.join(f), FILE_MODE)));
    paths
        .into_iter()
        .filter_map(|(path, expected)| check(path, expected))
        .collect()
}

/// The same check for one secret file kept elsewhere (the GitHub App's private key):
/// a finding, logged as a warning, when it is more open than 0600; `None` when it is
/// private enough or missing.
pub fn check_secret_file(path: &Path) -> Option<PermissionFinding> {
    check(path.to_path_buf(), FILE_MODE)
}

fn check(path: PathBuf, expected: u32) -> Option<PermissionFinding> {
    let mode = mode_of(&path)?;
    if mode & !expected == 0 {
        return None;
    }
    let finding = PermissionFinding {
        path,
        mode,
        expected,
    };
    tracing::warn!("{finding}");
    Some(finding)
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode_of(_path: &Path) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn s14_private_dir_and_file_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("caic");
        let file = dir.join("settings.json");
        write_private(&file, b"{}").unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        // Overwriting keeps the mode and leaves no temp file behind.
        write_private(&file, b"{\"a\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"a\":1}");
        assert_eq!(mode(&file), 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1);
        assert!(check_permissions(&dir).is_empty());
    }

    #[test]
    fn s14_startup_check_names_open_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("caic");
        write_private(&dir.join("users.json"), b"{}").unwrap();
        write_private(&dir.join("settings.json"), b"{}").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            dir.join("users.json"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let findings = check_permissions(&dir);
        let paths: Vec<_> = findings.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, vec![dir.clone(), dir.join("users.json")]);
        let msg = findings[1].to_string();
        assert!(msg.contains("users.json") && msg.contains("644"), "{msg}");
    }
}
