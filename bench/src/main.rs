//! Natter's benchmark: the same load generator drives Natter (storing messages, its real
//! mode, and broadcast-only) and a Socket.io relay on this machine, in one run, and prints
//! a Markdown report of medians, tails and ratios. Timings are reported, never asserted.
//!
//! `cargo run --release -- [--quick] [--out FILE] [--repo DIR]`; `make bench` builds
//! everything first.

mod clients;
mod load;
mod record;
mod servers;
mod web;

use anyhow::{bail, Context, Result};
use clients::Proto;
use load::{RoomPlan, StepResult, World};
use std::path::PathBuf;
use std::time::Duration;

/// How big a run is. `--quick` is a smoke run that checks the benchmark itself works.
struct Scale {
    users: usize,
    typical: (usize, usize),
    typical_rate: f64,
    big: (usize, usize),
    big_rate: f64,
    warm_secs: f64,
    measure_secs: f64,
    ramp_rates: Vec<f64>,
    ramp_secs: f64,
    idle_users: usize,
    idle_conns_per_user: usize,
    page_requests: usize,
}

impl Scale {
    fn full() -> Scale {
        Scale {
            users: 1000,
            typical: (100, 50),
            typical_rate: 1000.0,
            big: (10, 1000),
            big_rate: 50.0,
            warm_secs: 3.0,
            measure_secs: 10.0,
            ramp_rates: vec![1000.0, 1500.0, 2000.0, 3000.0, 4000.0, 6000.0, 8000.0],
            ramp_secs: 5.0,
            idle_users: 1000,
            idle_conns_per_user: 10,
            page_requests: 1000,
        }
    }

    fn quick() -> Scale {
        Scale {
            users: 40,
            typical: (4, 10),
            typical_rate: 50.0,
            big: (2, 40),
            big_rate: 10.0,
            warm_secs: 0.5,
            measure_secs: 2.0,
            ramp_rates: vec![50.0, 100.0],
            ramp_secs: 1.0,
            idle_users: 20,
            idle_conns_per_user: 5,
            page_requests: 100,
        }
    }
}

struct Args {
    repo: PathBuf,
    quick: bool,
    out: Option<PathBuf>,
    /// Only these servers (natter, broadcast, socketio); all when empty.
    only: Vec<String>,
}

fn args() -> Result<Args> {
    let mut a = Args {
        repo: PathBuf::from(".."),
        quick: false,
        out: None,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--out" => a.out = Some(it.next().context("--out needs a file")?.into()),
            "--repo" => a.repo = it.next().context("--repo needs a directory")?.into(),
            "--only" => a.only.push(
                it.next()
                    .context("--only needs natter, broadcast or socketio")?,
            ),
            other => bail!(
                "unknown argument {other}; use --quick, --out FILE, --repo DIR, --only SERVER"
            ),
        }
    }
    a.repo = a.repo.canonicalize().context("--repo")?;
    Ok(a)
}

#[derive(Clone, Copy)]
enum Target {
    Natter,
    Broadcast,
    SocketIo,
}

impl Target {
    fn key(self) -> &'static str {
        match self {
            Target::Natter => "natter",
            Target::Broadcast => "broadcast",
            Target::SocketIo => "socketio",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Target::Natter => "Natter (stores every message)",
            Target::Broadcast => "Natter broadcast-only",
            Target::SocketIo => "Socket.io 4.8 (Node, no storage)",
        }
    }

    async fn start(self, repo: &std::path::Path) -> Result<servers::Server> {
        match self {
            Target::Natter => servers::start_natter(repo, true).await,
            Target::Broadcast => servers::start_natter(repo, false).await,
            Target::SocketIo => servers::start_socketio(repo).await,
        }
    }

    fn proto(self) -> Proto {
        match self {
            Target::SocketIo => Proto::SocketIo,
            _ => Proto::Natter,
        }
    }
}

const STEP_WARM: usize = 0;
const STEP_TYPICAL: usize = 1;
const STEP_BIG: usize = 2;
const STEP_RAMP: usize = 3;
/// Messages that make sure the timed conversation has a full page of history.
const STEP_FILL: usize = 31;

struct Outcome {
    target: Target,
    setup_secs: f64,
    connect_secs: f64,
    connections: usize,
    typical: StepResult,
    big: StepResult,
    ramp: Vec<StepResult>,
    pages: Vec<web::PageTimes>,
}

struct Idle {
    target: Target,
    connections: usize,
    connect_secs: f64,
    rss_before: u64,
    rss_after: u64,
}

fn log(line: &str) {
    eprintln!("[bench] {line}");
}

