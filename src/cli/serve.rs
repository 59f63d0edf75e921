//! `tailor serve`: the decision server.
//!
//! Configuration comes from defaults, then `--config FILE` (TOML), then `TAILOR_*` environment
//! variables, then `--listen` and `--data` (see `docs/runtime.md`). With `--demo` the server
//! starts with the demo tenant (`policies/`, the `examples/` catalog and profiles) unless the
//! data directory already holds it. The bound address is printed on stdout as
//! `listening on http://ADDR` (with `--listen 127.0.0.1:0` that is how a caller learns the
//! port); logs go to stderr, as JSON lines by default. SIGINT and SIGTERM stop it gracefully:
//! in-flight requests finish and the audit log is drained and flushed.

use super::Exit;
use anyhow::Context as _;
use clap::Args;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use tailor_runtime::demo::{self, DemoFiles, Seeded};
use tailor_runtime::{Config, Engine};

const EXAMPLES: &str = "\
Examples:
  tailor serve --demo                         the demo tenant on http://127.0.0.1:8080
  tailor serve --demo --listen 127.0.0.1:0    on a free port (printed on stdout)
  tailor serve --config tailor.toml --data /var/lib/tailor
  TAILOR_AUDIT_DURABILITY=sync tailor serve   one fsync per decision";

/// Arguments of `tailor serve`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct ServeArgs {
    /// Start with the demo tenant `demo` (policies, catalog, profiles) if the store lacks it.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The data directory (the sled store) [default: tailor-data].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the demo's policies are (with --demo).
    #[arg(long, value_name = "DIR", default_value = "policies")]
    pub policies: PathBuf,
}

/// Loads the configuration the way `serve` and `import` share.
pub fn load_config(file: Option<&Path>, data: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = Config::load(file, &|name| std::env::var(name).ok())?;
    if let Some(d) = data {
        config.data_dir = d.to_path_buf();
    }
    Ok(config)
}

/// Sets up logging for the server: JSON lines (or text) on stderr, filtered by the configured
/// level (`TAILOR_LOG`, or `RUST_LOG` when set).
pub fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    if config.log.format == "json" {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// Opens the engine with a helpful message when the store is locked by a running server.
pub fn open_engine(config: Config) -> anyhow::Result<std::sync::Arc<Engine>> {
    let dir = config.data_dir.display().to_string();
    Engine::open(config).with_context(|| {
        format!("opening the data directory `{dir}` (is another `tailor serve` using it? stop it, or use the HTTP ingestion endpoints)")
    })
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: &ServeArgs) -> anyhow::Result<Exit> {
    let mut config = load_config(args.config.as_deref(), args.data.as_deref())?;
    if let Some(l) = &args.listen {
        config.listen = l.clone();
    }
    init_logging(&config);
    let listen = config.listen.clone();
    let engine = open_engine(config)?;
    if args.demo {
        let files = DemoFiles {
            policies: args.policies.clone(),
            catalog: PathBuf::from("examples/catalog.json"),
            templates: Some(PathBuf::from("examples/http/templates.json")).filter(|p| p.exists()),
            profiles: PathBuf::from("examples/profiles.jsonl"),
        };
        match demo::seed(&engine, &files)
            .context("seeding the demo tenant (run `tailor serve --demo` from the repository root)")?
        {
            Seeded::Existing => tracing::info!("the demo tenant exists in the store; not reseeding"),
            Seeded::Created {
                version,
                offers,
                profiles,
                rejected,
            } => tracing::info!(version, offers, profiles, rejected, "seeded the demo tenant"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tailor-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
        tracing::info!(%addr, tenants = ?engine.registry.tenant_ids(), "serving");
        tailor_runtime::http::serve(engine, listener, shutdown_signal())
            .await
            .context("serving")?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(Exit::Success)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
