//! Pre-push secret scan (SECURITY.md S19): what a branch adds, checked for credentials.
//!
//! A safety net, not a boundary: it looks at the lines added by `git diff base...head` and
//! at the size of the binary files the branch adds or changes. Findings name the file, the
//! line and the kind; their detail never holds the secret, only its last 4 characters.

use crate::cmd::{git_with, BUNDLE_TIMEOUT};
use crate::error::{Error, Result};
use crate::numstat::parse_numstat;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// A binary file larger than this (500 KiB) is a finding.
pub const MAX_BINARY_BYTES: u64 = 500 * 1024;

/// What kind of secret (or unwanted file) a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// An AWS access key id (`AKIA` + 16 upper-case letters or digits).
    AwsAccessKey,
    /// A GitHub token: `ghp_`, `gho_` (36 chars after the prefix) or `github_pat_`.
    GithubToken,
    /// A generic `sk-` API key (20+ chars after the prefix, letters and digits).
    GenericApiKey,
    /// A PEM or OpenSSH private key block.
    PrivateKey,
    /// `password`/`secret`/`token`/`api_key`... assigned a literal of 8+ chars in a config file.
    ConfigCredential,
    /// A binary file over [`MAX_BINARY_BYTES`].
    LargeBinary,
}

impl FindingKind {
    /// A stable snake_case name, for the API and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsAccessKey => "aws_access_key",
            Self::GithubToken => "github_token",
            Self::GenericApiKey => "generic_api_key",
            Self::PrivateKey => "private_key",
            Self::ConfigCredential => "config_credential",
            Self::LargeBinary => "large_binary",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the scan found; at most one per file and kind (the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Path in the head commit.
    pub file: String,
    /// 1-based line in the head version of the file; `None` for a whole-file finding.
    pub line: Option<u32>,
    /// What was found.
    pub kind: FindingKind,
    /// Human-readable description; secrets appear masked (last 4 chars only).
    pub detail: String,
}

/// Scans what `head` adds since it forked from `base` (`git diff base...head`) in `repo`.
///
/// Added lines are checked for the kinds of [`FindingKind`]; binary files added or changed
/// are checked for size. An empty result means nothing was found.
pub async fn scan_diff(repo: impl AsRef<Path>, base: &str, head: &str) -> Result<Vec<Finding>> {
    let repo = repo.as_ref();
    for rev in [base, head] {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Error::UnknownBranch(rev.to_string()));
        }
    }
    let range = format!("{base}...{head}");
    let patch = git_with(
        repo,
        &[
            "-c",
            "core.quotePath=false",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--unified=0",
            &range,
            "--",
        ],
        BUNDLE_TIMEOUT,
    )
    .await?;
    let mut findings = scan_patch(&String::from_utf8_lossy(&patch.stdout));

    let numstat = git_with(
        repo,
        &[
            "diff",
            "--numstat",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            "--diff-filter=AM",
            &range,
            "--",
        ],
        BUNDLE_TIMEOUT,
    )
    .await?;
    let binaries: HashSet<String> = parse_numstat(&String::from_utf8_lossy(&numstat.stdout))
        .into_iter()
        .filter(|f| f.binary)
        .map(|f| f.path)
        .collect();
    if !binaries.is_empty() {
        let tree = git_with(repo, &["ls-tree", "-r", "-l", "-z", head], BUNDLE_TIMEOUT).await?;
        for entry in String::from_utf8_lossy(&tree.stdout).split('\0') {
            // `<mode> SP <type> SP <object> SP+ <size> TAB <path>`
            let Some((meta, path)) = entry.split_once('\t') else {
                continue;
            };
            if !binaries.contains(path) {
                continue;
            }
            let size: u64 = meta
                .split_whitespace()
                .nth(3)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if size > MAX_BINARY_BYTES {
                findings.push(Finding {
                    file: path.to_string(),
                    line: None,
                    kind: FindingKind::LargeBinary,
                    detail: format!(
                        "binary file of {} KiB (limit {} KiB)",
                        size / 1024,
                        MAX_BINARY_BYTES / 1024
                    ),
                });
            }
        }
    }
    Ok(findings)
}

