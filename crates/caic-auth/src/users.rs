//! The users store: `users.json` in the config dir (0600, written atomically), one
//! record per user who logged in, with the forge token kept for later API calls on the
//! user's behalf. Re-read after a restart (S18).

use crate::files::write_private;
use crate::oauth::{Profile, Provider, TokenGrant};
use crate::{Error, Secret};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The users file name.
pub const USERS_FILE: &str = "users.json";

/// A user who logged in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// `provider:numeric id`, e.g. `github:583231`: stable across renames.
    pub id: String,
    /// The provider.
    pub provider: Provider,
    /// The login name at the provider (as of the last login).
    pub username: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// The forge access token from the last login (stored: users.json is 0600).
    #[serde(serialize_with = "crate::secret::serialize_exposed")]
    pub token: Secret,
    /// GitLab's refresh token, when given.
    #[serde(default, serialize_with = "crate::secret::serialize_exposed_opt")]
    pub refresh_token: Option<Secret>,
    /// When `token` expires (Unix seconds), when the provider says.
    #[serde(default)]
    pub token_expires_at: Option<u64>,
    /// First login, Unix seconds.
    pub created_at: u64,
    /// Last login or request, Unix seconds.
    pub last_seen: u64,
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    users: BTreeMap<String, User>,
}

/// `users.json`, loaded in memory and written through on each change.
#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    users: Mutex<BTreeMap<String, User>>,
}

impl UserStore {
    /// Opens `config_dir/users.json` (absent is an empty store).
    pub fn open(config_dir: &Path) -> Result<Self, Error> {
        let path = config_dir.join(USERS_FILE);
        let users = match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str::<File>(&text)
                    .map_err(|e| Error::Corrupt {
                        path: path.clone(),
                        message: e.to_string(),
                    })?
                    .users
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        Ok(UserStore {
            path,
            users: Mutex::new(users),
        })
    }

    /// The user with `id`.
    pub fn get(&self, id: &str) -> Option<User> {
        self.lock().get(id).cloned()
    }

    /// All users, by id.
    pub fn list(&self) -> Vec<User> {
        self.lock().values().cloned().collect()
    }

    /// Records a login: creates or updates the user from the profile and stores the
    /// new token.
    pub fn record_login(&self, profile: &Profile, grant: &TokenGrant) -> Result<User, Error> {
        let now = crate::now_unix();
        let id = format!("{}:{}", profile.provider.name(), profile.id);
        let mut users = self.lock();
        let created_at = users.get(&id).map(|u| u.created_at).unwrap_or(now);
        let user = User {
            id: id.clone(),
            provider: profile.provider,
            username: profile.username.clone(),
            avatar_url: profile.avatar_url.clone(),
            token: grant.access_token.clone(),
            refresh_token: grant.refresh_token.clone(),
            token_expires_at: grant.expires_in.map(|s| now + s),
            created_at,
            last_seen: now,
        };
        users.insert(id, user.clone());
        self.save(&users)?;
        Ok(user)
    }

    /// Stores a refreshed token for `id` (keeping the old refresh token when the grant
    /// has none); returns the updated user, or `None` if there is no such user.
    pub fn set_token(&self, id: &str, grant: &TokenGrant) -> Result<Option<User>, Error> {
        let now = crate::now_unix();
        let mut users = self.lock();
        let Some(u) = users.get_mut(id) else {
            return Ok(None);
        };
        u.token = grant.access_token.clone();
        if let Some(r) = &grant.refresh_token {
            u.refresh_token = Some(r.clone());
        }
        u.token_expires_at = grant.expires_in.map(|s| now + s);
        let user = u.clone();
        self.save(&users)?;
        Ok(Some(user))
    }

    /// Updates `last_seen` of `id` to now; returns false if there is no such user.
    pub fn touch(&self, id: &str) -> Result<bool, Error> {
        let mut users = self.lock();
        let Some(u) = users.get_mut(id) else {
            return Ok(false);
        };
        u.last_seen = crate::now_unix();
        self.save(&users)?;
        Ok(true)
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, BTreeMap<String, User>> {
        self.users.lock()
    }

    fn save(&self, users: &BTreeMap<String, User>) -> Result<(), Error> {
        let file = File {
            users: users.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_private(&self.path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        Profile {
            provider: Provider::GitLab,
            id: "42".into(),
            username: name.into(),
            avatar_url: Some("https://gl.example/a.png".into()),
        }
    }

    fn grant(token: &str) -> TokenGrant {
        TokenGrant {
            access_token: Secret::new(token),
            refresh_token: Some(Secret::new("refresh-token-value-1234")),
            expires_in: Some(7200),
        }
    }

    #[test]
    fn s18_users_reloaded_after_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let store = UserStore::open(tmp.path()).unwrap();
        assert!(store.list().is_empty());
        let u = store
            .record_login(&profile("bob"), &grant("glpat-first-token-0001"))
            .unwrap();
        assert_eq!(u.id, "gitlab:42");
        // A rename and a new token at the next login keep the record and created_at.
        let u2 = store
            .record_login(&profile("bobby"), &grant("glpat-second-token-002"))
            .unwrap();
        assert_eq!(u2.created_at, u.created_at);
        assert!(store.touch("gitlab:42").unwrap());
        assert!(!store.touch("github:1").unwrap());
        drop(store);
        let again = UserStore::open(tmp.path()).unwrap();
        let u3 = again.get("gitlab:42").unwrap();
        assert_eq!(u3.username, "bobby");
        assert_eq!(u3.token.expose(), "glpat-second-token-002");
        assert!(u3.token_expires_at.is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(tmp.path().join(USERS_FILE)).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn s15_user_debug_masks_tokens() {
        let tmp = tempfile::tempdir().unwrap();
        let store = UserStore::open(tmp.path()).unwrap();
        let u = store
            .record_login(&profile("bob"), &grant("glpat-first-token-0001"))
            .unwrap();
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("glpat-first-token-0001"), "{dbg}");
        assert!(!dbg.contains("refresh-token-value-1234"), "{dbg}");
    }

    #[test]
    fn corrupt_users_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(USERS_FILE), "{").unwrap();
        let e = UserStore::open(tmp.path()).unwrap_err();
        assert!(e.to_string().contains(USERS_FILE));
    }
}
