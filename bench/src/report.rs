//! The Markdown report: the tables the README quotes.

use crate::load::StepResult;
use crate::web::{PageTimes, Size};
use crate::{Args, Idle, Outcome, Scale, Target};
use std::fmt::Write as _;

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB, Linux {}; the load generator runs on the same machine",
        kernel.trim()
    )
}

fn kb(bytes: usize) -> String {
    format!("{:.0} KB", bytes as f64 / 1000.0)
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

fn step_row(name: &str, s: &StepResult) -> String {
    format!(
        "| {name} | {:.0} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} | {:.0} | {} / {} / {} | {:.0} MB | {:.2} |",
        s.send_rate,
        s.deliveries_per_sec(),
        s.ms(0.5),
        s.ms(0.99),
        s.ms(0.999),
        s.server_cpu / s.wall_secs,
        s.per_core_second(),
        s.lost(),
        s.out_of_order,
        s.errors,
        s.rss_kib as f64 / 1024.0,
        s.generator_cpu / s.wall_secs,
    )
}

/// A section with one row per server for the same step.
fn step_table(
    r: &mut String,
    title: &str,
    outcomes: &[Outcome],
    step: fn(&Outcome) -> &StepResult,
) {
    let _ = writeln!(r, "### {title}\n\n{STEP_HEADER}");
    for o in outcomes {
        let _ = writeln!(r, "{}", step_row(o.target.label(), step(o)));
    }
    let _ = writeln!(r);
}

const STEP_HEADER: &str = "| server | messages/s in | deliveries/s | p50 | p99 | p99.9 | server cores busy | deliveries per server-core-second | lost / out of order / refused | server memory | generator cores busy |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "n/a".into()
    }
}

