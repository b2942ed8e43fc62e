//! One JSONL log per task session segment, in the cache dir.
//!
//! A segment is one agent process under one relay. Its log starts with a header, then
//! holds, in order, the raw lines of the relay (agent output and the prompts caic
//! sent, verbatim) interleaved with caic's own records (`{"caic_...": ...}` objects:
//! timestamps, events caic made, state changes), and ends with a trailer when the
//! segment is closed. The raw lines are the authoritative conversation record: their
//! byte count is the offset from which caic re-attaches to the relay.
//!
//! Logs are whole transcripts, holding whatever the agent printed, so they are private
//! (S31): the logs dir is created 0700 and each log 0600, and [`make_private`] tightens
//! what an older caic or a user left more open.

use caic_api::{EventData, TaskState};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a task is, recorded in every segment header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMeta {
    /// Task id.
    pub id: String,
    /// Title.
    pub title: String,
    /// First prompt.
    pub prompt: String,
    /// Repo id.
    pub repo: String,
    /// Branch the work started from.
    pub base_branch: String,
    /// The task's branch `caic-N`.
    pub branch: String,
    /// Harness name.
    pub harness: String,
    /// Model chosen at creation.
    #[serde(default)]
    pub model: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Whether a forge token is passed to the agent at each session start (S17).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inject_token: bool,
    /// The user who owns the task (caic's user id); `None` when created without login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// First line of a segment log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// Format version.
    pub version: u32,
    /// The task.
    pub task: TaskMeta,
    /// Segment number, from 0.
    pub segment: u32,
    /// Name of the relay instance inside the container.
    pub relay: String,
    /// When the segment started, Unix ms.
    pub started_at: i64,
}

/// Last line of a closed segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trailer {
    /// Task state when the segment closed.
    pub state: TaskState,
    /// Why it closed.
    pub reason: String,
}

/// One of caic's own records in a segment log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// The header.
    #[serde(rename = "caic_header")]
    Header(Header),
    /// Wall clock (Unix ms) for the raw lines that follow.
    #[serde(rename = "caic_ts")]
    Ts(i64),
    /// An event caic produced itself (provisioning log, diff stat, error...).
    #[serde(rename = "caic_event")]
    Event(EventData),
    /// A state change caic decided (stopped, failed, purged...), with an error text.
    #[serde(rename = "caic_state")]
    State(TaskState, Option<String>),
    /// The relay offset after the previous raw line, when it differs from the count of
    /// the logged text (a line that was not valid UTF-8).
    #[serde(rename = "caic_offset")]
    Offset(u64),
    /// The relay of this segment was started (the agent runs).
    #[serde(rename = "caic_relay_started")]
    RelayStarted(String),
    /// The trailer.
    #[serde(rename = "caic_trailer")]
    Trailer(Trailer),
}

/// A line of a segment log, as read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// One of caic's records.
    Record(Box<Record>),
    /// A raw relay line (without its newline).
    Raw(String),
}

impl Line {
    fn parse(text: &str) -> Line {
        if text.starts_with("{\"caic_") {
            if let Ok(r) = serde_json::from_str::<Record>(text) {
                return Line::Record(Box::new(r));
            }
        }
        Line::Raw(text.to_string())
    }
}

/// A segment log read back from disk.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its file.
    pub path: PathBuf,
    /// Its header.
    pub header: Header,
    /// Every line after the header.
    pub lines: Vec<Line>,
    /// Bytes of raw relay lines (each counted with its newline): the relay offset.
    pub relay_offset: u64,
}

impl Segment {
    /// The trailer, if the segment was closed.
    pub fn trailer(&self) -> Option<&Trailer> {
        match self.lines.last() {
            Some(Line::Record(r)) => match r.as_ref() {
                Record::Trailer(t) => Some(t),
                _ => None,
            },
            _ => None,
        }
    }
}

/// File name of a segment log.
pub fn file_name(task_id: &str, segment: u32) -> String {
    format!("{task_id}-{segment:03}.jsonl")
}

