//! What a verified webhook delivery says, as a typed [`Event`]: parsed from GitHub's
//! `X-GitHub-Event` + JSON body or GitLab's `X-Gitlab-Event` + JSON body. Only the
//! events caic acts on get a variant; everything else is [`Event::Ignored`] with a reason.

use crate::error::{Error, Result};
use crate::remote::ForgeKind;
use serde_json::Value;

/// The issue label that starts a task.
pub const LABEL: &str = "caic";
/// The mention, as a word of a comment, that starts a task.
pub const MENTION: &str = "@caic";

/// A repository as a delivery names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// GitHub or GitLab.
    pub forge: ForgeKind,
    /// `owner/repo`, or GitLab's project path (`group/sub/project`).
    pub path: String,
}

/// An issue as a delivery shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The number users see (GitLab: the iid).
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its description (may be empty).
    pub body: String,
}

/// What a delivery asks of caic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The forge checks the hook works (GitHub `ping`).
    Ping,
    /// CI changed for commit `sha` (a check, suite, status, workflow, pipeline or job).
    CiChanged {
        /// The commit.
        sha: String,
    },
    /// A pull (merge) request was opened or reopened from `branch`.
    PullOpened {
        /// Where.
        repo: Repo,
        /// Its head (source) branch.
        branch: String,
        /// Its number (GitLab: iid).
        number: u64,
        /// Its web page.
        url: String,
    },
    /// An issue got the [`LABEL`] (or was opened with it).
    IssueLabelled {
        /// Where.
        repo: Repo,
        /// The issue.
        issue: Issue,
        /// The forge's numeric id of who labelled it.
        sender: Option<u64>,
    },
    /// A new comment on an issue mentions [`MENTION`].
    Mentioned {
        /// Where.
        repo: Repo,
        /// The issue commented on.
        issue: Issue,
        /// The comment's text.
        comment: String,
        /// The forge's numeric id of its author.
        author: Option<u64>,
        /// Whether the author is a bot (caic's own comments are).
        bot: bool,
    },
    /// Nothing for caic to do.
    Ignored {
        /// Why, for the log.
        reason: String,
    },
}

fn ignored(reason: impl Into<String>) -> Event {
    Event::Ignored {
        reason: reason.into(),
    }
}

/// Parses a verified delivery from `forge`: `event` is the event header's value, `body`
/// the raw JSON. A body that is not JSON is [`Error::BadPayload`].
pub fn parse(forge: ForgeKind, event: &str, body: &[u8]) -> Result<Event> {
    match forge {
        ForgeKind::GitHub => parse_github(event, body),
        ForgeKind::GitLab => parse_gitlab(event, body),
    }
}

