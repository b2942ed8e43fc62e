//! `bench_start`: how long a warm task start takes, phase by phase, against a bare
//! `docker run` of the same image measured in the same run.
//!
//! ```text
//! cargo run -p caic-e2e --bin bench_start -- --tasks 10 [--parallel]
//! ```
//!
//! It builds a scratch world (a repos root with one repo and its bare origin, config and
//! cache dirs), starts the server in-process on `127.0.0.1:0`, warms the image with one
//! throwaway task, then starts N `fake`-harness tasks over the HTTP API, waits for each
//! to finish its first turn and reads the `startup` phases the API reports. The baseline
//! runs afterwards, on an idle engine. Everything it created is removed at the end, even
//! on errors. It exits non-zero on errors only, never because a timing is slow.

use anyhow::{bail, Context, Result};
use caic_api::{CreateTaskReq, CreateTaskResp, StartupTimings, Task, TaskState};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The headline target: create -> agent received its prompt.
const TARGET_MS: f64 = 1000.0;
/// How long one task may take to finish its first turn.
const TASK_TIMEOUT: Duration = Duration::from_secs(180);

struct Args {
    tasks: usize,
    parallel: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        tasks: 10,
        parallel: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tasks" | "-n" => {
                let v = it.next().context("--tasks needs a number")?;
                args.tasks = v.parse().with_context(|| format!("--tasks {v:?}"))?;
            }
            "--parallel" => args.parallel = true,
            "-h" | "--help" => {
                println!("usage: bench_start [--tasks N] [--parallel]");
                std::process::exit(0);
            }
            other => {
                bail!("unknown argument {other:?} (usage: bench_start [--tasks N] [--parallel])")
            }
        }
    }
    if args.tasks == 0 {
        bail!("--tasks must be at least 1");
    }
    Ok(args)
}

/// Runs a command to completion, failing with its stderr.
fn run(dir: &Path, argv: &[&str]) -> Result<String> {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!(
            "{argv:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The scratch world. Dropping it removes every container named after its repo.
struct World {
    tmp: tempfile::TempDir,
    repo_id: String,
    root: PathBuf,
}

impl World {
    fn new() -> Result<World> {
        let tmp = tempfile::tempdir()?;
        let suffix: String = tmp
            .path()
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let repo_id = format!("bench{}", &suffix[suffix.len().saturating_sub(6)..]);
        let root = tmp.path().join("src");
        let repo = root.join(&repo_id);
        let origin = tmp.path().join("origin.git");
        std::fs::create_dir_all(repo.join("src"))?;
        let o = origin.to_str().context("temp path is not UTF-8")?;
        run(
            tmp.path(),
            &["git", "init", "-q", "--bare", "-b", "main", o],
        )?;
        run(&repo, &["git", "init", "-q", "-b", "main"])?;
        run(&repo, &["git", "config", "user.name", "Bench"])?;
        run(&repo, &["git", "config", "user.email", "bench@example.com"])?;
        std::fs::write(repo.join("README.md"), "# bench\n\nA small repo.\n")?;
        std::fs::write(
            repo.join("src/main.rs"),
            "fn main() {\n    println!(\"hello\");\n}\n",
        )?;
        std::fs::write(repo.join(".gitignore"), "/target\n")?;
        std::fs::write(repo.join("notes.txt"), "line\n".repeat(200))?;
        run(&repo, &["git", "add", "."])?;
        run(&repo, &["git", "commit", "-q", "-m", "initial"])?;
        run(&repo, &["git", "remote", "add", "origin", o])?;
        run(&repo, &["git", "push", "-q", "-u", "origin", "main"])?;
        run(&repo, &["git", "remote", "set-head", "origin", "main"])?;
        Ok(World { tmp, repo_id, root })
    }

    /// Prefix of every container this world's tasks and baseline runs get.
    fn container_prefix(&self) -> String {
        format!("caic-{}-", self.repo_id)
    }

    /// Removes the containers named after this world's repo; returns how many.
    fn remove_containers(&self) -> usize {
        let prefix = self.container_prefix();
        let Ok(out) = std::process::Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("name={prefix}"))
            .output()
        else {
            return 0;
        };
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|n| n.starts_with(&prefix))
            .map(String::from)
            .collect();
        if !names.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f"])
                .args(&names)
                .output();
        }
        names.len()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.remove_containers();
    }
}

