//! A world to put load on (users, rooms, one open connection per user) and the steps that
//! send through it at a set rate.

use crate::clients::{self, Account, Conn, NatterApi, Proto};
use crate::record::Recorder;
use crate::servers::{cpu_seconds_of, Server};
use anyhow::{bail, Context, Result};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// Sends in flight at once (HTTP requests for Natter).
const MAX_IN_FLIGHT: u32 = 256;

pub struct Room {
    pub id: String,
    /// Indexes into the world's users.
    pub members: Vec<usize>,
}

pub struct World {
    pub server: Server,
    pub proto: Proto,
    pub api: Option<NatterApi>,
    pub accounts: Vec<Account>,
    pub rooms: Vec<Room>,
    /// Per user, their connections (the first one sends for Socket.io).
    pub conns: Vec<Vec<Conn>>,
    pub recorder: Arc<Recorder>,
    stop: watch::Sender<bool>,
    next_msg: AtomicU64,
    pub setup_secs: f64,
    pub connect_secs: f64,
}

/// Which users are in which rooms: `count` rooms of `size`, members spread over the users.
pub struct RoomPlan {
    pub prefix: &'static str,
    pub count: usize,
    pub size: usize,
}

impl RoomPlan {
    fn members(&self, room: usize, users: usize) -> Vec<usize> {
        let size = self.size.min(users);
        let mut m: Vec<usize> = (0..size).map(|j| (room * size + j) % users).collect();
        m.sort_unstable();
        m.dedup();
        m
    }
}

pub fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat").unwrap_or(0.0)
}

impl World {
    /// Signs up `users`, creates the rooms, and opens `conns_per_user` connections per
    /// user, each subscribed to all that user's rooms.
    pub async fn build(
        server: Server,
        proto: Proto,
        users: usize,
        plans: &[RoomPlan],
        conns_per_user: usize,
    ) -> Result<World> {
        let t0 = Instant::now();
        let run = std::process::id();
        let (api, accounts, rooms) = match proto {
            Proto::Natter => {
                let api = NatterApi::new(server.base())?;
                let accounts: Vec<Account> = stream::iter(0..users)
                    .map(|i| {
                        let api = api.clone();
                        async move { api.signup(&format!("u{run}x{i}")).await }
                    })
                    .buffered(4)
                    .try_collect()
                    .await
                    .context("signing up")?;
                let mut rooms = Vec::new();
                for plan in plans {
                    let made: Vec<Room> = stream::iter(0..plan.count)
                        .map(|r| {
                            let (api, accounts) = (api.clone(), &accounts);
                            let members = plan.members(r, users);
                            async move {
                                let ids: Vec<&str> = members[1..]
                                    .iter()
                                    .map(|&u| accounts[u].id.as_str())
                                    .collect();
                                let title = format!("{} {r}", plan.prefix);
                                let id = api
                                    .create_group(&accounts[members[0]], &title, &ids)
                                    .await?;
                                anyhow::Ok(Room { id, members })
                            }
                        })
                        .buffered(2)
                        .try_collect()
                        .await
                        .context("creating rooms")?;
                    rooms.extend(made);
                }
                (Some(api), accounts, rooms)
            }
            Proto::SocketIo => {
                let mut rooms = Vec::new();
                for plan in plans {
                    for r in 0..plan.count {
                        rooms.push(Room {
                            id: format!("{}-{r}", plan.prefix),
                            members: plan.members(r, users),
                        });
                    }
                }
                (None, Vec::new(), rooms)
            }
        };
        let (stop, _) = watch::channel(false);
        let mut world = World {
            server,
            proto,
            api,
            accounts,
            rooms,
            conns: (0..users).map(|_| Vec::new()).collect(),
            recorder: Arc::new(Recorder::new()),
            stop,
            next_msg: AtomicU64::new(0),
            setup_secs: t0.elapsed().as_secs_f64(),
            connect_secs: 0.0,
        };
        world.connect(conns_per_user).await?;
        Ok(world)
    }

    /// Opens `per_user` more connections for every user, each subscribed to all that
    /// user's rooms, 64 handshakes at a time.
    pub async fn connect(&mut self, per_user: usize) -> Result<()> {
        let users = self.conns.len();
        let mut of_user: Vec<Vec<String>> = vec![Vec::new(); users];
        for room in &self.rooms {
            for &u in &room.members {
                of_user[u].push(room.id.clone());
            }
        }
        let t1 = Instant::now();
        let (port, proto) = (self.server.port, self.proto);
        let opened: Vec<(usize, Conn)> =
            stream::iter((0..users).flat_map(|u| (0..per_user).map(move |_| u)))
                .map(|u| {
                    let cookie = self.accounts.get(u).map(|a| a.cookie.clone());
                    let rooms = &of_user[u];
                    let (recorder, stop_rx) = (self.recorder.clone(), self.stop.subscribe());
                    async move {
                        let conn =
                            clients::open(proto, port, cookie.as_deref(), rooms, recorder, stop_rx)
                                .await
                                .with_context(|| format!("opening a connection for user {u}"))?;
                        anyhow::Ok((u, conn))
                    }
                })
                .buffer_unordered(64)
                .try_collect()
                .await?;
        self.connect_secs = t1.elapsed().as_secs_f64();
        for (u, c) in opened {
            self.conns[u].push(c);
        }
        Ok(())
    }