/// Scans the added lines of a unified diff (`git diff`, any context size) for secrets.
///
/// Pure; used by [`scan_diff`]. Binary sizes are not checked here.
pub fn scan_patch(patch: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut seen: HashSet<(String, FindingKind)> = HashSet::new();
    let mut file: Option<String> = None;
    // Lines left in the current hunk (old side, new side); both 0 outside a hunk.
    let (mut old_left, mut new_left) = (0u32, 0u32);
    let mut new_line = 0u32;
    for raw in patch.lines() {
        if old_left == 0 && new_left == 0 {
            if raw.starts_with("diff --git ") {
                file = None;
            } else if let Some(path) = raw.strip_prefix("+++ ") {
                file = new_path(path);
            } else if let Some((start, old, new)) = hunk_header(raw) {
                old_left = old;
                new_left = new;
                new_line = start;
            }
            continue;
        }
        match raw.as_bytes().first() {
            Some(b'+') => {
                new_left = new_left.saturating_sub(1);
                if let Some(f) = &file {
                    for (kind, detail) in scan_line(f, &raw[1..]) {
                        if seen.insert((f.clone(), kind)) {
                            findings.push(Finding {
                                file: f.clone(),
                                line: Some(new_line),
                                kind,
                                detail,
                            });
                        }
                    }
                }
                new_line += 1;
            }
            Some(b'-') => old_left = old_left.saturating_sub(1),
            Some(b'\\') => {}
            _ => {
                old_left = old_left.saturating_sub(1);
                new_left = new_left.saturating_sub(1);
                new_line += 1;
            }
        }
    }
    findings
}

/// The path of a `+++ ` header line; `None` for `/dev/null`.
fn new_path(s: &str) -> Option<String> {
    let s = s.trim_end_matches('\t');
    if s == "/dev/null" {
        return None;
    }
    let s = unquote(s);
    Some(s.strip_prefix("b/").unwrap_or(&s).to_string())
}

/// Reverses the C-quoting git keeps with `core.quotePath=false` (quotes, `\\`, `\t`, `\n`).
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// `@@ -a[,b] +c[,d] @@` -> (c, b, d); a missing count is 1.
fn hunk_header(s: &str) -> Option<(u32, u32, u32)> {
    let rest = s.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (_, old_n) = range(old)?;
    let (new_start, new_n) = range(new)?;
    Some((new_start, old_n, new_n))
}

/// `…` + the last 4 chars of a secret.
fn mask(secret: &str) -> String {
    let tail: String = {
        let chars: Vec<char> = secret.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("…{tail}")
}

/// The secrets on one added line of `file`, as (kind, masked detail).
fn scan_line(file: &str, line: &str) -> Vec<(FindingKind, String)> {
    let mut out = Vec::new();
    if let Some(key) = find_token(line, "AKIA", 16, 16, |c| {
        c.is_ascii_uppercase() || c.is_ascii_digit()
    }) {
        out.push((
            FindingKind::AwsAccessKey,
            format!("AWS access key id {}", mask(key)),
        ));
    }
    let gh = find_token(line, "ghp_", 36, 255, |c| c.is_ascii_alphanumeric())
        .or_else(|| find_token(line, "gho_", 36, 255, |c| c.is_ascii_alphanumeric()))
        .or_else(|| {
            find_token(line, "github_pat_", 40, 255, |c| {
                c.is_ascii_alphanumeric() || c == '_'
            })
        });
    if let Some(tok) = gh {
        out.push((
            FindingKind::GithubToken,
            format!("GitHub token {}", mask(tok)),
        ));
    }
    if let Some(key) = find_sk_key(line) {
        out.push((FindingKind::GenericApiKey, format!("API key {}", mask(key))));
    }
    if let Some(label) = private_key_header(line) {
        out.push((
            FindingKind::PrivateKey,
            format!("{label} private key block"),
        ));
    }
    if is_config_file(file) {
        if let Some((key, value)) = config_credential(line) {
            out.push((
                FindingKind::ConfigCredential,
                format!("literal credential assigned to `{key}` ({})", mask(value)),
            ));
        }
    }
    out
}

/// Whether `c` may be part of a token (so a token must not be preceded or followed by it).
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The first `prefix` + `min..=max` chars satisfying `ok`, standing alone as a word.
fn find_token<'a>(
    line: &'a str,
    prefix: &str,
    min: usize,
    max: usize,
    ok: impl Fn(char) -> bool,
) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = line[from..].find(prefix) {
        let start = from + i;
        from = start + prefix.len();
        if line[..start].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let body_len = line[from..]
            .find(|c: char| !ok(c))
            .unwrap_or(line.len() - from);
        let end = from + body_len;
        if (min..=max).contains(&body_len) && !line[end..].chars().next().is_some_and(is_word) {
            return Some(&line[start..end]);
        }
    }
    None
}

