//! Finding the model binaries, and waiting for the fixture server.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
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
    let metadata: Metadata =
        serde_json::from_slice(&output.stdout).context("cannot read cargo metadata")?;
    Ok(model_binaries(&metadata))
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
    use super::*;

    #[test]
    fn models_are_the_bins_under_crates_models_sync_first() {
        let json = r#"{"packages": [
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

    /// `benchkit models` on this workspace: exactly the eight models, sync (the baseline)
    /// first, then by name; no other binary (fixture-server, benchkit) among them.
    #[test]
    fn this_workspace_has_exactly_the_eight_models() {
        assert_eq!(
            discover().unwrap(),
            [
                "sync",
                "async-std-async",
                "green",
                "procs",
                "rayon",
                "smol-async",
                "threads",
                "tokio-async"
            ]
        );
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
