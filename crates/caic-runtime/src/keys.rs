//! caic's own SSH keys (SECURITY.md S22): the client key pair caic logs in with, kept in
//! the config dir, and the per-container host keys that pin each container's sshd.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::{HashAlg, LineEnding};
use russh::keys::{PrivateKey, PublicKey};

use crate::Error;

/// Comment written into caic's client public key.
const CLIENT_KEY_COMMENT: &str = "caic";

/// Generates a fresh ed25519 key pair from the OS CSPRNG.
fn random_ed25519(comment: &str) -> PrivateKey {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    seed.fill(0);
    key.set_comment(comment);
    key
}

/// The permission bits of `path` (0 where the OS has none, so nothing looks too open).
fn mode_of(path: &Path) -> std::io::Result<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(fs::metadata(path)?.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        fs::metadata(path).map(|_| 0)
    }
}

/// Sets the permission bits of `path` (nothing where the OS has none).
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Options that create a file private to caic's user from its first byte.
fn private_file() -> fs::OpenOptions {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

fn key_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Keys(format!("{what}: {e}"))
}

/// caic's client key pair, used to log into every container and nothing else.
///
/// Lives at `<config dir>/ssh/id_ed25519` (+ `.pub`), never in `~/.ssh`.
#[derive(Clone)]
pub struct ClientKey {
    key: Arc<PrivateKey>,
    path: PathBuf,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("path", &self.path)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ClientKey {
    /// Loads the key from `<config_dir>/ssh/id_ed25519`, generating it on first use.
    ///
    /// The `ssh` dir is created 0700 and the private key 0600. A private key file readable
    /// by group or others is refused; a wider directory is tightened with a warning.
    pub fn load_or_generate(config_dir: &Path) -> Result<Self, Error> {
        let dir = config_dir.join("ssh");
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
            set_mode(&dir, 0o700)?;
        } else {
            let mode = mode_of(&dir)?;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{mode:o}"),
                    "caic ssh key directory was more open than 0700; tightening it"
                );
                set_mode(&dir, 0o700)?;
            }
        }
        let path = dir.join("id_ed25519");
        if path.exists() {
            let mode = mode_of(&path)?;
            if mode & 0o077 != 0 {
                return Err(Error::Keys(format!(
                    "{} has mode {mode:o}; refusing to use a private key readable by others (chmod 600 it)",
                    path.display()
                )));
            }
            let text = fs::read_to_string(&path)?;
            let key = PrivateKey::from_openssh(text.as_bytes())
                .map_err(|e| key_err(&format!("parse {}", path.display()), e))?;
            Ok(Self {
                key: Arc::new(key),
                path,
            })
        } else {
            let key = random_ed25519(CLIENT_KEY_COMMENT);
            let private = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| key_err("encode private key", e))?;
            let public = key
                .public_key()
                .to_openssh()
                .map_err(|e| key_err("encode public key", e))?;
            let tmp = dir.join("id_ed25519.tmp");
            {
                let mut f = private_file().open(&tmp)?;
                f.write_all(private.as_bytes())?;
                f.sync_all()?;
            }
            set_mode(&tmp, 0o600)?;
            fs::write(dir.join("id_ed25519.pub"), format!("{public}\n"))?;
            fs::rename(&tmp, &path)?;
            tracing::info!(path = %path.display(), "generated caic's SSH client key");
            Ok(Self {
                key: Arc::new(key),
                path,
            })
        }
    }

    /// The private key, for russh authentication.
    pub fn private_key(&self) -> Arc<PrivateKey> {
        self.key.clone()
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The public key as one OpenSSH `authorized_keys` line (no trailing newline).
    pub fn public_openssh(&self) -> String {
        self.key
            .public_key()
            .to_openssh()
            .expect("an ed25519 public key always encodes")
    }

    /// SHA-256 fingerprint of the public key, safe to log.
    pub fn fingerprint(&self) -> String {
        self.key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }

    /// Path of the private key file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A per-container SSH host key, generated in memory at container creation.
///
/// The private half goes only into the container; the public half is kept as the
/// container label `caic.host_key` so caic can verify the container after a restart.
pub struct HostKey {
    private_openssh: String,
    public: PublicKey,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKey")
            .field(
                "fingerprint",
                &self.public.fingerprint(HashAlg::Sha256).to_string(),
            )
            .finish()
    }
}

impl Drop for HostKey {
    fn drop(&mut self) {
        // Best effort: overwrite the private key text in place before it is freed.
        let len = self.private_openssh.len();
        self.private_openssh.clear();
        self.private_openssh.extend(std::iter::repeat_n('\0', len));
    }
}

impl HostKey {
    /// Generates a new random ed25519 host key.
    pub fn generate() -> Result<Self, Error> {
        let key = random_ed25519("caic-container-host");
        let private_openssh = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| key_err("encode host key", e))?
            .to_string();
        Ok(Self {
            private_openssh,
            public: key.public_key().clone(),
        })
    }

    /// The private key in OpenSSH format, to be written into the container only.
    pub fn private_openssh(&self) -> &str {
        &self.private_openssh
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key as one OpenSSH line (`ssh-ed25519 AAAA… comment`).
    pub fn public_openssh(&self) -> String {
        self.public
            .to_openssh()
            .expect("an ed25519 public key always encodes")
    }
}

/// Parses an OpenSSH public key line such as the `caic.host_key` label.
pub fn parse_public_key(line: &str) -> Result<PublicKey, Error> {
    PublicKey::from_openssh(line.trim()).map_err(|e| key_err("parse public key", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_key_is_generated_once_with_tight_modes_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let k1 = ClientKey::load_or_generate(tmp.path()).unwrap();
        let dir = tmp.path().join("ssh");
        #[cfg(unix)]
        {
            let mode = |p: &Path| mode_of(p).unwrap();
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join("id_ed25519")), 0o600);
        }
        let text = fs::read_to_string(dir.join("id_ed25519")).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        let pubtext = fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
        assert!(pubtext.starts_with("ssh-ed25519 "), "{pubtext}");
        assert_eq!(pubtext.trim(), k1.public_openssh());

        let k2 = ClientKey::load_or_generate(tmp.path()).unwrap();
        assert_eq!(
            k1.public_key(),
            k2.public_key(),
            "second call must load, not regenerate"
        );
    }

    #[cfg(unix)]
    #[test]
    fn client_key_readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        ClientKey::load_or_generate(tmp.path()).unwrap();
        let key = tmp.path().join("ssh/id_ed25519");
        set_mode(&key, 0o644).unwrap();
        let err = ClientKey::load_or_generate(tmp.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("refusing"), "{err}");
        // A too-open directory is tightened rather than refused.
        set_mode(&key, 0o600).unwrap();
        set_mode(&tmp.path().join("ssh"), 0o755).unwrap();
        ClientKey::load_or_generate(tmp.path()).unwrap();
        assert_eq!(mode_of(&tmp.path().join("ssh")).unwrap(), 0o700);
    }

    #[test]
    fn host_keys_are_unique_and_round_trip() {
        let a = HostKey::generate().unwrap();
        let b = HostKey::generate().unwrap();
        assert_ne!(a.public_key(), b.public_key());
        let parsed = parse_public_key(&a.public_openssh()).unwrap();
        assert_eq!(&parsed, a.public_key());
        let private = PrivateKey::from_openssh(a.private_openssh()).unwrap();
        assert_eq!(private.public_key().key_data(), a.public_key().key_data());
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }
}
