//! The peer comparison lives in `benches/peers.rs`; this library target is empty and exists so
//! the package has one. See `docs/benchmarks.md`, "JIT against other rule engines".