async fn run_target(target: Target, scale: &Scale, repo: &std::path::Path) -> Result<Outcome> {
    log(&format!("{}: starting", target.label()));
    let server = target.start(repo).await?;
    let plans = [
        RoomPlan {
            prefix: "typical",
            count: scale.typical.0,
            size: scale.typical.1,
        },
        RoomPlan {
            prefix: "big",
            count: scale.big.0,
            size: scale.big.1,
        },
    ];
    let world = World::build(server, target.proto(), scale.users, &plans, 1).await?;
    log(&format!(
        "{}: {} users and {} rooms in {:.1} s, {} connections in {:.1} s",
        target.label(),
        scale.users,
        world.rooms.len(),
        world.setup_secs,
        world.connections(),
        world.connect_secs
    ));
    let typical_rooms: Vec<usize> = (0..scale.typical.0).collect();
    let big_rooms: Vec<usize> = (scale.typical.0..scale.typical.0 + scale.big.0).collect();
    world
        .step(
            STEP_WARM,
            &typical_rooms,
            scale.typical_rate,
            scale.warm_secs,
        )
        .await?;
    let typical = world
        .step(
            STEP_TYPICAL,
            &typical_rooms,
            scale.typical_rate,
            scale.measure_secs,
        )
        .await?;
    log(&summary("typical", &typical));
    let big = world
        .step(STEP_BIG, &big_rooms, scale.big_rate, scale.measure_secs)
        .await?;
    log(&summary("big room", &big));
    let mut pages = Vec::new();
    if let (Target::Natter, Some(api)) = (target, world.api.as_ref()) {
        // A full page of history, whatever the scale.
        world.step(STEP_FILL, &[0], 100.0, 0.6).await?;
        let room = &world.rooms[0];
        let url = format!("{}/c/{}", world.server.base(), room.id);
        let cookie = world.accounts[room.members[0]].cookie.clone();
        for concurrency in [1, 50] {
            // The page as the server renders it (the shell: the conversation list and
            // the messages are loaded after hydration)...
            let (http, page, c) = (api.http.clone(), url.clone(), cookie.clone());
            let shell = web::timed_requests(
                "conversation page",
                move || http.get(&page).header("cookie", &c),
                |body| String::from_utf8_lossy(body).contains("class=\"chat\""),
                concurrency,
                scale.page_requests,
            );
            pages.push(shell.await?);
            // ...and the request that loads its newest 50 messages.
            let (http, c) = (api.http.clone(), cookie.clone());
            let (endpoint, form) = (
                format!("{}/api/messages", world.server.base()),
                format!("conversation_id={}", room.id),
            );
            let history = web::timed_requests(
                "its newest 50 messages",
                move || {
                    http.post(&endpoint)
                        .header("cookie", &c)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.clone())
                },
                |body| {
                    serde_json::from_slice::<Vec<serde_json::Value>>(body)
                        .is_ok_and(|m| m.len() == 50)
                },
                concurrency,
                scale.page_requests,
            );
            pages.push(history.await?);
            log(&format!("page and history at {concurrency} at once: done"));
        }
    }
    let mut ramp = Vec::new();
    for (i, &rate) in scale.ramp_rates.iter().enumerate() {
        let step = world
            .step(STEP_RAMP + i, &typical_rooms, rate, scale.ramp_secs)
            .await?;
        log(&summary(&format!("ramp {rate}/s"), &step));
        let kept_up = step.sustained(100.0);
        ramp.push(step);
        if !kept_up {
            break;
        }
        // Let a backlog clear before the next, higher step.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let outcome = Outcome {
        target,
        setup_secs: world.setup_secs,
        connect_secs: world.connect_secs,
        connections: world.connections(),
        typical,
        big,
        ramp,
        pages,
    };
    drop(world.close().await);
    Ok(outcome)
}

async fn run_idle(target: Target, scale: &Scale, repo: &std::path::Path) -> Result<Idle> {
    log(&format!("{}: idle connections", target.label()));
    let server = target.start(repo).await?;
    // Users and rooms first, so that the memory measured is the connections' own.
    let users = scale.idle_users;
    let plan = [RoomPlan {
        prefix: "idle",
        count: users / 10,
        size: 10,
    }];
    let mut world = World::build(server, target.proto(), users, &plan, 0).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_before, _) = world.server.memory_kib();
    world.connect(scale.idle_conns_per_user).await?;
    let connect_secs = world.connect_secs;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_after, _) = world.server.memory_kib();
    let idle = Idle {
        target,
        connections: world.connections(),
        connect_secs,
        rss_before,
        rss_after,
    };
    drop(world.close().await);
    Ok(idle)
}

fn summary(what: &str, s: &StepResult) -> String {
    format!(
        "{what}: {} sent at {:.0} msg/s, {:.0} deliveries/s, p50 {:.1} ms, p99 {:.1} ms, lost {}, out of order {}, errors {}{}",
        s.sent,
        s.send_rate,
        s.deliveries_per_sec(),
        s.ms(0.5),
        s.ms(0.99),
        s.lost(),
        s.out_of_order,
        s.errors,
        s.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let scale = if args.quick {
        Scale::quick()
    } else {
        Scale::full()
    };
    let sizes = web::client_sizes(&args.repo)?;
    let mut outcomes = Vec::new();
    let chosen = |t: &Target| args.only.is_empty() || args.only.iter().any(|o| o == t.key());
    for target in [Target::Natter, Target::Broadcast, Target::SocketIo]
        .into_iter()
        .filter(chosen)
    {
        outcomes.push(run_target(target, &scale, &args.repo).await?);
    }
    let mut idles = Vec::new();
    for target in [Target::Natter, Target::SocketIo]
        .into_iter()
        .filter(chosen)
    {
        idles.push(run_idle(target, &scale, &args.repo).await?);
    }
    let report = report::render(&args, &scale, &sizes, &outcomes, &idles);
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    // A run that lost or reordered anything is a failed run, whatever its speed.
    let broken: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            [("typical", &o.typical), ("big room", &o.big)].map(|(n, s)| (o.target, n, s))
        })
        .filter(|(_, _, s)| s.lost() > 0 || s.out_of_order > 0 || s.errors > 0 || s.dropped > 0)
        .map(|(t, n, s)| format!("{} {n}: {}", t.label(), summary(n, s)))
        .collect();
    if !broken.is_empty() {
        bail!(
            "messages were lost, refused or reordered:\n{}",
            broken.join("\n")
        );
    }
    Ok(())
}

mod report;
