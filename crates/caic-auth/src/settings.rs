//! `settings.json` in the config dir: holds the session secret (S1), generated randomly
//! (32 bytes) on first launch, written 0600 atomically, and reloaded after a restart
//! (S18). Other keys in the file are kept as they are.

use crate::files::write_private;
use crate::{Error, Secret};
use rand::RngCore;
use std::path::Path;

/// The settings file name.
pub const SETTINGS_FILE: &str = "settings.json";
const KEY: &str = "session_secret";

/// Loads the session secret from `config_dir/settings.json`, creating it (and the file)
/// on first launch.
pub fn load_or_create_session_secret(config_dir: &Path) -> Result<Secret, Error> {
    let path = config_dir.join(SETTINGS_FILE);
    let mut doc = match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) | Err(_) => {
                return Err(Error::Corrupt {
                    path,
                    message: "not a JSON object".to_string(),
                })
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(Error::io(path, e)),
    };
    if let Some(v) = doc.get(KEY) {
        return match v.as_str() {
            Some(s) if s.len() >= 32 => Ok(Secret::new(s)),
            _ => Err(Error::Corrupt {
                path,
                message: format!("{KEY} is missing or too short"),
            }),
        };
    }
    let secret = generate();
    doc.insert(KEY.to_string(), secret.expose().into());
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    write_private(&path, text.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new session secret");
    Ok(secret)
}

/// 32 random bytes, hex-encoded.
fn generate() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::new(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s01_secret_generated_once_and_random() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sa = load_or_create_session_secret(a.path()).unwrap();
        let sb = load_or_create_session_secret(b.path()).unwrap();
        assert_eq!(sa.expose().len(), 64);
        assert_ne!(sa, sb);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(a.path().join(SETTINGS_FILE)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn s18_secret_reloaded_after_restart_and_other_keys_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(SETTINGS_FILE), "{\"theme\":\"dark\"}").unwrap();
        let first = load_or_create_session_secret(tmp.path()).unwrap();
        let again = load_or_create_session_secret(tmp.path()).unwrap();
        assert_eq!(first, again);
        let text = std::fs::read_to_string(tmp.path().join(SETTINGS_FILE)).unwrap();
        assert!(text.contains("\"theme\": \"dark\""), "{text}");
    }

    #[test]
    fn corrupt_settings_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(SETTINGS_FILE), "[1]").unwrap();
        let err = load_or_create_session_secret(tmp.path()).unwrap_err();
        assert!(err.to_string().contains(SETTINGS_FILE), "{err}");
    }
}
