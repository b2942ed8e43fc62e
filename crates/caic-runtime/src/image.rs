//! The caic base image: built from `packaging/image/` (embedded in the binary) with the
//! classic builder, tagged by the hash of its inputs so it is rebuilt only when they change.

use std::collections::HashMap;

use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::engine::{engine_err, Docker};
use crate::Error;

/// Repository name of the base image; the tag is the context hash.
pub const IMAGE_REPO: &str = "caic-base";

/// The build context files, embedded at compile time: (path in context, mode, bytes).
const CONTEXT_FILES: &[(&str, u32, &[u8])] = &[
    (
        "Dockerfile",
        0o644,
        include_bytes!("../../../packaging/image/Dockerfile"),
    ),
    (
        "sshd_config",
        0o644,
        include_bytes!("../../../packaging/image/sshd_config"),
    ),
    (
        "entrypoint.sh",
        0o755,
        include_bytes!("../../../packaging/image/entrypoint.sh"),
    ),
    (
        "extra-ca/README",
        0o644,
        include_bytes!("../../../packaging/image/extra-ca/README"),
    ),
];

/// Serialises concurrent `ensure_image` calls in this process so the image is built once.
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tar_append(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    mode: u32,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, data)
}

/// A deterministic build context: the embedded files plus the extra CA certificates.
///
/// Returns the tar bytes. Same inputs give the same bytes, hence the same tag.
pub fn build_context(extra_ca: &[(String, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_mtime(0);
    dir.set_size(0);
    b.append_data(&mut dir, "extra-ca/", std::io::empty())?;
    for (path, mode, data) in CONTEXT_FILES {
        tar_append(&mut b, path, *mode, data)?;
    }
    for (name, data) in extra_ca {
        tar_append(&mut b, &format!("extra-ca/{name}"), 0o644, data)?;
    }
    Ok(b.into_inner()?)
}

/// The image tag for a context, base image reference and base image id.
pub fn image_tag(context: &[u8], base_image: &str, base_image_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(context);
    h.update(b"\0BASE_IMAGE=");
    h.update(base_image.as_bytes());
    h.update(b"\0BASE_ID=");
    h.update(base_image_id.as_bytes());
    let hex = hex::encode(h.finalize());
    format!("{IMAGE_REPO}:{}", &hex[..12])
}

impl Docker {
    /// Reads the configured extra CA certificates (skipping unreadable ones with a warning).
    fn extra_ca_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for (i, path) in self.config.extra_ca_certs.iter().enumerate() {
            match std::fs::read(path) {
                Ok(data) => {
                    let stem = path
                        .file_stem()
                        .map(|s| {
                            s.to_string_lossy().replace(
                                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                                "_",
                            )
                        })
                        .unwrap_or_default();
                    out.push((format!("{i:02}-{stem}.crt"), data));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable CA certificate")
                }
            }
        }
        out
    }

    /// Makes sure the caic base image exists and returns its tag (`caic-base:<12 hex>`).
    ///
    /// Builds it from the embedded `packaging/image/` files when no image has the tag;
    /// otherwise does nothing. Build output lines go to `progress`. Concurrent callers in
    /// this process wait for one build.
    pub async fn ensure_image(&self, progress: impl Fn(&str)) -> Result<String, Error> {
        let base = self.config.base_image.clone();
        let base_id = match self.docker.inspect_image(&base).await {
            Ok(img) => img.id.unwrap_or_default(),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(Error::ImageBuild(format!(
                    "base image {base} is not present; pull it or create it with packaging/image/import-debian-base.sh"
                )))
            }
            Err(e) => return Err(engine_err(e)),
        };
        let context = build_context(&self.extra_ca_files())?;
        let tag = image_tag(&context, &base, &base_id);
        let _guard = BUILD_LOCK.lock().await;
        if self.image_exists(&tag).await? {
            tracing::debug!(%tag, "base image up to date");
            return Ok(tag);
        }
        tracing::info!(%tag, %base, "building caic base image");
        let started = std::time::Instant::now();
        let mut labels = HashMap::new();
        labels.insert("caic.base_image".to_string(), base.clone());
        labels.insert(
            "caic.context_sha".to_string(),
            tag[IMAGE_REPO.len() + 1..].to_string(),
        );
        let mut buildargs = HashMap::new();
        buildargs.insert("BASE_IMAGE".to_string(), base.clone());
        let options = BuildImageOptions {
            t: Some(tag.clone()),
            rm: true,
            forcerm: true,
            buildargs: Some(buildargs),
            labels: Some(labels),
            version: BuilderVersion::BuilderV1,
            ..Default::default()
        };
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.into())));
        let mut last_lines: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::ImageBuild(e.to_string()))?;
            if let Some(detail) = info.error_detail {
                let msg = detail.message.unwrap_or_else(|| "unknown error".into());
                let tail = last_lines.join("\n");
                return Err(Error::ImageBuild(format!("{msg}\n{tail}")));
            }
            if let Some(s) = info.stream.as_deref().or(info.status.as_deref()) {
                for line in s.lines() {
                    let line = line.trim_end();
                    if line.is_empty() {
                        continue;
                    }
                    progress(line);
                    if last_lines.len() == 20 {
                        last_lines.remove(0);
                    }
                    last_lines.push(line.to_string());
                }
            }
        }
        if !self.image_exists(&tag).await? {
            return Err(Error::ImageBuild(format!(
                "build finished but {tag} does not exist:\n{}",
                last_lines.join("\n")
            )));
        }
        tracing::info!(%tag, secs = started.elapsed().as_secs_f64(), "built caic base image");
        Ok(tag)
    }

    /// Whether an image with this reference exists locally.
    pub async fn image_exists(&self, reference: &str) -> Result<bool, Error> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(engine_err(e)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::RuntimeConfig;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn context_is_deterministic_and_tag_tracks_inputs() {
        let a = build_context(&[]).unwrap();
        let b = build_context(&[]).unwrap();
        assert_eq!(a, b);
        let t1 = image_tag(&a, "debian:bookworm-slim", "sha256:1");
        assert!(
            t1.starts_with("caic-base:") && t1.len() == "caic-base:".len() + 12,
            "{t1}"
        );
        assert_ne!(t1, image_tag(&a, "debian:trixie-slim", "sha256:1"));
        assert_ne!(t1, image_tag(&a, "debian:bookworm-slim", "sha256:2"));
        let with_ca = build_context(&[("00-x.crt".into(), b"pem".to_vec())]).unwrap();
        assert_ne!(t1, image_tag(&with_ca, "debian:bookworm-slim", "sha256:1"));
        // The context holds exactly the embedded files.
        let mut ar = tar::Archive::new(&a[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        for want in ["Dockerfile", "sshd_config", "entrypoint.sh", "extra-ca/"] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
    }

    #[test]
    fn dockerfile_pins_claude_and_bakes_no_keys() {
        let dockerfile = std::str::from_utf8(CONTEXT_FILES[0].2).unwrap();
        assert!(dockerfile.contains("ARG BASE_IMAGE=debian:bookworm-slim"));
        assert!(dockerfile.contains("CLAUDE_CODE_VERSION=2.1.332"));
        assert!(dockerfile.contains("rm -f /etc/ssh/ssh_host_*"));
        let sshd = std::str::from_utf8(CONTEXT_FILES[1].2).unwrap();
        for line in [
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "AllowUsers user",
        ] {
            assert!(sshd.lines().any(|l| l.trim() == line), "{line}");
        }
    }

    /// A runtime on the real engine with a fresh config dir (so caic's own key is new).
    pub(crate) async fn runtime() -> (Docker, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let rt = Docker::connect(RuntimeConfig::new(tmp.path()))
            .await
            .unwrap();
        (rt, tmp)
    }

    #[tokio::test]
    async fn image_builds_once_then_is_a_no_op_by_tag() {
        let (rt, _tmp) = runtime().await;
        let lines = AtomicUsize::new(0);
        let started = std::time::Instant::now();
        let tag = rt
            .ensure_image(|l| {
                lines.fetch_add(1, Ordering::Relaxed);
                eprintln!("build: {l}");
            })
            .await
            .unwrap();
        eprintln!("first ensure_image: {:?}", started.elapsed());
        assert!(rt.image_exists(&tag).await.unwrap());
        let second_lines = AtomicUsize::new(0);
        let started = std::time::Instant::now();
        let tag2 = rt
            .ensure_image(|_| {
                second_lines.fetch_add(1, Ordering::Relaxed);
            })
            .await
            .unwrap();
        assert_eq!(tag, tag2);
        assert_eq!(
            second_lines.load(Ordering::Relaxed),
            0,
            "second ensure must not build"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let img = rt.docker().inspect_image(&tag).await.unwrap();
        let labels = img.config.and_then(|c| c.labels).unwrap_or_default();
        assert_eq!(
            labels.get("caic.base_image").map(String::as_str),
            Some("debian:bookworm-slim")
        );
    }

    #[tokio::test]
    async fn missing_base_image_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let mut cfg = RuntimeConfig::new(tmp.path());
        cfg.base_image = "caic-test-no-such-base:never".into();
        let rt = Docker::connect(cfg).await.unwrap();
        let err = rt.ensure_image(|_| {}).await.unwrap_err().to_string();
        assert!(
            err.contains("caic-test-no-such-base:never") && err.contains("import-debian-base.sh"),
            "{err}"
        );
    }
}