pub fn render(
    args: &Args,
    scale: &Scale,
    sizes: &[Size],
    outcomes: &[Outcome],
    idles: &[Idle],
) -> String {
    let mut r = String::new();
    let by = |t: fn(&Target) -> bool| outcomes.iter().find(|o| t(&o.target));
    let natter = by(|t| matches!(t, Target::Natter));
    let broadcast = by(|t| matches!(t, Target::Broadcast));
    let sio = by(|t| matches!(t, Target::SocketIo));
    let _ = writeln!(
        r,
        "## Benchmark results{}\n",
        if args.quick {
            " (quick smoke run: not for comparison)"
        } else {
            ""
        }
    );
    let _ = writeln!(r, "Machine: {}.\n", machine());
    let _ = writeln!(
        r,
        "Latency is from the moment a message was due to be sent to its arrival at each receiving socket \
         (so a sender that falls behind shows up as latency), over every delivery. Natter's send is the real \
         path: an HTTP server-function call, the database commit (SQLite, `synchronous = FULL`), then the fan-out \
         over WebSockets. Socket.io's send is an emit on the sender's socket.\n"
    );

    let title = format!(
        "Typical: {} conversations x {} members, {:.0} messages/s for {:.0} s",
        scale.typical.0, scale.typical.1, scale.typical_rate, scale.measure_secs
    );
    step_table(&mut r, &title, outcomes, |o| &o.typical);
    if let (Some(n), Some(b), Some(s)) = (natter, broadcast, sio) {
        let _ = writeln!(
            r,
            "Deliveries per server-core-second against Socket.io: broadcast-only {} (p99 {:.1} ms vs {:.1} ms), storing every message {} (p99 {:.1} ms).\n",
            ratio(b.typical.per_core_second(), s.typical.per_core_second()),
            b.typical.ms(0.99),
            s.typical.ms(0.99),
            ratio(n.typical.per_core_second(), s.typical.per_core_second()),
            n.typical.ms(0.99),
        );
    }

    let title = format!(
        "Big rooms: {} conversations x {} members, {:.0} messages/s for {:.0} s",
        scale.big.0, scale.big.1, scale.big_rate, scale.measure_secs
    );
    step_table(&mut r, &title, outcomes, |o| &o.big);
    if let (Some(b), Some(s)) = (broadcast, sio) {
        let _ = writeln!(
            r,
            "Broadcast-only against Socket.io, deliveries per server-core-second: {}.\n",
            ratio(b.big.per_core_second(), s.big.per_core_second())
        );
    }

    let _ = writeln!(r, "### Ramp: the typical rooms, {:.0} s per step, until p99 passes 100 ms or anything is lost or refused\n", scale.ramp_secs);
    let _ = writeln!(r, "| server | highest sustained messages/s | deliveries/s there | p99 there | first step not sustained |\n|---|---:|---:|---:|---|");
    for o in outcomes {
        let best = o.ramp.iter().rev().find(|s| s.sustained(100.0));
        let failed = o.ramp.iter().find(|s| !s.sustained(100.0));
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {} |",
            o.target.label(),
            best.map(|s| format!("{:.0}", s.rate))
                .unwrap_or_else(|| "below the first step".into()),
            best.map(|s| format!("{:.0}", s.deliveries_per_sec()))
                .unwrap_or_default(),
            best.map(|s| format!("{:.1} ms", s.ms(0.99)))
                .unwrap_or_default(),
            failed
                .map(|s| format!(
                    "{:.0}/s: sent {:.0}/s, p99 {:.1} ms, lost {}, refused {}",
                    s.rate,
                    s.send_rate,
                    s.ms(0.99),
                    s.lost(),
                    s.errors
                ))
                .unwrap_or_else(|| "none (the last step was sustained)".into()),
        );
    }

    let _ = writeln!(r, "\n### Idle connections\n");
    let _ = writeln!(r, "| server | connections | opened per second | server memory per connection | server memory with all open |\n|---|---:|---:|---:|---:|");
    for i in idles {
        let per = (i.rss_after.saturating_sub(i.rss_before)) as f64 * 1024.0
            / i.connections.max(1) as f64;
        let _ = writeln!(
            r,
            "| {} | {} | {:.0} | {:.1} KB | {:.0} MB |",
            i.target.label(),
            i.connections,
            i.connections as f64 / i.connect_secs.max(0.001),
            per / 1000.0,
            i.rss_after as f64 / 1024.0
        );
    }
    let _ = writeln!(r, "\nEach Natter connection is a signed-in tab: the handshake checks the session in the database, then the tab subscribes to its conversation.\n");

    let _ = writeln!(r, "### Web client (release build)\n");
    let _ = writeln!(
        r,
        "| file | raw | gzip -9 | brotli -11 |\n|---|---:|---:|---:|"
    );
    for s in sizes {
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} |",
            s.file,
            kb(s.raw),
            kb(s.gzip),
            kb(s.brotli)
        );
    }
    let code: Vec<&Size> = sizes.iter().filter(|s| s.file != "natter.css").collect();
    let _ = writeln!(
        r,
        "| WASM + JS | {} | {} | {} |\n",
        kb(code.iter().map(|s| s.raw).sum()),
        kb(code.iter().map(|s| s.gzip).sum()),
        kb(code.iter().map(|s| s.brotli).sum())
    );
    if let Some(n) = natter {
        let _ = writeln!(r, "### Opening a conversation with 50 messages or more\n");
        let _ = writeln!(r, "The server renders the page's shell; the conversation list and the newest 50 messages come with the requests the page makes once it runs.\n");
        let _ = writeln!(r, "| request | at once | requests | first byte p50 | first byte p99 | whole answer p50 | whole answer p99 |\n|---|---:|---:|---:|---:|---:|---:|");
        for p in &n.pages {
            page_row(&mut r, p);
        }
        let _ = writeln!(r);
    }
    let _ = writeln!(r, "### Set-up\n");
    for o in outcomes {
        let _ = writeln!(
            r,
            "- {}: {} users and their rooms in {:.1} s; {} connections opened and subscribed in {:.1} s.",
            o.target.label(),
            scale.users,
            o.setup_secs,
            o.connections,
            o.connect_secs
        );
    }
    r
}

fn page_row(r: &mut String, p: &PageTimes) {
    let _ = writeln!(
        r,
        "| {} | {} | {} | {} | {} | {} | {} |",
        p.what,
        p.concurrency,
        p.requests,
        ms(p.first_byte_us.value_at_quantile(0.5)),
        ms(p.first_byte_us.value_at_quantile(0.99)),
        ms(p.whole_us.value_at_quantile(0.5)),
        ms(p.whole_us.value_at_quantile(0.99)),
    );
}
