//! How fast sled gives back a stopped server's audit log, with nothing parsed: the floor under
//! any replay of records kept in sled (docs/benchmarks.md, "Replay of the audit log").
//!
//! ```sh
//! cargo run --release -p tailor-runtime --example audit_scan -- DATA_DIR
//! ```
//!
//! Reads the audit tree in pages of 8,192 records, as `tailor replay` does, on one thread.

use tailor_runtime::store::sled::SledStore;
use tailor_runtime::store::{pages, Tree};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: audit_scan DATA_DIR")?;
    let started = std::time::Instant::now();
    // The page cache `tailor replay` opens the store with.
    let store = SledStore::open_with_cache(std::path::Path::new(&dir), None, 64 << 20)?;
    let opened = started.elapsed();
    const PAGE: usize = 8192;
    let (mut records, mut bytes) = (0usize, 0usize);
    for page in pages(&store, Tree::Audit, b"", PAGE) {
        let page = page?;
        records += page.len();
        bytes += page.iter().map(|(_, v)| v.len()).sum::<usize>();
    }
    let scanned = started.elapsed() - opened;
    println!(
        "opened in {:.3} s; {records} records ({bytes} bytes) in {:.3} s: {:.0} records/s",
        opened.as_secs_f64(),
        scanned.as_secs_f64(),
        records as f64 / scanned.as_secs_f64().max(1e-9)
    );
    Ok(())
}