/// `sk-` + 20+ chars of `[A-Za-z0-9_-]` holding both letters and digits (kebab-case words
/// such as `sk-learn-...` are not keys).
fn find_sk_key(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = line[from..].find("sk-") {
        let start = from + i;
        from = start + 3;
        if line[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        {
            continue;
        }
        let len = line[from..]
            .find(|c: char| !is_word(c))
            .unwrap_or(line.len() - from);
        let body = &line[from..from + len];
        if len >= 20
            && body.chars().any(|c| c.is_ascii_digit())
            && body.chars().any(|c| c.is_ascii_alphabetic())
        {
            return Some(&line[start..from + len]);
        }
    }
    None
}

/// `RSA`, `OpenSSH`, `EC`... for a `-----BEGIN ... PRIVATE KEY-----` line.
fn private_key_header(line: &str) -> Option<String> {
    let begin = line.find("-----BEGIN ")?;
    let rest = &line[begin + "-----BEGIN ".len()..];
    let end = rest.find(concat!("PRIVATE KEY", "-----"))?;
    let what = rest[..end].trim();
    if what.len() > 20 || !what.chars().all(|c| c.is_ascii_uppercase() || c == ' ') {
        return None;
    }
    Some(match what {
        "" => "PEM".to_string(),
        "OPENSSH" => "OpenSSH".to_string(),
        other => format!("PEM {other}"),
    })
}

/// Config files where a literal credential is a finding: `.env` (and `.env.*`), YAML, JSON,
/// TOML, INI, properties, cfg/conf.
fn is_config_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        return true;
    }
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    matches!(
        ext,
        "yaml" | "yml" | "json" | "toml" | "ini" | "properties" | "cfg" | "conf"
    )
}

/// Key endings that name a credential (after lower-casing and mapping `-`/`.` to `_`).
const CREDENTIAL_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "secret_key",
    "private_key",
];

/// A `key = value` / `key: value` / `"key": "value"` line whose key names a credential and
/// whose value is a literal of 8+ chars (not a placeholder or variable reference).
fn config_credential(line: &str) -> Option<(String, &str)> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line);
    if line.starts_with('#') || line.starts_with(';') || line.starts_with("//") {
        return None;
    }
    let sep = line.find(['=', ':'])?;
    let key = line[..sep].trim().trim_matches(['"', '\'']);
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    let norm = key.to_ascii_lowercase().replace(['-', '.'], "_");
    if !CREDENTIAL_KEYS.iter().any(|k| norm.ends_with(k)) {
        return None;
    }
    let rest = line[sep + 1..].trim_start();
    let value = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = &rest[1..];
            &inner[..inner.find(q)?]
        }
        _ => {
            let end = rest.find([' ', '\t', ',', '#']).unwrap_or(rest.len());
            &rest[..end]
        }
    };
    if value.chars().count() < 8 || is_placeholder(value) {
        return None;
    }
    Some((key.to_string(), value))
}

