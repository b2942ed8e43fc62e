//! What a verified, de-duplicated webhook delivery does: [`Engine::apply_webhook`] takes
//! the typed [`Event`] caic-forge parsed and nudges a CI watch, links a pull request to
//! its task, or starts a task from an issue.

use crate::caller::Caller;
use crate::engine::Engine;
use crate::Result;
use caic_forge::webhook::{Event, Issue, Repo};

/// What a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// Answered a ping.
    Pong,
    /// CI changed for a commit: this many watches poll now (0: nobody watches it).
    Ci {
        /// Watches woken.
        woken: usize,
    },
    /// A pull request was linked to the task owning its branch.
    Linked {
        /// The task.
        task: String,
    },
    /// A task was started from an issue.
    Started {
        /// The new task.
        task: String,
        /// Who asked, as caic's login names them (`github:<id>`, `gitlab:<id>`), when known.
        requested_by: Option<String>,
    },
    /// Nothing to do.
    Ignored {
        /// Why, for the log.
        reason: String,
    },
}

fn ignored(reason: impl Into<String>) -> Result<HookOutcome> {
    Ok(HookOutcome::Ignored {
        reason: reason.into(),
    })
}

impl Engine {
    /// Acts on a webhook event; tasks started from issues run `harness`. With `login`
    /// on, such a task belongs to the person who asked (their forge login id), so they
    /// see it when they sign in with that forge.
    pub async fn apply_webhook(
        &self,
        event: Event,
        harness: &str,
        login: bool,
    ) -> Result<HookOutcome> {
        match event {
            Event::Ping => Ok(HookOutcome::Pong),
            Event::CiChanged { sha } => Ok(HookOutcome::Ci {
                woken: self.ci_changed(&sha),
            }),
            Event::PullOpened {
                repo,
                branch,
                number,
                url,
            } => match self.link_pull(repo.forge, &repo.path, &branch, number, &url) {
                Some(task) => Ok(HookOutcome::Linked { task }),
                None => ignored(format!("no task owns branch {branch}")),
            },
            Event::IssueLabelled {
                repo,
                issue,
                sender,
            } => {
                let prompt = issue_prompt(&issue, None);
                self.start_from_issue(&repo, issue.number, sender, prompt, harness, login)
                    .await
            }
            Event::Mentioned {
                repo,
                issue,
                comment,
                author,
                bot,
            } => {
                // caic's own comments mention it too: never answer a bot.
                if bot {
                    return ignored("comment by a bot");
                }
                let prompt = issue_prompt(&issue, Some(&comment));
                self.start_from_issue(&repo, issue.number, author, prompt, harness, login)
                    .await
            }
            Event::Ignored { reason } => ignored(reason),
        }
    }
}

impl Engine {
    /// Starts a task from issue `number` of `repo`, asked for by forge user `who`; with
    /// `login` on, the task is theirs.
    async fn start_from_issue(
        &self,
        repo: &Repo,
        number: u64,
        who: Option<u64>,
        prompt: String,
        harness: &str,
        login: bool,
    ) -> Result<HookOutcome> {
        if self.repo_of_remote(repo.forge, &repo.path).is_none() {
            return ignored(format!("caic has no repo with origin {}", repo.path));
        }
        let requested_by = who.map(|id| format!("{}:{id}", repo.forge.name()));
        let caller = match requested_by.clone().filter(|_| login) {
            Some(id) => Caller::User(id),
            None => Caller::Anyone,
        };
        let task = self
            .create_from_issue(&caller, repo.forge, &repo.path, number, harness, prompt)
            .await?;
        Ok(HookOutcome::Started { task, requested_by })
    }
}

/// The prompt of a task started from `issue`: its title and body, then the comment
/// that asked, if any.
fn issue_prompt(issue: &Issue, comment: Option<&str>) -> String {
    let mut p = issue.title.trim().to_string();
    let body = issue.body.trim();
    if !body.is_empty() {
        p.push_str("\n\n");
        p.push_str(body);
    }
    if let Some(c) = comment {
        p.push_str("\n\nRequest from a comment:\n");
        p.push_str(c.trim());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_from_issue_and_comment() {
        let issue = Issue {
            number: 1,
            title: "Crash on start".into(),
            body: "Steps: run it.".into(),
        };
        assert_eq!(
            issue_prompt(&issue, Some("@caic fix")),
            "Crash on start\n\nSteps: run it.\n\nRequest from a comment:\n@caic fix"
        );
        let bare = Issue {
            body: " ".into(),
            ..issue
        };
        assert_eq!(issue_prompt(&bare, None), "Crash on start");
    }
}