    pub fn connections(&self) -> usize {
        self.conns.iter().map(Vec::len).sum()
    }

    /// Closes every connection (and then the server, when the world is dropped).
    pub async fn close(self) -> Server {
        let _ = self.stop.send(true);
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.server
    }

    /// Sends `rate` messages a second for `secs` into `rooms` (round robin, each from the
    /// next member in turn), then waits until every delivery arrived or none came for 5 s.
    pub async fn step(
        &self,
        step: usize,
        rooms: &[usize],
        rate: f64,
        secs: f64,
    ) -> Result<StepResult> {
        if !self.server_running() {
            bail!(
                "{} is not running:\n{}",
                self.server.name,
                self.server.log_tail()
            );
        }
        let rec = self.recorder.clone();
        let count = (rate * secs).round() as u64;
        let expected = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let first_error: Arc<Mutex<Option<String>>> = Arc::default();
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize));
        let (cpu0, own0, t0) = (self.server.cpu_seconds(), own_cpu_seconds(), Instant::now());
        let start_us = rec.now_us() + 1000;
        for i in 0..count {
            let due = start_us + (i as f64 * 1_000_000.0 / rate) as u64;
            let now = rec.now_us();
            if due > now + 500 {
                tokio::time::sleep(Duration::from_micros(due - now)).await;
            }
            let room = &self.rooms[rooms[i as usize % rooms.len()]];
            let turn = (i as usize / rooms.len()) % room.members.len();
            let sender = room.members[turn];
            let receivers = room
                .members
                .iter()
                .map(|&u| self.conns[u].len() as u64)
                .sum::<u64>();
            let body = Recorder::body(step, due);
            match self.proto {
                Proto::Natter => {
                    let Some(api) = self.api.clone() else {
                        bail!("no Natter client")
                    };
                    let permit = in_flight.clone().acquire_owned().await?;
                    let account = self.accounts[sender].clone();
                    let (conv, id) = (
                        room.id.clone(),
                        format!("m{}", self.next_msg.fetch_add(1, Ordering::Relaxed)),
                    );
                    let (expected, errors, first_error) =
                        (expected.clone(), errors.clone(), first_error.clone());
                    tokio::spawn(async move {
                        match api.send(&account, &conv, &id, &body).await {
                            Ok(()) => {
                                expected.fetch_add(receivers, Ordering::Relaxed);
                            }
                            Err(e) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                                if let Ok(mut f) = first_error.lock() {
                                    f.get_or_insert(e.to_string());
                                }
                            }
                        }
                        drop(permit);
                    });
                }
                Proto::SocketIo => {
                    let frame = serde_json::json!(["send", {"room": room.id, "body": body}]);
                    if self.conns[sender][0].out.send(format!("42{frame}")).is_ok() {
                        expected.fetch_add(receivers, Ordering::Relaxed);
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        let send_secs = t0.elapsed().as_secs_f64();
        let _all = in_flight.acquire_many(MAX_IN_FLIGHT).await?;
        let record = rec.step(step);
        let mut last = (record.delivered.load(Ordering::Relaxed), Instant::now());
        loop {
            let got = record.delivered.load(Ordering::Relaxed);
            if got >= expected.load(Ordering::Relaxed) {
                break;
            }
            if got != last.0 {
                last = (got, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(5) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let wall = t0.elapsed().as_secs_f64();
        let delivered = record.delivered.load(Ordering::Relaxed);
        let (rss_kib, _) = self.server.memory_kib();
        let first_error = first_error.lock().ok().and_then(|f| f.clone());
        Ok(StepResult {
            rate,
            sent: count,
            send_rate: count as f64 / send_secs,
            errors: errors.load(Ordering::Relaxed),
            first_error,
            expected: expected.load(Ordering::Relaxed),
            delivered,
            out_of_order: record.out_of_order.load(Ordering::Relaxed),
            dropped: rec.dropped.load(Ordering::Relaxed),
            latency_us: rec.histogram(step),
            wall_secs: wall,
            server_cpu: self.server.cpu_seconds() - cpu0,
            generator_cpu: own_cpu_seconds() - own0,
            rss_kib,
        })
    }

    fn server_running(&self) -> bool {
        std::fs::metadata(format!("/proc/{}", self.server.pid())).is_ok()
    }
}

pub struct StepResult {
    pub rate: f64,
    pub sent: u64,
    pub send_rate: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub expected: u64,
    pub delivered: u64,
    pub out_of_order: u64,
    pub dropped: u64,
    pub latency_us: hdrhistogram::Histogram<u64>,
    pub wall_secs: f64,
    pub server_cpu: f64,
    pub generator_cpu: f64,
    pub rss_kib: u64,
}

impl StepResult {
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.delivered)
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn deliveries_per_sec(&self) -> f64 {
        self.delivered as f64 / self.wall_secs
    }

    pub fn per_core_second(&self) -> f64 {
        self.delivered as f64 / self.server_cpu.max(0.001)
    }

    /// Kept up: every message accepted and delivered once, in order, at the rate asked.
    pub fn sustained(&self, p99_ms: f64) -> bool {
        self.errors == 0
            && self.lost() == 0
            && self.out_of_order == 0
            && self.dropped == 0
            && self.send_rate >= 0.95 * self.rate
            && self.ms(0.99) <= p99_ms
    }
}