/// Variable references, templates and obvious placeholders.
fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let first = v.chars().next().unwrap_or(' ');
    v.starts_with('$')
        || v.starts_with("{{")
        || v.starts_with('<')
        || v.starts_with("%(")
        || v.starts_with('!')
        || v.chars().all(|c| c == first)
        || [
            "changeme",
            "change_me",
            "example",
            "placeholder",
            "your_",
            "your-",
            "redacted",
            "xxxx",
        ]
        .iter()
        .any(|p| lower.contains(p))
        || lower == "true"
        || lower == "false"
        || lower == "null"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{commit, fixture, git, write, T0};

    /// Planted secrets, built at run time so this source file holds none of them literally.
    fn aws() -> String {
        format!("AKIA{}", "Q3EXAMPLE7KEYZ9W")
    }
    fn ghp() -> String {
        format!("ghp_{}", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5a")
    }
    fn pat() -> String {
        format!(
            "github_pat_11{}",
            "ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123"
        )
    }
    fn sk() -> String {
        format!("sk-{}", "ant-api03-Zx9Yw8Vu7Ts6Rq5Po4")
    }
    fn pem(kind: &str) -> String {
        let sp = if kind.is_empty() { "" } else { " " };
        format!(
            "-----BEGIN {kind}{sp}PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END {kind}{sp}PRIVATE KEY-----\n"
        )
    }

    fn kinds(findings: &[Finding]) -> Vec<(String, FindingKind)> {
        let mut v: Vec<_> = findings.iter().map(|f| (f.file.clone(), f.kind)).collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn s19_secret_scan_blocks_planted_secrets() {
        let fx = fixture();
        let repo = &fx.seed;
        git(repo, &["checkout", "-q", "-b", "caic-1", "main"]);
        // Clean work first: nothing.
        let clean = commit(
            repo,
            "src/lib.rs",
            "pub fn one() -> u32 {\n    1\n}\n// the token is read from $GITHUB_TOKEN\n",
            "clean",
            T0 + 10,
        );
        assert_eq!(scan_diff(repo, "main", &clean).await.unwrap(), vec![]);

        write(
            repo,
            "src/aws.rs",
            format!("const K: &str = \"{}\";\n", aws()),
        );
        write(
            repo,
            "scripts/deploy.sh",
            format!(
                "#!/bin/sh\nexport GH=\"{}\"\ncurl -H \"Bearer {}\"\n",
                ghp(),
                pat()
            ),
        );
        write(
            repo,
            "src/llm.py",
            format!("client = Client(api_key=\"{}\")\n", sk()),
        );
        write(repo, "keys/id_rsa", pem("RSA"));
        write(repo, "keys/id_ed25519", pem("OPENSSH"));
        write(
            repo,
            "config/app.yaml",
            "name: app\ndb:\n  password: hunter2hunter2\n",
        );
        write(repo, ".env", "DEBUG=1\nAPI_KEY=9f8e7d6c5b4a3f2e1d0c\n");
        write(
            repo,
            "settings.json",
            "{\n  \"client_secret\": \"s3cr3t-v4lu3-abcd\"\n}\n",
        );
        // 600 KiB of pseudo-random bytes: binary, over the limit.
        let mut big = Vec::with_capacity(600 * 1024);
        let mut x: u32 = 1;
        for _ in 0..600 * 1024 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            big.push((x >> 16) as u8);
        }
        big[0] = 0;
        write(repo, "assets/model.bin", &big);
        // A small binary is fine.
        write(repo, "assets/icon.png", [0u8, 1, 2, 3, 0, 255]);
        let head = commit(repo, "README.md", "hello\nmore\n", "planted", T0 + 20);

        let found = scan_diff(repo, "main", &head).await.unwrap();
        assert_eq!(
            kinds(&found),
            vec![
                (".env".into(), FindingKind::ConfigCredential),
                ("assets/model.bin".into(), FindingKind::LargeBinary),
                ("config/app.yaml".into(), FindingKind::ConfigCredential),
                ("keys/id_ed25519".into(), FindingKind::PrivateKey),
                ("keys/id_rsa".into(), FindingKind::PrivateKey),
                // ghp_ and github_pat_ on two lines of one file: deduplicated.
                ("scripts/deploy.sh".into(), FindingKind::GithubToken),
                ("settings.json".into(), FindingKind::ConfigCredential),
                ("src/aws.rs".into(), FindingKind::AwsAccessKey),
                ("src/llm.py".into(), FindingKind::GenericApiKey),
            ],
            "{found:#?}"
        );
        let by = |file: &str| found.iter().find(|f| f.file == file).unwrap();
        assert_eq!(by("config/app.yaml").line, Some(3));
        assert_eq!(by("scripts/deploy.sh").line, Some(2));
        assert_eq!(by(".env").line, Some(2));
        assert_eq!(by("assets/model.bin").line, None);
        assert_eq!(by("keys/id_ed25519").detail, "OpenSSH private key block");
        assert_eq!(by("keys/id_rsa").detail, "PEM RSA private key block");
        assert_eq!(by("src/aws.rs").detail, "AWS access key id …YZ9W");
        // No detail ever holds a secret, only its last 4 chars.
        for secret in [aws(), ghp(), pat(), sk(), "hunter2hunter2".into()] {
            for f in &found {
                assert!(!f.detail.contains(&secret), "{f:?}");
                assert!(!f.detail.contains(&secret[..8]), "{f:?}");
            }
        }

        // Only what the branch adds counts: clean work on top of a base holding secrets
        // produces nothing.
        let fixed = {
            git(repo, &["checkout", "-q", "-b", "caic-2", &head]);
            commit(repo, "notes.txt", "ok\n", "more", T0 + 30)
        };
        assert_eq!(scan_diff(repo, &head, &fixed).await.unwrap(), vec![]);
    }

    #[tokio::test]
    async fn scan_rejects_option_like_revisions() {
        let fx = fixture();
        assert!(matches!(
            scan_diff(&fx.seed, "--output=/tmp/x", "main").await,
            Err(Error::UnknownBranch(_))
        ));
    }

    #[test]
    fn false_positives_are_not_findings() {
        let lines = [
            // Prefixes inside words or too short.
            ("src/a.rs", "let task-abcdefghijklmnop1234567 = 1;"),
            ("src/a.rs", "see ghp_xxx in the docs and AKIA1234"),
            (
                "src/a.rs",
                "pip install scikit-learn risk-assessment-2024-v1-final-x",
            ),
            ("src/a.rs", "let s = \"sk-learn-compat-layer-version\";"),
            ("src/a.rs", "AKIAQ3EXAMPLE7KEYZ9WTOOLONG"),
            ("docs/a.md", "password: hunter2hunter2"),
            // Config files: variables, placeholders, non-credential keys, short values.
            ("app.yaml", "password: ${DB_PASSWORD}"),
            ("app.yaml", "token_url: https://example.org/oauth/token"),
            ("app.yaml", "max_tokens: 100000000"),
            ("app.yaml", "api_key: <your key here>"),
            (".env", "SECRET=changeme123"),
            (".env", "PASSWORD=short"),
            ("a.toml", "# password = \"hunter2hunter2\""),
            ("a.json", "\"password\": \"{{ vault.password }}\","),
            ("a.ini", "password = ********"),
            // A public key is not a private key.
            ("k.pub", "-----BEGIN PUBLIC KEY-----"),
        ];
        for (file, line) in lines {
            assert_eq!(scan_line(file, line), vec![], "{file}: {line}");
        }
    }

    #[test]
    fn patch_parsing_tracks_files_and_line_numbers() {
        let patch = format!(
            "diff --git a/x.env b/x.env\nindex 1..2 100644\n--- a/x.env\n+++ b/x.env\n\
             @@ -3,2 +3,0 @@\n-+++ removed\n-old\n@@ -10 +8,2 @@\n+++ not a header\n+TOKEN={}\n\
             diff --git a/gone b/gone\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-{}\n\
             diff --git \"a/sp ace.rs\" \"b/sp ace.rs\"\n--- /dev/null\n+++ \"b/sp ace.rs\"\n@@ -0,0 +1 @@\n+{}\n",
            "Zq9Xw8Vu7Ts6Rq5P",
            aws(),
            ghp(),
        );
        let found = scan_patch(&patch);
        assert_eq!(
            found
                .iter()
                .map(|f| (f.file.as_str(), f.line, f.kind))
                .collect::<Vec<_>>(),
            vec![
                ("x.env", Some(9), FindingKind::ConfigCredential),
                ("sp ace.rs", Some(1), FindingKind::GithubToken),
            ]
        );
        assert_eq!(
            found[0].detail,
            "literal credential assigned to `TOKEN` (…Rq5P)"
        );
    }
}
