//! Test helpers: real git repos in temp dirs (caic-git's), and a directory standing in
//! for a container.
#![allow(dead_code)]

pub use caic_git::testutil::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Result of a container script run.
pub struct ScriptRun {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `bash -c script` as a "container": `home` as HOME and cwd, no global or system git
/// config (like a fresh container user), stdin fed from `input`.
pub fn run_script(home: &Path, script: &str, input: &[u8]) -> ScriptRun {
    std::fs::create_dir_all(home).unwrap();
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(home)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig-absent"))
        .env_remove("GIT_AUTHOR_NAME")
        .env_remove("GIT_AUTHOR_EMAIL")
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The script may exit before reading everything; that is its business.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    ScriptRun {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a container-side git command in the "container" (same env as [`run_script`]).
pub fn ctr_git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let mut script = String::from("git");
    for a in args {
        script.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
    }
    let dir_s = dir.to_str().unwrap();
    let run = run_script(home, &format!("cd '{dir_s}' && {script}"), b"");
    assert_eq!(run.code, 0, "container git {args:?}: {}", run.stderr);
    String::from_utf8_lossy(&run.stdout).trim().to_string()
}
