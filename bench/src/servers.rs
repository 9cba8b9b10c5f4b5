//! The servers under test, started by the benchmark itself so that it can read their CPU
//! time and memory from /proc.

use anyhow::{bail, Context, Result};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub name: String,
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// User plus system CPU time the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid())).unwrap_or(0.0)
    }

    /// Resident memory now and at its peak, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the server printed, for an error report.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first: Natter closes its sockets and exits on it.
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// CPU seconds (user + system) from a /proc/<pid>/stat file.
pub fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no side effects.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) / ticks)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn scratch_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "natter-bench-{}-{name}-{}",
        std::process::id(),
        free_port()?
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Natter's release binary with a fresh database. `store_messages = false` is its
/// broadcast-only mode. Limits meant for people are lifted so that the load is not refused.
pub async fn start_natter(repo: &Path, store_messages: bool) -> Result<Server> {
    let binary = repo.join("target/release/natter");
    if !binary.exists() {
        bail!(
            "{} is missing: build it with `cargo leptos build --release`",
            binary.display()
        );
    }
    let port = free_port()?;
    let name = if store_messages {
        "natter"
    } else {
        "natter-broadcast"
    };
    let dir = scratch_dir(name)?;
    let mut command = Command::new(binary);
    command
        .current_dir(repo)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", repo.join("target/site"))
        .env("LEPTOS_SITE_PKG_DIR", "pkg")
        .env("LEPTOS_OUTPUT_NAME", "natter")
        .env("LEPTOS_ENV", "PROD")
        .env(
            "NATTER_DATABASE_URL",
            format!("sqlite://{}/natter.db", dir.display()),
        )
        .env("NATTER_DEMO_MODE", "false")
        // Recording metrics, as by default, on a port of its own.
        .env("NATTER_METRICS_ADDR", format!("127.0.0.1:{}", free_port()?))
        .env("NATTER_STORE_MESSAGES", store_messages.to_string())
        .env("NATTER_MESSAGES_PER_MINUTE", "100000")
        // The generator signs up every user from one address.
        .env("NATTER_SIGNUPS_PER_HOUR", "100000")
        .env("NATTER_MAX_CONNECTIONS_PER_USER", "1000")
        .env("NATTER_MAX_BODY_BYTES", "1048576")
        .env("RUST_LOG", "warn");
    spawn(name, command, port, dir, "/healthz").await
}

/// The Socket.io relay in bench/socketio (its dependencies installed with `npm ci`).
pub async fn start_socketio(repo: &Path) -> Result<Server> {
    let script = repo.join("bench/socketio/server.js");
    if !repo.join("bench/socketio/node_modules/socket.io").exists() {
        bail!("socket.io is not installed: run `npm ci` in bench/socketio");
    }
    let port = free_port()?;
    let mut command = Command::new("node");
    command
        .arg(script)
        .env("PORT", port.to_string())
        .env("NODE_ENV", "production");
    let health = "/socket.io/?EIO=4&transport=polling";
    spawn("socket.io", command, port, scratch_dir("socketio")?, health).await
}

/// Starts `command` with its output in `dir`/server.log and waits until `health` answers.
async fn spawn(
    name: &str,
    mut command: Command,
    port: u16,
    dir: PathBuf,
    health: &str,
) -> Result<Server> {
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let mut server = Server {
        name: name.to_string(),
        port,
        child,
        dir,
    };
    wait_until_up(&mut server, health).await?;
    Ok(server)
}

async fn wait_until_up(server: &mut Server, path: &str) -> Result<()> {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.base());
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if !server.is_running() {
            bail!("{} exited at start:\n{}", server.name, server.log_tail());
        }
        if let Ok(r) = client.get(&url).send().await {
            // The Socket.io relay refuses polling (websocket only) but answers.
            if r.status().is_success() || r.status().as_u16() == 400 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{} did not come up:\n{}", server.name, server.log_tail())
}
