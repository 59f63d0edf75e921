//! The Tailor language server.
//!
//! `tailor lsp` serves the Language Server Protocol over stdio with [`serve_stdio`]. The server
//! ([`server`]) keeps the workspace's texts ([`workspace`]), analyzes them with the compiler's
//! `analyze` (never a parser or checker of its own) and answers each request from the latest
//! analysis, one module per feature. Only this crate knows LSP types; the compiler knows
//! nothing of editors.

pub mod code_actions;
pub mod code_lens;
pub mod completion;
pub mod diagnostics;
pub mod folding;
pub mod formatting;
pub mod hover;
pub mod navigation;
pub mod position;
pub mod query;
pub mod rename;
pub mod selection;
pub mod semantic_tokens;
pub mod server;
pub mod signature_help;
pub mod symbols;
pub mod transport;
pub mod workspace;

#[cfg(test)]
mod testing;

pub use server::Backend;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Serves the protocol on stdin and stdout until the client says `exit` or closes the stream.
///
/// Stdout is the protocol's channel: nothing else may write to it, so logs go to stderr.
pub fn serve_stdio() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Analysis runs on these threads; deeply nested expressions recurse deeply, and the
        // command line's main thread (8 MiB) is the budget the compiler is tested with.
        .thread_stack_size(8 * 1024 * 1024)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (service, socket) = server::service();
        // The library reads from a pipe that `transport::sanitize` fills with the valid frames
        // of stdin (see there for why).
        let (reader, writer) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            if let Err(err) = transport::sanitize(stdin, writer).await {
                tracing::warn!(%err, "reading stdin failed");
            }
        });
        tower_lsp_server::Server::new(reader, tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    // The stdin reader may still be blocked in a read: do not wait for it.
    runtime.shutdown_background();
    Ok(())
}
