//! Diff stats: parsing `git diff --numstat` and computing one on the host.

use crate::cmd::git_with;
use crate::cmd::TIMEOUT;
use crate::error::{Error, Result};
use caic_api::DiffFile;
use std::path::Path;

/// Parses `git diff --numstat` output, plain or `-z`, into one entry per file.
///
/// `-\t-` marks a binary file (`binary: true`, zero counts). A rename is reported under its
/// new path: with `-z` git gives both paths; in plain output `old => new` and
/// `dir/{old => new}/file` are resolved, and C-quoted paths are unquoted. Lines that are not
/// numstat lines are skipped.
pub fn parse_numstat(out: &str) -> Vec<DiffFile> {
    if out.contains('\0') {
        parse_z(out)
    } else {
        out.lines()
            .filter_map(|line| {
                let (added, deleted, path) = split_counts(line)?;
                Some(entry(added, deleted, rename_target(&unquote_pieces(path))))
            })
            .collect()
    }
}

/// `-z` records: `A\tD\tpath\0`, or `A\tD\t\0old\0new\0` for a rename or copy.
fn parse_z(out: &str) -> Vec<DiffFile> {
    let mut files = Vec::new();
    let mut fields = out.split('\0');
    while let Some(record) = fields.next() {
        let record = record.trim_start_matches('\n');
        let Some((added, deleted, path)) = split_counts(record) else {
            continue;
        };
        let path = if path.is_empty() {
            let _old = fields.next();
            match fields.next() {
                Some(new) => new.to_string(),
                None => break,
            }
        } else {
            path.to_string()
        };
        files.push(entry(added, deleted, path));
    }
    files
}

/// Splits `A\tD\trest`.
fn split_counts(line: &str) -> Option<(&str, &str, &str)> {
    let mut parts = line.splitn(3, '\t');
    let added = parts.next()?;
    let deleted = parts.next()?;
    let path = parts.next()?;
    let ok = |s: &str| s == "-" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    (ok(added) && ok(deleted)).then_some((added, deleted, path))
}

fn entry(added: &str, deleted: &str, path: String) -> DiffFile {
    let binary = added == "-" && deleted == "-";
    DiffFile {
        path,
        added: added.parse().unwrap_or(0),
        deleted: deleted.parse().unwrap_or(0),
        binary,
    }
}

/// Unquotes a path, or each side of `"a" => "b"`, when git C-quoted it.
fn unquote_pieces(path: &str) -> String {
    if let Some((a, b)) = path.split_once("\" => \"") {
        if a.starts_with('"') && b.ends_with('"') {
            return format!(
                "{} => {}",
                unquote(&format!("{a}\"")),
                unquote(&format!("\"{b}"))
            );
        }
    }
    unquote(path)
}

/// Reverses git's C-style quoting (`"a\tb\303\251"`); other strings are returned as they are.
fn unquote(s: &str) -> String {
    let Some(inner) = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| s.len() >= 2)
    else {
        return s.to_string();
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 >= bytes.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let e = bytes[i + 1];
        i += 2;
        match e {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'v' => out.push(11),
            b'f' => out.push(12),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The new path of a plain-numstat rename (`a => b`, `pre/{a => b}/post`), else `path`.
fn rename_target(path: &str) -> String {
    let Some(arrow) = path.find(" => ") else {
        return path.to_string();
    };
    let open = path[..arrow].rfind('{');
    let close = path[arrow..].find('}').map(|c| arrow + c);
    match (open, close) {
        (Some(open), Some(close)) => {
            let joined = format!(
                "{}{}{}",
                &path[..open],
                &path[arrow + 4..close],
                &path[close + 1..]
            );
            // `{a => }/x` or `dir/{ => b}/x` leave a doubled or leading slash.
            let mut clean = joined.replace("//", "/");
            while let Some(rest) = clean.strip_prefix('/') {
                clean = rest.to_string();
            }
            clean
        }
        _ => path[arrow + 4..].to_string(),
    }
}

/// The diff stat of `branch` against where it forked from `base` (`git diff base...branch`)
/// in the host repo; renames detected.
pub async fn diff_stat_host(
    repo: impl AsRef<Path>,
    base: &str,
    branch: &str,
) -> Result<Vec<DiffFile>> {
    for rev in [base, branch] {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Error::UnknownBranch(rev.to_string()));
        }
    }
    let range = format!("{base}...{branch}");
    let out = git_with(
        repo.as_ref(),
        &[
            "diff",
            "--numstat",
            "-z",
            "-M",
            "--no-ext-diff",
            "--no-textconv",
            &range,
            "--",
        ],
        TIMEOUT,
    )
    .await?;
    Ok(parse_numstat(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, added: u64, deleted: u64, binary: bool) -> DiffFile {
        DiffFile {
            path: path.into(),
            added,
            deleted,
            binary,
        }
    }

    #[test]
    fn plain_lines_binary_and_renames() {
        let out = "3\t1\tsrc/lib.rs\n-\t-\tlogo.png\n0\t0\told.txt => new.txt\n\
                   2\t0\tsrc/{a => b}/mod.rs\n1\t1\t{ => sub}/x.rs\n4\t0\tdir/{sub => }/y.rs\n\
                   1\t0\t\"sp\\303\\251cial\\tname\"\nnot a numstat line\n";
        assert_eq!(
            parse_numstat(out),
            vec![
                f("src/lib.rs", 3, 1, false),
                f("logo.png", 0, 0, true),
                f("new.txt", 0, 0, false),
                f("src/b/mod.rs", 2, 0, false),
                f("sub/x.rs", 1, 1, false),
                f("dir/y.rs", 4, 0, false),
                f("spécial\tname", 1, 0, false),
            ]
        );
    }

    #[test]
    fn z_records_with_renames() {
        let out = "3\t1\tsrc/lib.rs\u{0}-\t-\tlogo.png\u{0}1\t2\t\u{0}old name.txt\u{0}new => name.txt\u{0}";
        assert_eq!(
            parse_numstat(out),
            vec![
                f("src/lib.rs", 3, 1, false),
                f("logo.png", 0, 0, true),
                f("new => name.txt", 1, 2, false),
            ]
        );
    }

    #[test]
    fn empty_output_is_no_files() {
        assert!(parse_numstat("").is_empty());
        assert!(parse_numstat("\n").is_empty());
    }
}
