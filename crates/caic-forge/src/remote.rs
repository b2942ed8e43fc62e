//! Which forge a git remote URL points at, and which repository.

/// A forge family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForgeKind {
    /// github.com.
    GitHub,
    /// gitlab.com or a self-hosted GitLab.
    GitLab,
}

impl ForgeKind {
    /// `github` or `gitlab`, as the API and the UI name it.
    pub fn name(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "github",
            ForgeKind::GitLab => "gitlab",
        }
    }

    /// `GitHub` or `GitLab`, for messages.
    pub fn title(self) -> &'static str {
        match self {
            ForgeKind::GitHub => "GitHub",
            ForgeKind::GitLab => "GitLab",
        }
    }

    /// The environment variables the forge's CLI reads its token from.
    pub fn token_env(self) -> &'static [&'static str] {
        match self {
            ForgeKind::GitHub => &["GH_TOKEN", "GITHUB_TOKEN"],
            ForgeKind::GitLab => &["GITLAB_TOKEN"],
        }
    }
}

/// A repository on a forge, as named by a remote URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// GitHub or GitLab.
    pub kind: ForgeKind,
    /// Host name, lower-cased, without port (`github.com`, `gitlab.example.com`).
    pub host: String,
    /// Owner: the user or organisation; on GitLab the namespace, groups joined with `/`.
    pub owner: String,
    /// Repository (project) name, without `.git`.
    pub repo: String,
}

impl Remote {
    /// `owner/repo`; on GitLab the full project path (`group/sub/project`).
    pub fn path(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// The REST API base URL: `https://api.github.com` or `https://<host>/api/v4`.
    pub fn api_base(&self) -> String {
        match self.kind {
            ForgeKind::GitHub => "https://api.github.com".to_string(),
            ForgeKind::GitLab => format!("https://{}/api/v4", self.host),
        }
    }

    /// The repository's web page.
    pub fn web_url(&self) -> String {
        format!("https://{}/{}", self.host, self.path())
    }
}

/// Parses a remote URL: `https://host/owner/repo(.git)`, `ssh://git@host(:port)/owner/repo`,
/// or scp-like `git@host:owner/repo.git`.
///
/// `github.com` is GitHub; `gitlab.com`, hosts named `gitlab.*` and the hosts listed in
/// `gitlab_hosts` (self-hosted instances) are GitLab. Anything else is `None`. GitHub paths
/// must be exactly `owner/repo`; GitLab paths may nest groups.
pub fn parse_remote(url: &str, gitlab_hosts: &[&str]) -> Option<Remote> {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git+ssh" | "git") {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        let host_port = authority.rsplit('@').next()?;
        let host = match host_port.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        };
        (host, path)
    } else {
        // scp-like: [user@]host:path, no slash before the colon.
        let (left, path) = url.split_once(':')?;
        if left.contains('/') {
            return None;
        }
        (left.rsplit('@').next()?, path)
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 2
        || segments
            .iter()
            .any(|s| s.is_empty() || s.starts_with('.') || s.contains(['?', '#', ' ']))
    {
        return None;
    }
    let kind = if host == "github.com" || host == "www.github.com" {
        ForgeKind::GitHub
    } else if host == "gitlab.com"
        || host.starts_with("gitlab.")
        || gitlab_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host))
    {
        ForgeKind::GitLab
    } else {
        return None;
    };
    if kind == ForgeKind::GitHub && segments.len() != 2 {
        return None;
    }
    let (repo, owner) = segments.split_last()?;
    Some(Remote {
        kind,
        host: if host == "www.github.com" {
            "github.com".into()
        } else {
            host
        },
        owner: owner.join("/"),
        repo: repo.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh(owner: &str, repo: &str) -> Option<Remote> {
        Some(Remote {
            kind: ForgeKind::GitHub,
            host: "github.com".into(),
            owner: owner.into(),
            repo: repo.into(),
        })
    }

    #[test]
    fn github_forms() {
        for url in [
            "https://github.com/maruel/caic",
            "https://github.com/maruel/caic.git",
            "https://github.com/maruel/caic/",
            "https://x-access-token:tok@github.com/maruel/caic.git",
            "git@github.com:maruel/caic.git",
            "git@github.com:maruel/caic",
            "ssh://git@github.com/maruel/caic.git",
            "ssh://git@github.com:22/maruel/caic.git",
            "HTTPS://GitHub.com/maruel/caic",
        ] {
            let url = url.replacen("HTTPS", "https", 1);
            assert_eq!(parse_remote(&url, &[]), gh("maruel", "caic"), "{url}");
        }
        let r = gh("o", "r").unwrap();
        assert_eq!(r.api_base(), "https://api.github.com");
        assert_eq!(r.web_url(), "https://github.com/o/r");
        // Extra segments are not a GitHub repo.
        assert_eq!(parse_remote("https://github.com/o/r/tree/main", &[]), None);
    }

    #[test]
    fn gitlab_forms_and_nested_groups() {
        let r = parse_remote("git@gitlab.com:grp/sub/proj.git", &[]).unwrap();
        assert_eq!(r.kind, ForgeKind::GitLab);
        assert_eq!((r.owner.as_str(), r.repo.as_str()), ("grp/sub", "proj"));
        assert_eq!(r.path(), "grp/sub/proj");
        assert_eq!(r.api_base(), "https://gitlab.com/api/v4");

        let r = parse_remote("https://gitlab.example.org/team/app.git", &[]).unwrap();
        assert_eq!(
            (r.kind, r.host.as_str()),
            (ForgeKind::GitLab, "gitlab.example.org")
        );
        assert_eq!(r.api_base(), "https://gitlab.example.org/api/v4");

        // A self-hosted GitLab under any name, when configured.
        assert_eq!(
            parse_remote("git@code.corp.example:team/app.git", &[]),
            None
        );
        let r = parse_remote(
            "ssh://git@code.corp.example:2222/team/app.git",
            &["code.corp.example"],
        )
        .unwrap();
        assert_eq!(
            (r.kind, r.path()),
            (ForgeKind::GitLab, "team/app".to_string())
        );
    }

    #[test]
    fn rejects_non_forge_urls() {
        for url in [
            "/srv/git/repo.git",
            "file:///srv/git/repo.git",
            "https://bitbucket.org/o/r.git",
            "https://github.com/onlyowner",
            "git@github.com:../etc/passwd",
            "",
        ] {
            assert_eq!(parse_remote(url, &["example.com"]), None, "{url}");
        }
    }
}