/// Reads a segment log. A partial last line (caic died mid-write) is cut off the file.
pub fn read(path: &Path) -> std::io::Result<Segment> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let complete = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if complete < data.len() {
        tracing::warn!(path = %path.display(), "cutting a partial last line off the log");
        OpenOptions::new()
            .write(true)
            .open(path)?
            .set_len(complete as u64)?;
        data.truncate(complete);
    }
    let text = String::from_utf8_lossy(&data);
    let mut it = text.split_terminator('\n');
    let header = match it.next().map(Line::parse) {
        Some(Line::Record(r)) if matches!(*r, Record::Header(_)) => match *r {
            Record::Header(h) => h,
            _ => unreachable!(),
        },
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: first line is not a caic header", path.display()),
            ))
        }
    };
    let mut lines = Vec::new();
    let mut relay_offset = 0;
    for l in it {
        let line = Line::parse(l);
        match &line {
            Line::Raw(r) => relay_offset += r.len() as u64 + 1,
            Line::Record(r) => {
                if let Record::Offset(o) = **r {
                    relay_offset = o;
                }
            }
        }
        lines.push(line);
    }
    Ok(Segment {
        path: path.to_path_buf(),
        header,
        lines,
        relay_offset,
    })
}

/// Lists every segment log in `dir`, grouped by task id, segments in order.
pub fn list(dir: &Path) -> std::io::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut by_task: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let path = e?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".jsonl") else {
            continue;
        };
        let Some((id, seg)) = stem.rsplit_once('-') else {
            continue;
        };
        if seg.parse::<u32>().is_err() {
            continue;
        }
        by_task.entry(id.to_string()).or_default().push(path);
    }
    Ok(by_task
        .into_iter()
        .map(|(id, mut paths)| {
            paths.sort();
            (id, paths)
        })
        .collect())
}

/// Mode of the logs dir.
pub const DIR_MODE: u32 = 0o700;
/// Mode of each log file.
pub const FILE_MODE: u32 = 0o600;

/// Creates the logs dir (and missing parents) 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(DIR_MODE);
    }
    b.create(dir)
}

/// The startup check (S31): a logs dir more open than 0700 or a log more open than
/// 0600 is set to that, with one warning naming how many were. Returns the paths it
/// tightened; a missing dir is fine.
pub fn make_private(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut fixed = Vec::new();
        let mut tighten = |path: &Path, max: u32| -> std::io::Result<()> {
            let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
            if mode & !max != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & max))?;
                fixed.push(path.to_path_buf());
            }
            Ok(())
        };
        match tighten(dir, DIR_MODE) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            r => r?,
        }
        for (_, paths) in list(dir)? {
            for p in paths {
                tighten(&p, FILE_MODE)?;
            }
        }
        if !fixed.is_empty() {
            tracing::warn!(
                dir = %dir.display(),
                count = fixed.len(),
                "task logs were readable by others; made them private (dir 0700, files 0600)"
            );
        }
        Ok(fixed)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(Vec::new())
    }
}

/// Appends to a segment log; every write is one whole line, queued to the log
/// writer thread (see `log_sink`), never written on the caller's thread.
#[derive(Debug)]
pub struct Writer {
    file: Arc<File>,
    path: PathBuf,
    last_ts: i64,
    relay_offset: u64,
}

impl Writer {
    /// Creates a new segment log with its header.
    pub fn create(dir: &Path, header: &Header) -> std::io::Result<Writer> {
        create_private_dir(dir)?;
        let path = dir.join(file_name(&header.task.id, header.segment));
        let mut opts = OpenOptions::new();
        opts.create_new(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Private from the first byte; the umask can only make it stricter.
            opts.mode(FILE_MODE);
        }
        let mut file = opts.open(&path)?;
        // The header is on disk before the task exists for anyone; later lines go
        // through the log writer thread.
        let mut line =
            serde_json::to_vec(&Record::Header(header.clone())).map_err(std::io::Error::other)?;
        line.push(b'\n');
        file.write_all(&line)?;
        Ok(Writer {
            file: Arc::new(file),
            path,
            last_ts: 0,
            relay_offset: 0,
        })
    }

