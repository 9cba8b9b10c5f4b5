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
    pub concurrency: usize,
    pub requests: usize,
    pub first_byte_us: Histogram<u64>,
    pub whole_us: Histogram<u64>,
}

/// GETs `url` `requests` times, `concurrency` at once, and times the first byte (the
/// status line and headers) and the whole page.
pub async fn page_times(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    concurrency: usize,
    requests: usize,
) -> Result<PageTimes> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, url, cookie, next) = (
            http.clone(),
            url.to_string(),
            cookie.to_string(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut first = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
            let mut whole = first.clone();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let t0 = Instant::now();
                let resp = http.get(&url).header("cookie", &cookie).send().await?;
                let t1 = t0.elapsed();
                let status = resp.status();
                let body = resp.bytes().await?;
                let t2 = t0.elapsed();
                anyhow::ensure!(status.is_success(), "GET {url}: {status}");
                // The page must be the conversation with its messages, not a login redirect.
                anyhow::ensure!(
                    String::from_utf8_lossy(&body).contains("Lorem ipsum"),
                    "GET {url}: the page does not show the messages"
                );
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
        concurrency,
        requests,
        first_byte_us,
        whole_us,
    })
}
