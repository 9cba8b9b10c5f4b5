//! What every receiving connection records: send-to-receive latency, deliveries and order,
//! per step of a scenario (the step is written into each message body).

use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub const MAX_STEPS: usize = 32;

pub struct Recorder {
    epoch: Instant,
    steps: Vec<StepRecord>,
    /// Connections that closed while they should have stayed open.
    pub dropped: AtomicU64,
    pub first_drop: Mutex<Option<String>>,
}

pub struct StepRecord {
    latency_us: Mutex<Histogram<u64>>,
    pub delivered: AtomicU64,
    /// A message whose seq was not the one after the last seen in its conversation.
    pub out_of_order: AtomicU64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            epoch: Instant::now(),
            steps: (0..MAX_STEPS)
                .map(|_| StepRecord {
                    latency_us: Mutex::new(new_histogram()),
                    delivered: AtomicU64::new(0),
                    out_of_order: AtomicU64::new(0),
                })
                .collect(),
            dropped: AtomicU64::new(0),
            first_drop: Mutex::new(None),
        }
    }

    /// Microseconds since the recorder was made: the clock message bodies carry.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn step(&self, step: usize) -> &StepRecord {
        &self.steps[step.min(MAX_STEPS - 1)]
    }

    /// A message body: its step and the time it was due to be sent, then ordinary text.
    pub fn body(step: usize, due_us: u64) -> String {
        format!("{step}:{due_us} Lorem ipsum dolor sit amet, consectetur adipiscing elit.")
    }

    /// Records one delivery of a message body; `in_order` says whether its seq followed on.
    pub fn delivered(&self, body: &str, in_order: bool) {
        let Some((step, due)) = body
            .split_once(' ')
            .and_then(|(head, _)| head.split_once(':'))
        else {
            return;
        };
        let (Ok(step), Ok(due)) = (step.parse::<usize>(), due.parse::<u64>()) else {
            return;
        };
        let now = self.now_us();
        let rec = self.step(step);
        rec.delivered.fetch_add(1, Ordering::Relaxed);
        if !in_order {
            rec.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
        let latency = now.saturating_sub(due).max(1);
        if let Ok(mut h) = rec.latency_us.lock() {
            let high = h.high();
            let _ = h.record(latency.min(high));
        }
    }

    pub fn dropped(&self, why: String) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_drop.lock() {
            first.get_or_insert(why);
        }
    }

    pub fn histogram(&self, step: usize) -> Histogram<u64> {
        self.step(step)
            .latency_us
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| new_histogram())
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}
