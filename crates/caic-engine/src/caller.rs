//! Who asks the engine to act, and which tasks that caller may touch.
//!
//! Every way in (REST, SSE, MCP, voice, webhooks, CLI) hands the engine a [`Caller`];
//! the engine decides, on the task's recorded owner, whether the caller may see or act
//! on it. Nothing outside the engine matches paths or filters answers for this.

/// The caller of an engine operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No login is configured (one user, SECURITY.md S7), or caic acting for itself
    /// (CI watches, webhooks): every task.
    Anyone,
    /// A logged-in user, by caic's user id (`github:<id>`, `gitlab:<id>`): only the
    /// tasks that user owns.
    User(String),
}

impl Caller {
    /// The owner a task created by this caller records.
    pub fn owner(&self) -> Option<String> {
        match self {
            Caller::Anyone => None,
            Caller::User(id) => Some(id.clone()),
        }
    }

    /// True when this caller may see and act on a task owned by `owner`.
    pub fn may_touch(&self, owner: Option<&str>) -> bool {
        match self {
            Caller::Anyone => true,
            Caller::User(id) => owner == Some(id.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_touch_only_their_own_tasks() {
        let a = Caller::User("github:1".into());
        assert!(a.may_touch(Some("github:1")));
        assert!(!a.may_touch(Some("github:2")));
        assert!(!a.may_touch(None), "an unowned task is not any user's");
        assert!(Caller::Anyone.may_touch(Some("github:2")));
        assert!(Caller::Anyone.may_touch(None));
        assert_eq!(a.owner().as_deref(), Some("github:1"));
        assert_eq!(Caller::Anyone.owner(), None);
    }
}