/// A thin client of the server's API.
struct Api {
    http: reqwest::Client,
    base: String,
    repo: String,
}

impl Api {
    async fn create(&self, prompt: &str) -> Result<String> {
        let req = CreateTaskReq {
            repo: self.repo.clone(),
            base_branch: None,
            harness: "fake".into(),
            model: None,
            prompt: prompt.into(),
            images: Vec::new(),
            inject_token: false,
        };
        let resp = self
            .http
            .post(format!("{}/api/v1/tasks", self.base))
            .json(&req)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("create task: {status}: {}", resp.text().await?);
        }
        Ok(resp.json::<CreateTaskResp>().await?.id)
    }

    async fn get(&self, id: &str) -> Result<Task> {
        let resp = self
            .http
            .get(format!("{}/api/v1/tasks/{id}", self.base))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("get task {id}: {status}: {}", resp.text().await?);
        }
        Ok(resp.json().await?)
    }

    async fn purge(&self, id: &str) -> Result<()> {
        let resp = self
            .http
            .post(format!("{}/api/v1/tasks/{id}/purge", self.base))
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("purge task {id}: {status}: {}", resp.text().await?);
        }
        Ok(())
    }

    /// Polls until `done` holds; fails when the task failed or time ran out.
    async fn wait(&self, id: &str, what: &str, done: impl Fn(&Task) -> bool) -> Result<Task> {
        let deadline = Instant::now() + TASK_TIMEOUT;
        loop {
            let t = self.get(id).await?;
            if done(&t) {
                return Ok(t);
            }
            if t.state == TaskState::Failed {
                bail!("task {id} failed: {}", t.error.unwrap_or_default());
            }
            if Instant::now() > deadline {
                bail!(
                    "task {id} not {what} after {TASK_TIMEOUT:?} (state {:?})",
                    t.state
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the task finished its first turn and is waiting for input.
    async fn wait_first_turn(&self, id: &str) -> Result<Task> {
        self.wait(id, "waiting", |t| {
            t.state == TaskState::Waiting && t.result.is_some()
        })
        .await
    }

    /// Starts one task and waits for its first turn; returns its startup timings.
    async fn start_one(&self, i: usize) -> Result<StartupTimings> {
        let id = self
            .create(&format!("benchmark task {i}: say hello"))
            .await?;
        let t = self.wait_first_turn(&id).await?;
        t.startup
            .with_context(|| format!("task {id} reports no startup timings"))
    }
}

/// Median (mean of the middle two for an even count) and p90 (nearest rank).
fn stats(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let p50 = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    Some((p50, v[rank - 1]))
}

/// Runs one docker CLI command, timing it; fails with its stderr.
async fn docker_timed(args: &[&str]) -> Result<(f64, String)> {
    let t0 = Instant::now();
    let out = tokio::process::Command::new("docker")
        .args(args)
        .output()
        .await
        .context("running docker")?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    if !out.status.success() {
        bail!(
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((ms, String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// What the baseline measured, ms per run.
struct Baseline {
    run: Vec<f64>,
    create_start: Vec<f64>,
    create_start_caic_flags: Vec<f64>,
}

/// caic's container options (see caic-runtime's `create_container`), minus the key
/// upload, for the third baseline.
const CAIC_FLAGS: &[&str] = &[
    "--init",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "CHOWN",
    "--cap-add",
    "DAC_OVERRIDE",
    "--cap-add",
    "FOWNER",
    "--cap-add",
    "SETUID",
    "--cap-add",
    "SETGID",
    "--cap-add",
    "SYS_CHROOT",
    "--cap-add",
    "NET_BIND_SERVICE",
    "--cap-add",
    "AUDIT_WRITE",
    "--security-opt",
    "no-new-privileges",
    "-p",
    "127.0.0.1::22",
    "--add-host",
    "host.docker.internal:host-gateway",
    "--pids-limit",
    "4096",
];

/// Bare engine costs for `image`: `docker run --rm` (entrypoint replaced by `true`: the
/// image's own entrypoint refuses to start without injected keys), then `docker create`
/// + `docker start`, plain and with caic's flags. Container names start with `prefix`.
async fn baseline(image: &str, n: usize, prefix: &str) -> Result<Baseline> {
    let mut b = Baseline {
        run: Vec::new(),
        create_start: Vec::new(),
        create_start_caic_flags: Vec::new(),
    };
    // One untimed run so the first timed one does not pay for cold caches.
    docker_timed(&["run", "--rm", "--entrypoint", "true", image]).await?;
    for i in 0..n {
        let name = format!("{prefix}baseline-run-{i}");
        let (ms, _) = docker_timed(&[
            "run",
            "--rm",
            "--name",
            &name,
            "--entrypoint",
            "true",
            image,
        ])
        .await?;
        b.run.push(ms);
    }
    for (flags, out) in [
        (&[][..], &mut b.create_start),
        (CAIC_FLAGS, &mut b.create_start_caic_flags),
    ] {
        for i in 0..n {
            let name = format!("{prefix}baseline-cs{}-{i}", flags.len());
            let mut args = vec!["create", "--name", &name, "--entrypoint", "true"];
            args.extend_from_slice(flags);
            args.push(image);
            let (create_ms, id) = docker_timed(&args).await?;
            let (start_ms, _) = docker_timed(&["start", &id]).await?;
            out.push(create_ms + start_ms);
            docker_timed(&["rm", "-f", &id]).await?;
        }
    }
    Ok(b)
}

fn phase_values(
    timings: &[StartupTimings],
    get: impl Fn(&StartupTimings) -> Option<u64>,
) -> Vec<f64> {
    timings
        .iter()
        .filter_map(|t| get(t).map(|v| v as f64))
        .collect()
}

type Getter = fn(&StartupTimings) -> Option<u64>;

fn print_report(args: &Args, image: &str, timings: &[StartupTimings], base: &Baseline) {
    let run_p50 = stats(&base.run).map(|s| s.0).unwrap_or(f64::NAN);
    let phases: [(&str, Getter); 7] = [
        ("branch created", |t| t.branch_ms),
        ("container create", |t| t.container_ms),
        ("SSH ready", |t| t.ssh_ms),
        ("branch push", |t| t.push_ms),
        ("agent started", |t| t.agent_ms),
        ("agent received prompt", |t| t.prompt_ms),
        ("first output", |t| t.first_output_ms),
    ];
    println!();
    println!(
        "caic task start, {} warm {} tasks (fake harness), image {image}",
        timings.len(),
        if args.parallel {
            "parallel"
        } else {
            "sequential"
        }
    );
    println!("ms since the task was created (API `startup`); step = since the previous phase");
    println!(
        "{:<24} {:>4} {:>8} {:>8} {:>9} {:>9} {:>11}",
        "phase", "n", "p50", "p90", "step p50", "step p90", "p50/dkr run"
    );
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
    let mut prev: Option<Getter> = None;
    let mut missing = Vec::new();
    for (name, get) in phases {
        let vals = phase_values(timings, get);
        let s = stats(&vals);
        // The step of the sequential chain; the branch runs beside the container, and
        // the container step starts at creation.
        let steps: Vec<f64> = match prev {
            Some(p) => timings
                .iter()
                .filter_map(|t| Some(get(t)? as f64 - p(t)? as f64))
                .collect(),
            None => vals.clone(),
        };
        let st = stats(&steps);
        let ratio = s.map(|(p50, _)| format!("{:.2}x", p50 / run_p50));
        println!(
            "{:<24} {:>4} {:>8} {:>8} {:>9} {:>9} {:>11}",
            name,
            vals.len(),
            fmt(s.map(|x| x.0)),
            fmt(s.map(|x| x.1)),
            fmt(st.map(|x| x.0)),
            fmt(st.map(|x| x.1)),
            ratio.unwrap_or_else(|| "-".into())
        );
        if name != "branch created" {
            prev = Some(get);
        }
        if vals.is_empty() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        println!("(not reported by the engine: {})", missing.join(", "));
    }
    println!();
    println!("baseline, same run, same image, idle engine (docker CLI, ms):");
    for (name, vals) in [
        ("docker run --rm (entrypoint true)", &base.run),
        ("docker create + start", &base.create_start),
        (
            "docker create + start, caic flags",
            &base.create_start_caic_flags,
        ),
    ] {
        if let Some((p50, p90)) = stats(vals) {
            println!(
                "  {name:<36} n={:<3} p50 {p50:>6.0}  p90 {p90:>6.0}  ({:.2}x run)",
                vals.len(),
                p50 / run_p50
            );
        }
    }
    println!();
    match stats(&phase_values(timings, |t| t.prompt_ms)) {
        Some((p50, _)) => println!(
            "create -> agent received prompt p50 = {p50:.0} ms (target < {TARGET_MS:.0} ms): {}",
            if p50 < TARGET_MS { "met" } else { "NOT met" }
        ),
        None => println!("create -> agent received prompt: no task reported it"),
    }
}

async fn bench(args: &Args, world: &World) -> Result<()> {
    let cfg = caic_server::config::Config {
        listen: "127.0.0.1:0".into(),
        repos_root: Some(world.root.clone()),
        cache_dir: Some(world.tmp.path().join("cache")),
        config_dir: world.tmp.path().join("config"),
        ..Default::default()
    };
    caic_server::config::create_private_dir(&cfg.config_dir)?;
    let server = caic_server::Server::start(cfg)
        .await
        .context("starting the server")?;
    let addr = *server
        .addrs
        .first()
        .context("the server bound no address")?;
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{addr}"),
        repo: world.repo_id.clone(),
    };
    let result = async {
        eprintln!("warming the image (builds it if its inputs changed)...");
        let t0 = Instant::now();
        server.engine.warm_image().await?;
        eprintln!("image ready in {} ms; one throwaway task...", t0.elapsed().as_millis());
        let id = api.create("warm-up").await?;
        let t = api.wait_first_turn(&id).await?;
        let container = t.container.context("warm-up task has no container")?;
        let image = run(
            world.tmp.path(),
            &["docker", "inspect", "--format", "{{.Config.Image}}", &container],
        )?;
        eprintln!(
            "warm-up task: prompt after {:?} ms, container {container}, image {image}",
            t.startup.as_ref().and_then(|s| s.prompt_ms)
        );
        api.purge(&id).await?;
        api.wait(&id, "purged", |t| t.state == TaskState::Purged).await?;

        let mut timings = Vec::new();
        if args.parallel {
            eprintln!("starting {} tasks at once...", args.tasks);
            let all = futures::future::join_all((0..args.tasks).map(|i| api.start_one(i))).await;
            for t in all {
                timings.push(t?);
            }
        } else {
            for i in 0..args.tasks {
                let t = api.start_one(i).await?;
                eprintln!(
                    "task {i}: container {:?} ssh {:?} push {:?} agent {:?} prompt {:?} output {:?}",
                    t.container_ms, t.ssh_ms, t.push_ms, t.agent_ms, t.prompt_ms, t.first_output_ms
                );
                timings.push(t);
            }
        }
        eprintln!("purging the tasks...");
        let ids: Vec<String> = server
            .engine
            .list(&caic_server::Caller::Anyone)
            .into_iter()
            .filter(|t| t.state != TaskState::Purged)
            .map(|t| t.id)
            .collect();
        for id in &ids {
            api.purge(id).await?;
        }
        for id in &ids {
            api.wait(id, "purged", |t| t.state == TaskState::Purged).await?;
        }
        eprintln!("baseline: docker run / create+start of {image}, {} times each...", args.tasks);
        let base = baseline(&image, args.tasks, &world.container_prefix()).await?;
        print_report(args, &image, &timings, &base);
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if result.is_err() {
        // Purge what is left so the engine is quiet; the world's drop removes the rest.
        for t in server.engine.list(&caic_server::Caller::Anyone) {
            if t.state != TaskState::Purged {
                let _ = api.purge(&t.id).await;
            }
        }
    }
    server.stop().await;
    result
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let code = match parse_args() {
        Err(e) => {
            eprintln!("bench_start: {e:#}");
            2
        }
        Ok(args) => match World::new() {
            Err(e) => {
                eprintln!("bench_start: building the scratch world: {e:#}");
                1
            }
            Ok(world) => {
                let res = bench(&args, &world).await;
                let left = world.remove_containers();
                if left > 0 {
                    eprintln!("removed {left} leftover container(s)");
                }
                drop(world);
                match res {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("bench_start: {e:#}");
                        1
                    }
                }
            }
        },
    };
    std::process::exit(code);
}