fn json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|_| Error::BadPayload("the body is not JSON".into()))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A GitHub delivery (`X-GitHub-Event`: `ping`, `check_run`, `check_suite`, `status`,
/// `workflow_run`, `pull_request`, `issues`, `issue_comment`).
pub fn parse_github(event: &str, body: &[u8]) -> Result<Event> {
    let p = json(body)?;
    let repo = Repo {
        forge: ForgeKind::GitHub,
        path: text(&p["repository"]["full_name"]),
    };
    Ok(match event {
        "ping" => Event::Ping,
        "check_run" | "check_suite" | "status" | "workflow_run" => {
            let sha = match event {
                "status" => &p["sha"],
                _ => &p[event]["head_sha"],
            };
            match sha.as_str() {
                Some(sha) => Event::CiChanged { sha: sha.into() },
                None => ignored(format!("{event} without a commit")),
            }
        }
        "pull_request" => {
            let pr = &p["pull_request"];
            let action = p["action"].as_str().unwrap_or_default();
            if !matches!(action, "opened" | "reopened") {
                return Ok(ignored(format!("pull request {action}")));
            }
            match (
                pr["head"]["ref"].as_str(),
                pr["number"].as_u64(),
                pr["html_url"].as_str(),
            ) {
                (Some(branch), Some(number), Some(url)) => Event::PullOpened {
                    repo,
                    branch: branch.into(),
                    number,
                    url: url.into(),
                },
                _ => ignored("pull request without head, number or URL"),
            }
        }
        "issues" => {
            if p["action"] != "labeled" || p["label"]["name"] != LABEL {
                return Ok(ignored(format!("issue event, not labelled {LABEL}")));
            }
            match github_issue(&p["issue"]) {
                Some(issue) => Event::IssueLabelled {
                    repo,
                    issue,
                    sender: p["sender"]["id"].as_u64(),
                },
                None => ignored("issue without a number"),
            }
        }
        "issue_comment" => {
            let c = &p["comment"];
            let comment = text(&c["body"]);
            if p["action"] != "created" {
                return Ok(ignored("comment edited or deleted"));
            }
            if !mentions(&comment) {
                return Ok(ignored(format!("comment without {MENTION}")));
            }
            match github_issue(&p["issue"]) {
                Some(issue) => Event::Mentioned {
                    repo,
                    issue,
                    comment,
                    author: c["user"]["id"].as_u64().or(p["sender"]["id"].as_u64()),
                    bot: c["user"]["type"] == "Bot",
                },
                None => ignored("comment without an issue number"),
            }
        }
        other => ignored(format!("GitHub event {other:?}")),
    })
}

fn github_issue(i: &Value) -> Option<Issue> {
    Some(Issue {
        number: i["number"].as_u64()?,
        title: text(&i["title"]),
        body: text(&i["body"]),
    })
}

/// A GitLab delivery (`X-Gitlab-Event`: `Pipeline Hook`, `Job Hook`, `Merge Request
/// Hook`, `Issue Hook`, `Note Hook`).
pub fn parse_gitlab(event: &str, body: &[u8]) -> Result<Event> {
    let p = json(body)?;
    let repo = Repo {
        forge: ForgeKind::GitLab,
        path: text(&p["project"]["path_with_namespace"]),
    };
    let attrs = &p["object_attributes"];
    Ok(match event {
        "Pipeline Hook" | "Job Hook" => match attrs["sha"].as_str().or(p["sha"].as_str()) {
            Some(sha) => Event::CiChanged { sha: sha.into() },
            None => ignored(format!("{event} without a commit")),
        },
        "Merge Request Hook" => {
            let action = attrs["action"].as_str().unwrap_or_default();
            if !matches!(action, "open" | "reopen") {
                return Ok(ignored(format!("merge request {action}")));
            }
            match (
                attrs["source_branch"].as_str(),
                attrs["iid"].as_u64(),
                attrs["url"].as_str(),
            ) {
                (Some(branch), Some(number), Some(url)) => Event::PullOpened {
                    repo,
                    branch: branch.into(),
                    number,
                    url: url.into(),
                },
                _ => ignored("merge request without source branch, iid or URL"),
            }
        }
        "Issue Hook" => {
            // Labelled by this change (present now, absent before), or opened with it.
            let has = |v: &Value| {
                v.as_array()
                    .is_some_and(|a| a.iter().any(|l| l["title"] == LABEL))
            };
            let labels = &p["changes"]["labels"];
            let added = labels.is_object()
                && (has(&labels["current"]) || has(&p["labels"]))
                && !has(&labels["previous"]);
            let opened_with = attrs["action"] == "open" && has(&p["labels"]);
            if !(added || opened_with) {
                return Ok(ignored(format!("issue event, not labelled {LABEL}")));
            }
            match gitlab_issue(attrs) {
                Some(issue) => Event::IssueLabelled {
                    repo,
                    issue,
                    sender: p["user"]["id"].as_u64(),
                },
                None => ignored("issue without an iid"),
            }
        }
        "Note Hook" => {
            let comment = text(&attrs["note"]);
            if attrs["noteable_type"] != "Issue" {
                return Ok(ignored("note not on an issue"));
            }
            if !mentions(&comment) {
                return Ok(ignored(format!("note without {MENTION}")));
            }
            match gitlab_issue(&p["issue"]) {
                Some(issue) => Event::Mentioned {
                    repo,
                    issue,
                    comment,
                    author: p["user"]["id"].as_u64(),
                    bot: p["user"]["bot"] == true,
                },
                None => ignored("note without an issue iid"),
            }
        }
        other => ignored(format!("GitLab event {other:?}")),
    })
}

fn gitlab_issue(i: &Value) -> Option<Issue> {
    Some(Issue {
        number: i["iid"].as_u64()?,
        title: text(&i["title"]),
        body: text(&i["description"]),
    })
}

/// Whether `text` has [`MENTION`] as a word (not inside an e-mail address or a longer
/// name).
pub fn mentions(text: &str) -> bool {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ':' | '!' | '?' | ')' | '('))
        .any(|w| w.eq_ignore_ascii_case(MENTION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gh(event: &str, payload: Value) -> Event {
        parse_github(event, payload.to_string().as_bytes()).unwrap()
    }

    fn gl(event: &str, payload: Value) -> Event {
        parse_gitlab(event, payload.to_string().as_bytes()).unwrap()
    }

    fn gh_repo() -> Repo {
        Repo {
            forge: ForgeKind::GitHub,
            path: "acme/demo".into(),
        }
    }

    fn gl_repo() -> Repo {
        Repo {
            forge: ForgeKind::GitLab,
            path: "grp/demo".into(),
        }
    }

    fn is_ignored(e: &Event) -> bool {
        matches!(e, Event::Ignored { .. })
    }

    #[test]
    fn not_json_is_a_bad_payload() {
        for forge in [ForgeKind::GitHub, ForgeKind::GitLab] {
            let err = parse(forge, "ping", b"Hello, World!").unwrap_err();
            assert!(matches!(err, Error::BadPayload(_)), "{err}");
            assert_eq!(err.to_string(), "webhook: the body is not JSON");
        }
    }

    #[test]
    fn github_ping_and_unknown_events() {
        assert_eq!(
            gh("ping", json!({"zen": "Keep it logically awesome."})),
            Event::Ping
        );
        assert_eq!(
            gh("star", json!({"action": "created"})),
            Event::Ignored {
                reason: "GitHub event \"star\"".into()
            }
        );
    }

    #[test]
    fn github_ci_events_name_the_commit() {
        let sha = "a".repeat(40);
        for (event, payload) in [
            (
                "check_run",
                json!({"action": "completed", "check_run": {"head_sha": sha, "status": "completed", "conclusion": "success"}}),
            ),
            (
                "check_suite",
                json!({"action": "completed", "check_suite": {"head_sha": sha}}),
            ),
            (
                "workflow_run",
                json!({"action": "completed", "workflow_run": {"head_sha": sha}}),
            ),
            ("status", json!({"sha": sha, "state": "failure"})),
        ] {
            assert_eq!(
                gh(event, payload),
                Event::CiChanged { sha: sha.clone() },
                "{event}"
            );
        }
        assert!(is_ignored(&gh("check_run", json!({"check_run": {}}))));
    }

    #[test]
    fn github_pull_request_opened() {
        let payload = |action: &str| {
            json!({"action": action, "number": 77, "pull_request": {"number": 77,
                "html_url": "https://github.com/acme/demo/pull/77",
                "head": {"ref": "caic-2", "sha": "0".repeat(40)}, "base": {"ref": "main"}},
                "repository": {"full_name": "acme/demo"}})
        };
        let want = Event::PullOpened {
            repo: gh_repo(),
            branch: "caic-2".into(),
            number: 77,
            url: "https://github.com/acme/demo/pull/77".into(),
        };
        assert_eq!(gh("pull_request", payload("opened")), want);
        assert_eq!(gh("pull_request", payload("reopened")), want);
        assert!(is_ignored(&gh("pull_request", payload("closed"))));
    }

    #[test]
    fn github_issue_labelled() {
        let payload = |label: &str| {
            json!({"action": "labeled", "label": {"name": label},
                "issue": {"number": 12, "title": "Add a changelog", "body": "Keep a changelog."},
                "sender": {"id": 4242, "login": "octocat"},
                "repository": {"full_name": "acme/demo"}})
        };
        assert_eq!(
            gh("issues", payload("caic")),
            Event::IssueLabelled {
                repo: gh_repo(),
                issue: Issue {
                    number: 12,
                    title: "Add a changelog".into(),
                    body: "Keep a changelog.".into()
                },
                sender: Some(4242),
            }
        );
        assert!(is_ignored(&gh("issues", payload("bug"))));
    }

    #[test]
    fn github_comment_mentioning_caic() {
        let payload = |action: &str, text: &str, user_type: &str| {
            json!({"action": action, "issue": {"number": 13, "title": "Typo", "body": null},
                "comment": {"body": text, "user": {"id": 7, "type": user_type}},
                "sender": {"id": 8}, "repository": {"full_name": "acme/demo"}})
        };
        let want = |bot| Event::Mentioned {
            repo: gh_repo(),
            issue: Issue {
                number: 13,
                title: "Typo".into(),
                body: String::new(),
            },
            comment: "@caic fix it".into(),
            author: Some(7),
            bot,
        };
        assert_eq!(
            gh("issue_comment", payload("created", "@caic fix it", "User")),
            want(false)
        );
        assert_eq!(
            gh("issue_comment", payload("created", "@caic fix it", "Bot")),
            want(true)
        );
        assert!(is_ignored(&gh(
            "issue_comment",
            payload("edited", "@caic fix it", "User")
        )));
        assert!(is_ignored(&gh(
            "issue_comment",
            payload("created", "mail x@caic.dev", "User")
        )));
    }

    #[test]
    fn gitlab_pipeline_and_job_events_name_the_commit() {
        let sha = "b".repeat(40);
        assert_eq!(
            gl(
                "Pipeline Hook",
                json!({"object_kind": "pipeline", "object_attributes": {"id": 3, "sha": sha, "status": "failed"},
                    "project": {"path_with_namespace": "grp/demo"}})
            ),
            Event::CiChanged { sha: sha.clone() }
        );
        assert_eq!(
            gl(
                "Job Hook",
                json!({"object_kind": "build", "sha": sha, "build_status": "failed"})
            ),
            Event::CiChanged { sha }
        );
        assert!(is_ignored(&gl("Pipeline Hook", json!({}))));
        assert!(is_ignored(&gl("Push Hook", json!({"object_kind": "push"}))));
    }

    #[test]
    fn gitlab_merge_request_opened() {
        let payload = |action: &str| {
            json!({"object_kind": "merge_request", "project": {"path_with_namespace": "grp/demo"},
                "object_attributes": {"iid": 5, "action": action, "source_branch": "caic-4",
                    "target_branch": "main", "url": "https://gitlab.com/grp/demo/-/merge_requests/5"}})
        };
        assert_eq!(
            gl("Merge Request Hook", payload("open")),
            Event::PullOpened {
                repo: gl_repo(),
                branch: "caic-4".into(),
                number: 5,
                url: "https://gitlab.com/grp/demo/-/merge_requests/5".into(),
            }
        );
        assert!(is_ignored(&gl("Merge Request Hook", payload("merge"))));
    }

    #[test]
    fn gitlab_issue_labelled_by_a_change_or_opened_with_the_label() {
        let issue = Issue {
            number: 9,
            title: "Crash".into(),
            body: "Steps.".into(),
        };
        let want = Event::IssueLabelled {
            repo: gl_repo(),
            issue,
            sender: Some(31),
        };
        let base = |action: &str, labels: Value, changes: Value| {
            json!({"object_kind": "issue", "user": {"id": 31},
                "project": {"path_with_namespace": "grp/demo"},
                "object_attributes": {"iid": 9, "title": "Crash", "description": "Steps.", "action": action},
                "labels": labels, "changes": changes})
        };
        let caic = json!([{"title": "caic"}]);
        let added = json!({"labels": {"previous": [], "current": [{"title": "caic"}]}});
        assert_eq!(gl("Issue Hook", base("update", caic.clone(), added)), want);
        assert_eq!(
            gl("Issue Hook", base("open", caic.clone(), json!({}))),
            want
        );
        // Already labelled before this change: nothing new.
        let kept =
            json!({"labels": {"previous": [{"title": "caic"}], "current": [{"title": "caic"}]}});
        assert!(is_ignored(&gl("Issue Hook", base("update", caic, kept))));
        assert!(is_ignored(&gl(
            "Issue Hook",
            base("update", json!([{"title": "bug"}]), json!({"title": {}}))
        )));
    }

    #[test]
    fn gitlab_note_mentioning_caic() {
        let payload = |noteable: &str, note: &str, bot: bool| {
            json!({"object_kind": "note", "user": {"id": 44, "bot": bot},
                "project": {"path_with_namespace": "grp/demo"},
                "object_attributes": {"note": note, "noteable_type": noteable},
                "issue": {"iid": 2, "title": "Typo", "description": "In README."}})
        };
        assert_eq!(
            gl("Note Hook", payload("Issue", "Hey @CAIC, look.", false)),
            Event::Mentioned {
                repo: gl_repo(),
                issue: Issue {
                    number: 2,
                    title: "Typo".into(),
                    body: "In README.".into()
                },
                comment: "Hey @CAIC, look.".into(),
                author: Some(44),
                bot: false,
            }
        );
        assert!(matches!(
            gl("Note Hook", payload("Issue", "@caic go", true)),
            Event::Mentioned { bot: true, .. }
        ));
        assert!(is_ignored(&gl(
            "Note Hook",
            payload("MergeRequest", "@caic go", false)
        )));
        assert!(is_ignored(&gl(
            "Note Hook",
            payload("Issue", "@caicbot go", false)
        )));
    }

    #[test]
    fn mention_is_a_word() {
        assert!(mentions("@caic please fix this"));
        assert!(mentions("Hey @CAIC, look."));
        assert!(!mentions("email me at x@caic.dev"));
        assert!(!mentions("@caicbot do it"));
    }
}