    /// Reopens an existing segment log to append to it; `relay_offset` is where its
    /// raw lines end (see [`Segment::relay_offset`]).
    pub fn append(path: &Path, relay_offset: u64) -> std::io::Result<Writer> {
        let file = Arc::new(OpenOptions::new().append(true).open(path)?);
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            last_ts: 0,
            relay_offset,
        })
    }

    /// The file this writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one of caic's records.
    pub fn record(&mut self, r: &Record) -> std::io::Result<()> {
        let mut buf = serde_json::to_vec(r).map_err(std::io::Error::other)?;
        buf.push(b'\n');
        crate::log_sink::write(&self.file, buf);
        Ok(())
    }

    /// Writes a timestamp record when the clock moved on by a second or more since
    /// the last one, so lines read back get their time to within a second.
    pub fn tick(&mut self, now_ms: i64) -> std::io::Result<()> {
        if now_ms - self.last_ts >= 1000 {
            self.last_ts = now_ms;
            self.record(&Record::Ts(now_ms))?;
        }
        Ok(())
    }

    /// Writes a raw relay line that ends at `end_offset` in the relay's log, preceded
    /// by a timestamp record when due and followed by an offset record when the text
    /// does not account for the relay's bytes exactly.
    pub fn raw(&mut self, line: &str, end_offset: u64, now_ms: i64) -> std::io::Result<()> {
        self.tick(now_ms)?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        crate::log_sink::write(&self.file, buf);
        let counted = self.relay_offset + line.len() as u64 + 1;
        self.relay_offset = end_offset;
        if counted != end_offset {
            self.record(&Record::Offset(end_offset))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: 1,
            task: TaskMeta {
                id: "01TASK".into(),
                title: "t".into(),
                prompt: "p".into(),
                repo: "r".into(),
                base_branch: "main".into(),
                branch: "caic-1".into(),
                harness: "fake".into(),
                model: None,
                created_at: 1,
                inject_token: false,
                owner: Some("github:1".into()),
            },
            segment: 0,
            relay: "s0".into(),
            started_at: 2,
        }
    }

    #[test]
    fn round_trip_counts_relay_offset_and_cuts_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::create(dir.path(), &header()).unwrap();
        w.raw(r#"{"type":"system"}"#, 18, 5000).unwrap();
        w.record(&Record::Event(EventData::Log {
            line: "hello".into(),
        }))
        .unwrap();
        // A line whose text lost bytes (invalid UTF-8 made lossy) records the offset.
        w.raw("not json", 18 + 12, 5100).unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        crate::log_sink::flush_blocking();
        // Simulate a crash mid-write.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"type\":\"assi")
            .unwrap();
        let seg = read(&path).unwrap();
        assert_eq!(seg.header, header());
        assert_eq!(seg.relay_offset, 30);
        assert_eq!(
            seg.lines,
            vec![
                Line::Record(Box::new(Record::Ts(5000))),
                Line::Raw(r#"{"type":"system"}"#.into()),
                Line::Record(Box::new(Record::Event(EventData::Log {
                    line: "hello".into()
                }))),
                Line::Raw("not json".into()),
                Line::Record(Box::new(Record::Offset(30))),
            ]
        );
        // The partial line is gone from the file too, so appends stay line-aligned.
        let again = read(&path).unwrap();
        assert_eq!(again.lines.len(), 5);
        assert_eq!(again.relay_offset, 30);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("{\"caic_offset\":30}\n"));
    }

    #[test]
    fn list_groups_segments_per_task() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = header();
        Writer::create(dir.path(), &h).unwrap();
        h.segment = 1;
        Writer::create(dir.path(), &h).unwrap();
        std::fs::write(dir.path().join("junk.txt"), "x").unwrap();
        let l = list(dir.path()).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, "01TASK");
        assert_eq!(l[0].1.len(), 2);
        assert!(l[0].1[0].ends_with("01TASK-000.jsonl"));
    }

    /// Runs `f` with its tracing output captured.
    fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || out.clone())
            .finish();
        let r = tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8_lossy(&buf.0.lock()).into_owned();
        (r, text)
    }

    #[cfg(unix)]
    #[test]
    fn s31_task_logs_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache").join("logs");
        let mut h = header();
        let w = Writer::create(&dir, &h).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(w.path()), 0o600);
        assert!(make_private(&dir).unwrap().is_empty());

        // What an older caic left: a world-readable dir and log.
        h.segment = 1;
        let old = Writer::create(&dir, &h).unwrap().path().to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (fixed, out) = capture_logs(|| make_private(&dir).unwrap());
        assert_eq!(fixed, vec![dir.clone(), old.clone()]);
        // One warning for the lot, naming the dir.
        assert_eq!(out.matches("WARN").count(), 1, "{out}");
        assert!(
            out.contains("made them private") && out.contains("count=2"),
            "{out}"
        );
        assert!(out.contains(&dir.display().to_string()), "{out}");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&old), 0o600);
        assert_eq!(mode(w.path()), 0o600);
        // Once tightened, nothing more to say.
        assert!(make_private(&dir).unwrap().is_empty());
        assert!(make_private(&tmp.path().join("missing"))
            .unwrap()
            .is_empty());
    }
}
