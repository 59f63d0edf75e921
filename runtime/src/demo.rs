//! The demo tenant that `tailor serve --demo` starts with: the policies under `policies/`, the
//! `examples/` catalog and profiles, and `marketing` consent for every demo customer with an
//! e-mail address on file, so a new user's first request gets a real decision.
//!
//! Seeding happens only when the tenant does not exist yet: after the first start the store
//! holds the tenant like any other (deploys, rollbacks and ingested data survive restarts and
//! are never overwritten by the files).

use crate::catalog::{parse_catalog, parse_templates, CatalogDoc, CatalogFormat};
use crate::engine::{ConsentRow, Engine, ProfileRow};
use crate::registry::DeployRequest;
use std::path::{Path, PathBuf};
use tailor_compiler::bundle::BundleSource;

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo";

/// Where the demo's files are.
#[derive(Debug, Clone)]
pub struct DemoFiles {
    /// A directory searched recursively for `*.policy`.
    pub policies: PathBuf,
    /// An array of offers, or a `{offers, templates}` document (JSON, or YAML for `.yaml`/`.yml`).
    pub catalog: PathBuf,
    /// Templates (`{"offer id": "template"}`), optional.
    pub templates: Option<PathBuf>,
    /// JSON lines of `{"id", "profile"}`.
    pub profiles: PathBuf,
}

/// Why the demo could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("no `.policy` files under `{0}`")]
    NoPolicies(String),
    #[error("deploying the demo policies failed: {0}")]
    Deploy(String),
}

/// What seeding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeded {
    /// The tenant already existed; nothing was touched.
    Existing,
    /// The tenant was created.
    Created {
        version: u64,
        offers: usize,
        profiles: usize,
        rejected: usize,
    },
}

fn read(path: &Path) -> Result<String, DemoError> {
    std::fs::read_to_string(path).map_err(|e| DemoError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Every `*.policy` file under `dir`, sorted by path, named by their path as given.
pub fn policy_sources(dir: &Path) -> Result<Vec<BundleSource>, DemoError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DemoError> {
        let entries = std::fs::read_dir(dir).map_err(|e| DemoError::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let hidden = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "policy") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths)?;
    if paths.is_empty() {
        return Err(DemoError::NoPolicies(dir.display().to_string()));
    }
    paths
        .into_iter()
        .map(|p| {
            Ok(BundleSource {
                name: p.display().to_string(),
                text: read(&p)?,
            })
        })
        .collect()
}

/// Reads a catalog file: an array of offers or a `{offers, templates}` document, in JSON, or in
/// YAML when the file ends in `.yaml` or `.yml` (the same for the templates file).
pub fn read_catalog(path: &Path, templates: Option<&Path>) -> Result<CatalogDoc, DemoError> {
    let text = read(path)?;
    let mut doc = parse_catalog(&text, CatalogFormat::from_path(path)).map_err(|e| DemoError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    if let Some(t) = templates {
        let extra = parse_templates(&read(t)?, CatalogFormat::from_path(t)).map_err(|e| DemoError::Read {
            path: t.display().to_string(),
            message: e.to_string(),
        })?;
        doc.templates.extend(extra);
    }
    Ok(doc)
}

/// Creates the demo tenant unless it exists.
pub fn seed(engine: &Engine, files: &DemoFiles) -> Result<Seeded, DemoError> {
    if engine.registry.tenant(DEMO_TENANT).is_some() {
        return Ok(Seeded::Existing);
    }
    let sources = policy_sources(&files.policies)?;
    let catalog = read_catalog(&files.catalog, files.templates.as_deref())?;
    let offers = catalog.offers.len();
    let deployed = engine
        .registry
        .deploy(DeployRequest {
            tenant: DEMO_TENANT.into(),
            sources,
            author: "tailor serve --demo".into(),
            message: "the demo tenant's policies".into(),
            catalog: Some(catalog),
        })
        .map_err(|e| DemoError::Deploy(e.to_string()))?;
    let (mut profiles, mut rejected) = (0, 0);
    for (i, line) in read(&files.profiles)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: ProfileRow = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(line = i + 1, error = %e, "skipping a demo profile");
                rejected += 1;
                continue;
            }
        };
        let has_email = row.profile.get("email_domain").is_some_and(|d| !d.is_null());
        let id = row.id.clone();
        match engine.ingest_profile(DEMO_TENANT, row) {
            Ok(()) => profiles += 1,
            Err(e) => {
                tracing::warn!(line = i + 1, error = %e, "skipping a demo profile");
                rejected += 1;
                continue;
            }
        }
        if has_email {
            let consent = ConsentRow {
                tenant_id: None,
                subject_id: id,
                purpose: "marketing".into(),
                channel: None,
                granted: true,
                at: Some("2026-01-01T00:00:00Z".into()),
                source: "demo-seed".into(),
            };
            if let Err(e) = engine.ingest_consent(DEMO_TENANT, consent) {
                tracing::warn!(line = i + 1, error = %e, "cannot seed consent");
            }
        }
    }
    if let Err(e) = engine.store.flush() {
        tracing::warn!(error = %e, "flushing the demo data failed");
    }
    Ok(Seeded::Created {
        version: deployed.meta.version,
        offers,
        profiles,
        rejected,
    })
}
