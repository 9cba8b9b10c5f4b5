//! Web figures: the release client's download sizes, and server-rendering time to first byte.

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub struct Size {
    pub file: String,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Raw, gzip -9 and brotli -11 sizes of the release client's files.
pub fn client_sizes(repo: &Path) -> Result<Vec<Size>> {
    let pkg = repo.join("target/site/pkg");
    ["natter.wasm", "natter.js", "natter.css"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(pkg.join(name)).with_context(|| format!("reading {name}"))?;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(&bytes)?;
            let gzip = gz.finish()?.len();
            let mut br = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
                w.write_all(&bytes)?;
            }
            Ok(Size {
                file: name.to_string(),
                raw: bytes.len(),
                gzip,
                brotli: br.len(),
            })
        })
        .collect()
}

pub struct PageTimes {
    pub what: &'static str,
    pub concurrency: usize,
    pub requests: usize,
    pub first_byte_us: Histogram<u64>,
    pub whole_us: Histogram<u64>,
}

/// Sends `requests` requests made by `request`, `concurrency` at once; times the first
/// byte (the status line and headers) and the whole answer, which `check` must accept.
pub async fn timed_requests(
    what: &'static str,
    request: impl Fn() -> reqwest::RequestBuilder + Clone + Send + 'static,
    check: fn(&[u8]) -> bool,
    concurrency: usize,
    requests: usize,
) -> Result<PageTimes> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (request, next) = (request.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut first = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            let mut whole = first.clone();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let t0 = Instant::now();
                let resp = request().send().await?;
                let t1 = t0.elapsed();
                let status = resp.status();
                let body = resp.bytes().await?;
                let t2 = t0.elapsed();
                anyhow::ensure!(status.is_success(), "{what}: {status}");
                anyhow::ensure!(check(&body), "{what}: unexpected answer");
                first.record(t1.as_micros().max(1) as u64)?;
                whole.record(t2.as_micros().max(1) as u64)?;
            }
            anyhow::Ok((first, whole))
        }));
    }
    let mut first_byte_us = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut whole_us = first_byte_us.clone();
    for w in workers {
        let (f, h) = w.await??;
        first_byte_us.add(&f)?;
        whole_us.add(&h)?;
    }
    Ok(PageTimes {
        what,
        concurrency,
        requests,
        first_byte_us,
        whole_us,
    })
}
