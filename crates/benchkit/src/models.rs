//! Finding the model binaries (and the Python models, where their environment exists),
//! and waiting for the fixture server.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    manifest_path: String,
    targets: Vec<Target>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// A model binary and what the scale sweep must know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    /// Every task is a kernel task (an OS thread or process), declared in the crate's
    /// Cargo.toml as `[package.metadata.model] kernel-task-per-task = true`: N such tasks
    /// count against `pid_max` and `threads-max`.
    pub kernel_task_per_task: bool,
    /// How to start a model that is not a binary of the release folder: a program and the
    /// arguments before the workload's (a Python model: the environment's python and its
    /// script). None for a binary, started as `<release folder>/<name>`.
    pub command: Option<(PathBuf, Vec<PathBuf>)>,
}

impl Model {
    /// The program to start and the arguments that come before the workload's.
    pub fn command_line(&self, bin_dir: &Path) -> (PathBuf, Vec<String>) {
        match &self.command {
            Some((program, args)) => (
                program.clone(),
                args.iter().map(|a| a.display().to_string()).collect(),
            ),
            None => (bin_dir.join(&self.name), Vec::new()),
        }
    }

    /// The command that starts this model as a server (issue 16's `serve` contract), up
    /// to the word `serve`: the driver appends `--port 0 --backend ...`. A Rust model is
    /// its binary (`<name> serve`); a Python model is the environment's python and its
    /// server script beside its client script, `scripts/python/serve_<name less
    /// python->.py serve` (Flask under gunicorn, or aiohttp.web).
    pub fn serve_command_line(&self, bin_dir: &Path) -> (PathBuf, Vec<String>) {
        let (program, mut args) = self.command_line(bin_dir);
        if let Some(script) = self.command.as_ref().and_then(|(_, args)| args.first()) {
            let server = format!("serve_{}.py", self.name.trim_start_matches("python-"));
            args[0] = script.with_file_name(server).display().to_string();
        }
        args.push("serve".into());
        (program, args)
    }
}

/// The models that serve one connection per worker at a time (the serve contract: they
/// answer `Connection: close`): their concurrency is their workers, not the connections.
const ONE_CONNECTION_PER_WORKER: [&str; 5] =
    ["sync", "procs", "rayon", "python-sync", "python-procs"];

/// The models that serve with an OS thread per connection: each connection held open
/// costs a kernel task.
const THREAD_PER_CONNECTION: [&str; 1] = ["threads"];

impl Model {
    /// Serves one connection per worker at a time (sync, procs, rayon, python-sync,
    /// python-procs): Little's law counts its workers.
    pub fn serves_one_connection_per_worker(&self) -> bool {
        ONE_CONNECTION_PER_WORKER.contains(&self.name.as_str())
    }

    /// Serves each connection on an OS thread of its own (threads).
    pub fn serves_a_thread_per_connection(&self) -> bool {
        THREAD_PER_CONNECTION.contains(&self.name.as_str())
    }

