//! Trimming CI logs to what an agent needs: the failing steps' last lines.

/// Most lines kept per failing step (GitHub) or of a trace (GitLab).
pub const MAX_LINES: usize = 60;
/// Most characters kept in an excerpt (the end is kept).
pub const MAX_CHARS: usize = 8000;

/// The failing steps of a GitHub Actions job log.
///
/// Steps start at `##[group]Run …` lines; a step is failing when it holds an `##[error]`
/// line. For each failing step: its title, then its output up to the last error line,
/// without the group header block and timestamps, at most [`MAX_LINES`] lines. With no
/// `##[error]` at all, the log's last lines. At most [`MAX_CHARS`] overall.
pub fn github_failing_steps(log: &str) -> String {
    let lines: Vec<&str> = log
        .trim_start_matches('\u{feff}')
        .lines()
        .map(strip_timestamp)
        .collect();
    // (title, body lines) per step; the part before the first step is "Set up job".
    let mut steps: Vec<(String, Vec<&str>)> = vec![("Set up job".into(), Vec::new())];
    let mut in_header = false;
    for line in &lines {
        if let Some(title) = line.strip_prefix("##[group]") {
            if title.starts_with("Run ") {
                steps.push((title.to_string(), Vec::new()));
                in_header = true;
                continue;
            }
        }
        if line.starts_with("##[endgroup]") && in_header {
            in_header = false;
            continue;
        }
        if !in_header {
            if let Some(step) = steps.last_mut() {
                step.1.push(line);
            }
        }
    }
    let mut out = String::new();
    for (title, body) in &steps {
        let Some(last_error) = body.iter().rposition(|l| l.starts_with("##[error]")) else {
            continue;
        };
        let body = &body[..=last_error];
        out.push_str(&format!("== {title} ==\n"));
        for line in &body[body.len().saturating_sub(MAX_LINES)..] {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out = tail(&lines, MAX_LINES);
    }
    keep_end(out)
}

/// The end of a GitLab job trace: ANSI colours and section markers removed, at most
/// [`MAX_LINES`] lines and [`MAX_CHARS`].
pub fn gitlab_trace_tail(trace: &str) -> String {
    let lines: Vec<String> = trace
        .lines()
        .filter_map(|raw| {
            let line = strip_ansi(raw.rsplit('\r').next().unwrap_or(raw));
            let marker = |l: &str| l.starts_with("section_start:") || l.starts_with("section_end:");
            let drop = marker(&line) || (marker(raw) && line.trim().is_empty());
            (!drop).then_some(line)
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    keep_end(tail(&refs, MAX_LINES))
}

fn tail(lines: &[&str], n: usize) -> String {
    let mut lines = lines;
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines = &lines[..lines.len() - 1];
    }
    let mut out = lines[lines.len().saturating_sub(n)..].join("\n");
    out.push('\n');
    out
}

/// At most [`MAX_CHARS`], keeping the end.
fn keep_end(s: String) -> String {
    if s.len() <= MAX_CHARS {
        return s;
    }
    let mut start = s.len() - MAX_CHARS;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// `2024-01-15T10:00:00.1234567Z text` -> `text`.
fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((ts, rest))
            if ts.len() >= 20 && ts.ends_with('Z') && ts.as_bytes().get(10) == Some(&b'T') =>
        {
            rest
        }
        _ => line,
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A job log in the shape GitHub Actions writes.
    pub(crate) const LOG: &str =
        "\u{feff}2024-01-15T10:00:00.0000000Z Requested labels: ubuntu-latest
2024-01-15T10:00:01.0000000Z ##[group]Run actions/checkout@v4
2024-01-15T10:00:01.0000000Z with:
2024-01-15T10:00:01.0000000Z   repository: o/r
2024-01-15T10:00:01.0000000Z ##[endgroup]
2024-01-15T10:00:02.0000000Z Syncing repository: o/r
2024-01-15T10:00:05.0000000Z ##[group]Run cargo test
2024-01-15T10:00:05.0000000Z cargo test
2024-01-15T10:00:05.0000000Z shell: /usr/bin/bash -e {0}
2024-01-15T10:00:05.0000000Z ##[endgroup]
2024-01-15T10:00:20.0000000Z running 2 tests
2024-01-15T10:00:20.0000000Z test tests::adds ... ok
2024-01-15T10:00:20.0000000Z test tests::subtracts ... FAILED
2024-01-15T10:00:20.0000000Z assertion `left == right` failed: left: 1, right: 2
2024-01-15T10:00:21.0000000Z ##[error]Process completed with exit code 101.
2024-01-15T10:00:22.0000000Z Post job cleanup.
2024-01-15T10:00:22.0000000Z Cleaning up orphan processes
";

    #[test]
    fn github_keeps_failing_step_only() {
        let got = github_failing_steps(LOG);
        assert_eq!(
            got,
            "== Run cargo test ==\nrunning 2 tests\ntest tests::adds ... ok\n\
             test tests::subtracts ... FAILED\n\
             assertion `left == right` failed: left: 1, right: 2\n\
             ##[error]Process completed with exit code 101.\n"
        );
        // Without an error marker: the end of the log.
        let plain: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let got = github_failing_steps(&plain);
        assert!(
            got.starts_with("line 41\n") && got.ends_with("line 100\n"),
            "{got}"
        );
        // Long steps are trimmed.
        let long = format!(
            "##[group]Run make\n##[endgroup]\n{}##[error]boom\n",
            "x\n".repeat(500)
        );
        assert_eq!(github_failing_steps(&long).lines().count(), MAX_LINES + 1);
    }

    #[test]
    fn gitlab_trace_is_cleaned() {
        let trace = "\u{1b}[0KRunning with gitlab-runner 16.0\n\
            section_start:1700000000:step_script\r\u{1b}[0K\u{1b}[32;1mExecuting step\u{1b}[0;m\n\
            $ cargo test\nerror: test failed\n\
            section_end:1700000010:step_script\r\u{1b}[0K\n\
            \u{1b}[31;1mERROR: Job failed: exit code 1\u{1b}[0;m\n";
        assert_eq!(
            gitlab_trace_tail(trace),
            "Running with gitlab-runner 16.0\nExecuting step\n$ cargo test\nerror: test failed\n\
             ERROR: Job failed: exit code 1\n"
        );
    }
}