    /// A model given by path (`MODELS=path/to/server`), named after its file: the
    /// program itself, started as `<path> serve ...`.
    pub fn from_path(path: &Path) -> Model {
        Model {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel_task_per_task: false,
            command: Some((path.to_path_buf(), Vec::new())),
        }
    }
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Every binary of every package under `crates/models/`, sync first, the rest by name.
pub fn discover() -> Result<Vec<String>> {
    Ok(discover_models()?.into_iter().map(|m| m.name).collect())
}

/// Like [`discover`], with each model's metadata.
pub fn discover_models() -> Result<Vec<Model>> {
    Ok(model_binaries(&metadata()?))
}

fn metadata() -> Result<Metadata> {
    let output =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .output()
            .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("cannot read cargo metadata")
}

/// The Python models of scripts/python/ (`make bench-python`), `python-sync` first, when
/// their environment is ready beside the release folder: `<target>/python-venv`, as
/// scripts/python-env.sh makes it, holding the packages of requirements.txt as it is now.
/// It is never created here; without it (or out of date), Err says why.
pub fn python_models(bin_dir: &Path) -> Result<Vec<Model>> {
    let scripts = metadata()?.workspace_root.join("scripts/python");
    let venv = bin_dir
        .parent()
        .context("the release folder has no parent")?
        .join("python-venv");
    python_models_in(&venv, &scripts)
}

fn python_models_in(venv: &Path, scripts: &Path) -> Result<Vec<Model>> {
    let python = venv.join("bin/python");
    let installed = std::fs::read(venv.join("requirements.installed")).ok();
    if !python.exists() || installed.is_none() {
        bail!(
            "no Python environment in {} (scripts/python-env.sh creates it)",
            venv.display()
        );
    }
    if installed != std::fs::read(scripts.join("requirements.txt")).ok() {
        bail!(
            "{} is older than scripts/python/requirements.txt (scripts/python-env.sh updates it)",
            venv.display()
        );
    }
    let model = |name: &str, kernel_task_per_task| Model {
        name: name.into(),
        kernel_task_per_task,
        command: Some((
            python.clone(),
            vec![scripts.join(format!("{}.py", name.replace('-', "_")))],
        )),
    };
    Ok(vec![
        model("python-sync", false),
        model("python-asyncio", false),
        model("python-gevent", false),
        // One threading.Thread, or one process, per task: kernel tasks.
        model("python-procs", true),
        model("python-threads", true),
        model("python-uvloop", false),
    ])
}

fn model_binaries(metadata: &Metadata) -> Vec<Model> {
    let mut bins: Vec<Model> = metadata
        .packages
        .iter()
        .filter(|p| {
            p.manifest_path
                .replace('\\', "/")
                .contains("/crates/models/")
        })
        .flat_map(|p| {
            let kernel = p
                .metadata
                .as_ref()
                .and_then(|m| m.pointer("/model/kernel-task-per-task"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            p.targets
                .iter()
                .filter(|t| t.kind.iter().any(|k| k == "bin"))
                .map(move |t| Model {
                    name: t.name.clone(),
                    kernel_task_per_task: kernel,
                    command: None,
                })
        })
        .collect();
    // sync is the baseline: first in every table.
    bins.sort_by_key(|m| (m.name != "sync", m.name.clone()));
    bins
}

/// The model every other is compared with (speedup, checksum): `sync`, or for the Python
/// models of scripts/python/ (`make bench-python`, all named `python-*`) their own
/// `python-sync`, so that each language's speedups are over its own sequential run.
pub fn baseline(model: &str) -> &'static str {
    if model.starts_with("python-") {
        "python-sync"
    } else {
        "sync"
    }
}

/// Poll `GET /health` until it answers 200, or fail after `timeout`.
/// A fixture server's address as the command line gives it: an IP address and a port on
/// the loopback network (the only place our load goes), or a one-line reason why not.
pub fn loopback_addr(text: &str) -> std::result::Result<String, String> {
    let addr: std::net::SocketAddr = text
        .parse()
        .map_err(|_| format!("{text:?} is not an address of the form 127.0.0.1:PORT"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address: the fixture server binds 127.0.0.0/8 or [::1]"
        ));
    }
    Ok(text.to_string())
}

pub fn wait_health(addr: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match health(addr) {
            Ok(true) => return Ok(()),
            _ if Instant::now() >= deadline => {
                bail!("fixture server at {addr} did not answer /health within {timeout:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn health(addr: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.1 200"))
}

#[cfg(test)]
mod tests {
    /// An address is checked before anything waits on it: not an address, or not on the
    /// loopback network, is refused at once (issue 19, item 9: `wait-health notanaddr`
    /// used to wait its whole timeout).
    #[test]
    fn only_loopback_addresses_are_taken() {
        assert_eq!(loopback_addr("127.0.0.1:8080").unwrap(), "127.0.0.1:8080");
        assert!(loopback_addr("[::1]:80").is_ok());
        let err = loopback_addr("notanaddr").unwrap_err();
        assert_eq!(
            err,
            "\"notanaddr\" is not an address of the form 127.0.0.1:PORT"
        );
        assert!(loopback_addr("10.0.0.1:80")
            .unwrap_err()
            .contains("not a loopback address"));
    }

    use super::*;

    #[test]
    fn models_are_the_bins_under_crates_models_sync_first() {
        let json = r#"{"workspace_root": "/w", "packages": [
            {"manifest_path": "/w/crates/models/threads/Cargo.toml", "targets": [{"name": "threads", "kind": ["bin"]}],
             "metadata": {"model": {"kernel-task-per-task": true}}},
            {"manifest_path": "/w/crates/workload/Cargo.toml", "targets": [{"name": "workload", "kind": ["lib"]}]},
            {"manifest_path": "/w/crates/fixture-server/Cargo.toml", "targets": [{"name": "fixture-server", "kind": ["bin"]}]},
            {"manifest_path": "/w/crates/models/sync/Cargo.toml", "targets": [{"name": "sync", "kind": ["bin"]}]},
            {"manifest_path": "/w/crates/models/rayon/Cargo.toml", "targets": [{"name": "rayon", "kind": ["bin"]}]}
        ]}"#;
        let metadata: Metadata = serde_json::from_str(json).unwrap();
        let models = model_binaries(&metadata);
        let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["sync", "rayon", "threads"]);
        let kernel: Vec<bool> = models.iter().map(|m| m.kernel_task_per_task).collect();
        assert_eq!(kernel, [false, false, true]);
    }

    /// `benchkit models` on this workspace: exactly the nine models and monoio's epoll twin
    /// (a second binary of the monoio-async crate), sync (the baseline) first, then by
    /// name; no other binary (fixture-server, benchkit) among them.
    #[test]
    fn this_workspace_has_exactly_the_nine_models_and_the_epoll_twin() {
        assert_eq!(
            discover().unwrap(),
            [
                "sync",
                "async-std-async",
                "green",
                "monoio-async",
                "monoio-epoll",
                "procs",
                "rayon",
                "smol-async",
                "threads",
                "tokio-async"
            ]
        );
    }

    /// The Python models are the environment's python and a script each, only when the
    /// environment holds the packages of requirements.txt as it is now.
    #[test]
    fn python_models_need_an_up_to_date_environment() {
        let d = crate::test_dir("models-python");
        let (venv, scripts) = (d.join("python-venv"), d.join("scripts"));
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(scripts.join("requirements.txt"), "aiohttp==1\n").unwrap();
        let err = python_models_in(&venv, &scripts).unwrap_err().to_string();
        assert!(err.starts_with("no Python environment in"), "{err}");
        std::fs::write(venv.join("bin/python"), "").unwrap();
        std::fs::write(venv.join("requirements.installed"), "aiohttp==0\n").unwrap();
        let err = python_models_in(&venv, &scripts).unwrap_err().to_string();
        assert!(err.contains("is older than"), "{err}");
        std::fs::write(venv.join("requirements.installed"), "aiohttp==1\n").unwrap();
        let models = python_models_in(&venv, &scripts).unwrap();
        let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "python-sync",
                "python-asyncio",
                "python-gevent",
                "python-procs",
                "python-threads",
                "python-uvloop"
            ]
        );
        let threads = &models[4];
        assert!(threads.kernel_task_per_task && !models[1].kernel_task_per_task);
        let (program, args) = threads.command_line(Path::new("/bin"));
        assert_eq!(program, venv.join("bin/python"));
        assert_eq!(
            args,
            [scripts.join("python_threads.py").display().to_string()]
        );
        assert_eq!(
            threads.serve_command_line(Path::new("/bin")),
            (
                venv.join("bin/python"),
                vec![
                    scripts.join("serve_threads.py").display().to_string(),
                    "serve".into()
                ]
            )
        );
        let rust = Model {
            name: "threads".into(),
            kernel_task_per_task: true,
            command: None,
        };
        assert_eq!(
            rust.command_line(Path::new("/r")),
            ("/r/threads".into(), vec![])
        );
        assert_eq!(
            rust.serve_command_line(Path::new("/r")),
            ("/r/threads".into(), vec!["serve".into()])
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// A model's server: `<bin>/<name> serve` for a binary, the environment's python and
    /// `scripts/python/serve_<name less python->.py serve` for a Python model, `<path> serve` for one
    /// given by path; Little's law counts the workers of the five one-connection-per-worker
    /// models only.
    #[test]
    fn serve_command_lines_and_styles() {
        let rust = Model {
            name: "procs".into(),
            kernel_task_per_task: true,
            command: None,
        };
        assert_eq!(
            rust.serve_command_line(Path::new("/r")),
            ("/r/procs".into(), vec!["serve".to_string()])
        );
        let python = Model {
            name: "python-sync".into(),
            kernel_task_per_task: false,
            command: Some((
                "/v/bin/python".into(),
                vec!["/w/scripts/python/python_sync.py".into()],
            )),
        };
        assert_eq!(
            python.serve_command_line(Path::new("/r")),
            (
                "/v/bin/python".into(),
                vec![
                    "/w/scripts/python/serve_sync.py".to_string(),
                    "serve".to_string()
                ]
            )
        );
        let stand_in = Model::from_path(Path::new("/tmp/x/tokio-async"));
        assert_eq!(stand_in.name, "tokio-async");
        assert_eq!(
            stand_in.serve_command_line(Path::new("/r")),
            ("/tmp/x/tokio-async".into(), vec!["serve".to_string()])
        );
        let one: Vec<bool> = [
            "sync",
            "procs",
            "rayon",
            "threads",
            "tokio-async",
            "python-procs",
            "python-gevent",
        ]
        .iter()
        .map(|n| {
            Model {
                name: n.to_string(),
                ..rust.clone()
            }
            .serves_one_connection_per_worker()
        })
        .collect();
        assert_eq!(one, [true, true, true, false, false, true, false]);
        assert!(Model {
            name: "threads".into(),
            ..rust.clone()
        }
        .serves_a_thread_per_connection());
        assert!(!rust.serves_a_thread_per_connection());
    }

    #[test]
    fn python_models_are_compared_with_python_sync() {
        assert_eq!(baseline("threads"), "sync");
        assert_eq!(baseline("sync"), "sync");
        assert_eq!(baseline("python-threads"), "python-sync");
        assert_eq!(baseline("python-sync"), "python-sync");
    }

    #[test]
    fn a_dead_address_fails_within_the_timeout() {
        let started = Instant::now();
        let err = wait_health("127.0.0.1:1", Duration::from_millis(200)).unwrap_err();
        assert!(err.to_string().contains("did not answer /health"));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
