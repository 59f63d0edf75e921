//! The policy registry: versioned bundles per tenant, and the live state each tenant serves.
//!
//! Every deploy is a new version: a tenant-local sequence number plus the content hash of the
//! sources, with author, message and time, kept in [`Tree::Bundles`] with its sources so any
//! version can be shown, diffed and rolled back to. A deploy validates, compiles, runs the
//! bundle's own tests and prepares the tenant's catalog against the new schemas; only when all
//! of that passes is the version stored and swapped in. A failure changes nothing.
//!
//! What a tenant serves is one immutable [`Live`] value behind an [`ArcSwap`]: the bundle, its
//! prepared catalog and the facts the decide path needs. A request loads the `Arc` once at its
//! start, so it finishes on the bundle it started with however many swaps happen meanwhile, and
//! a swap is a single pointer store: no request ever sees half a bundle.

use crate::catalog::{self, CatalogDoc, LoadedCatalog};
use crate::store::{decode, encode, key, SharedStore, StoreError, Tree};
use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tailor_compiler::bundle::BundleSource;
use tailor_compiler::diagnostics::render::{render_json, render_terminal};
use tailor_compiler::{Backend, Bundle, BundleError, CompileOptions, SourceMap};

/// A tenant loaded at startup, and the version it serves (or why it could not be loaded).
pub type Loaded = (String, Result<u64, DeployError>);

/// The facts of one bundle version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub tenant_id: String,
    /// The tenant's deploy sequence number, from 1.
    pub version: u64,
    /// SHA-256 of the canonical sources.
    pub hash: String,
    pub author: String,
    pub message: String,
    pub created_at_ms: i64,
    pub files: usize,
    pub tests_passed: usize,
}

/// A stored version: its facts and its sources.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBundle {
    pub meta: BundleMeta,
    pub sources: Vec<BundleSource>,
}

/// An entry of a tenant's deploy history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployEvent {
    pub at_ms: i64,
    /// `deploy`, `rollback` or `catalog`.
    pub action: String,
    pub version: u64,
    pub author: String,
}

/// What one tenant serves now. Immutable; replaced as a whole.
#[derive(Debug)]
pub struct Live {
    pub meta: BundleMeta,
    pub bundle: Arc<Bundle>,
    pub catalog: Arc<LoadedCatalog>,
    /// The longest cap window of any decision: how far back impressions are read.
    pub max_cap_window_ms: i64,
    /// The variant names of `std.Channel`, by index.
    pub channels: Vec<String>,
}

impl Live {
    fn new(meta: BundleMeta, bundle: Arc<Bundle>, catalog: Arc<LoadedCatalog>) -> Live {
        let program = bundle.program();
        let max_cap_window_ms = program
            .decisions
            .iter()
            .flat_map(|d| d.caps.iter().map(|c| c.window_ms))
            .max()
            .unwrap_or(0);
        let channels = program
            .enums
            .get(program.builtins.channel as usize)
            .map(|e| e.variants.clone())
            .unwrap_or_default();
        Live {
            meta,
            bundle,
            catalog,
            max_cap_window_ms,
            channels,
        }
    }
}

/// One tenant.
#[derive(Debug)]
pub struct Tenant {
    pub id: String,
    pub live: ArcSwap<Live>,
}

/// Why a deploy, rollback or catalog update was refused. Nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("invalid tenant id `{0}`: use 1 to 64 characters from a-z, 0-9, `-` and `_`")]
    BadTenant(String),
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("the bundle has no sources")]
    NoSources,
    #[error("the policies have {count} error(s)")]
    Invalid {
        count: usize,
        diagnostics: Json,
        rendered: String,
    },
    #[error("{failed} of the bundle's tests failed")]
    TestsFailed { failed: usize, report: Json },
    #[error("the catalog does not fit the bundle: {0}")]
    Catalog(String),
    #[error("the bundle cannot be served: {0}")]
    Backend(String),
    #[error("tenant `{tenant}` has no version {version}")]
    UnknownVersion { tenant: String, version: u64 },
    #[error("{message}")]
    WhatIfRejected { message: String, report: Json },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Tenant ids are short and safe in keys, paths and logs.
pub fn valid_tenant(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Milliseconds since the epoch, by the wall clock.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A deploy request.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub tenant: String,
    pub sources: Vec<BundleSource>,
    pub author: String,
    pub message: String,
    /// A new catalog to deploy with the bundle; `None` keeps the tenant's catalog.
    pub catalog: Option<CatalogDoc>,
}

/// The outcome of a deploy.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    pub meta: BundleMeta,
    /// False when the sources equal the active version's and no catalog was given: nothing
    /// was deployed.
    pub changed: bool,
    pub warnings: usize,
}

/// Every tenant's versions and live state.
pub struct Registry {
    store: SharedStore,
    backend: Backend,
    tenants: RwLock<HashMap<String, Arc<Tenant>>>,
    /// One deploy (or rollback, or catalog update) at a time: versions are numbered in order
    /// and a swap never races another.
    deploys: Mutex<()>,
}

fn bundle_key(tenant: &str, version: u64) -> Vec<u8> {
    key(&[tenant, "v", &format!("{version:012}")])
}

/// Compiles sources; for the JIT backend the native code is compiled now, so a bundle the JIT
/// cannot serve is refused at deploy time instead of failing requests.
fn compile(sources: &[BundleSource], backend: Backend) -> Result<Bundle, DeployError> {
    if sources.is_empty() {
        return Err(DeployError::NoSources);
    }
    let mut map = SourceMap::new();
    for s in sources {
        map.add(s.name.clone(), s.text.clone());
    }
    let options = CompileOptions {
        jit: backend == Backend::Jit,
    };
    Bundle::compile_with(map, options).map_err(|e| match e {
        BundleError::Invalid(analysis) => DeployError::Invalid {
            count: analysis.error_count(),
            diagnostics: render_json(&analysis.diagnostics, &analysis.sources),
            rendered: render_terminal(&analysis.diagnostics, &analysis.sources, false),
        },
        BundleError::Backend { .. } => DeployError::Backend(e.to_string()),
    })
}

impl Registry {
    pub fn new(store: SharedStore, backend: Backend) -> Registry {
        Registry {
            store,
            backend,
            tenants: RwLock::new(HashMap::new()),
            deploys: Mutex::new(()),
        }
    }

    /// A tenant, if it has a bundle.
    pub fn tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        self.tenants.read().ok()?.get(id).cloned()
    }

    /// The ids of every tenant with a bundle, sorted.
    pub fn tenant_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tenants
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// Loads every tenant's active version from the store (at startup).
    pub fn load_all(&self) -> Result<Vec<Loaded>, StoreError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan_prefix(Tree::Meta, b"active/", usize::MAX)? {
            let tenant = String::from_utf8_lossy(&k["active/".len()..]).into_owned();
            let version = String::from_utf8_lossy(&v).parse::<u64>().unwrap_or(0);
            let result = self.activate(&tenant, version).map(|()| version);
            if let Err(e) = &result {
                tracing::error!(tenant = %tenant, version, error = %e, "cannot load the active bundle");
            }
            out.push((tenant, result));
        }
        Ok(out)
    }

    fn stored(&self, tenant: &str, version: u64) -> Result<StoredBundle, DeployError> {
        match self.store.get(Tree::Bundles, &bundle_key(tenant, version))? {
            Some(b) => Ok(decode(&b)?),
            None => Err(DeployError::UnknownVersion {
                tenant: tenant.to_string(),
                version,
            }),
        }
    }

    /// The tenant's stored catalog (empty when it has none).
    pub fn catalog_doc(&self, tenant: &str) -> Result<CatalogDoc, StoreError> {
        match self.store.get(Tree::Catalogs, tenant.as_bytes())? {
            Some(b) => decode(&b),
            None => Ok(CatalogDoc::default()),
        }
    }

    fn swap_in(&self, tenant: &str, live: Live) {
        let live = Arc::new(live);
        let existing = self.tenant(tenant);
        match existing {
            Some(t) => t.live.store(live),
            None => {
                if let Ok(mut map) = self.tenants.write() {
                    map.insert(
                        tenant.to_string(),
                        Arc::new(Tenant {
                            id: tenant.to_string(),
                            live: ArcSwap::new(live),
                        }),
                    );
                }
            }
        }
    }

    /// Compiles a stored version with the stored catalog and swaps it in (startup, rollback).
    fn activate(&self, tenant: &str, version: u64) -> Result<(), DeployError> {
        let stored = self.stored(tenant, version)?;
        let bundle = compile(&stored.sources, self.backend)?;
        let doc = self.catalog_doc(tenant)?;
        let catalog = catalog::prepare(&bundle, &doc).map_err(|e| DeployError::Catalog(e.to_string()))?;
        self.swap_in(tenant, Live::new(stored.meta, Arc::new(bundle), Arc::new(catalog)));
        Ok(())
    }

    fn log_event(&self, tenant: &str, action: &str, version: u64, author: &str) -> Result<(), StoreError> {
        let seq = self.store.next_id()?;
        let event = DeployEvent {
            at_ms: wall_ms(),
            action: action.to_string(),
            version,
            author: author.to_string(),
        };
        self.store.put(
            Tree::Bundles,
            &key(&[tenant, "log", &format!("{seq:020}")]),
            &encode(&event)?,
        )
    }

    fn latest_version(&self, tenant: &str) -> Result<u64, StoreError> {
        let prefix = key(&[tenant, "v", ""]);
        Ok(match self.store.scan_prefix_rev(Tree::Bundles, &prefix, 1)?.first() {
            Some((_, v)) => decode::<StoredBundle>(v)?.meta.version,
            None => 0,
        })
    }

    /// Validates, compiles, tests and swaps in a new version. Blocking (compiling and testing
    /// take a while): call it off the async workers.
    pub fn deploy(&self, req: DeployRequest) -> Result<Deployed, DeployError> {
        match self.deploy_checked(req, |_| Ok(true))? {
            Some(deployed) => Ok(deployed),
            None => Err(DeployError::Backend("the deploy was stopped".into())),
        }
    }

    /// [`Registry::deploy`] with a gate: `check` sees the compiled bundle once it passed its
    /// tests and before anything is stored. It refuses the deploy with an error, stops it with
    /// `Ok(false)` (a dry run: `Ok(None)` is returned) or lets it go on with `Ok(true)`. In the
    /// first two cases nothing changes.
    pub fn deploy_checked(
        &self,
        req: DeployRequest,
        check: impl FnOnce(&Bundle) -> Result<bool, DeployError>,
    ) -> Result<Option<Deployed>, DeployError> {
        if !valid_tenant(&req.tenant) {
            return Err(DeployError::BadTenant(req.tenant));
        }
        let bundle = compile(&req.sources, self.backend)?;
        let report = bundle.run_tests(None);
        if !report.all_passed() {
            return Err(DeployError::TestsFailed {
                failed: report.failed() + report.errors(),
                report: report.to_json(),
            });
        }
        // Before the deploy lock: a what-if replay takes a while and must not hold up rollbacks.
        if !check(&bundle)? {
            return Ok(None);
        }
        let _guard = self
            .deploys
            .lock()
            .map_err(|_| StoreError::Engine("deploy lock poisoned".into()))?;
        let current = self.tenant(&req.tenant).map(|t| t.live.load_full());
        if let (Some(cur), None) = (&current, &req.catalog) {
            if cur.meta.hash == bundle.version() {
                return Ok(Some(Deployed {
                    meta: cur.meta.clone(),
                    changed: false,
                    warnings: bundle.warnings().len(),
                }));
            }
        }
        let doc = match &req.catalog {
            Some(doc) => doc.clone(),
            None => self.catalog_doc(&req.tenant)?,
        };
        let catalog = catalog::prepare(&bundle, &doc).map_err(|e| DeployError::Catalog(e.to_string()))?;
        let meta = BundleMeta {
            tenant_id: req.tenant.clone(),
            version: self.latest_version(&req.tenant)? + 1,
            hash: bundle.version().to_string(),
            author: req.author.clone(),
            message: req.message.clone(),
            created_at_ms: wall_ms(),
            files: req.sources.len(),
            tests_passed: report.passed(),
        };
        let stored = StoredBundle {
            meta: meta.clone(),
            sources: bundle.sources().to_vec(),
        };
        self.store
            .put(Tree::Bundles, &bundle_key(&req.tenant, meta.version), &encode(&stored)?)?;
        if let Some(doc) = &req.catalog {
            self.store.put(Tree::Catalogs, req.tenant.as_bytes(), &encode(doc)?)?;
        }
        self.log_event(&req.tenant, "deploy", meta.version, &req.author)?;
        self.store.put(
            Tree::Meta,
            &key(&["active", &req.tenant]),
            meta.version.to_string().as_bytes(),
        )?;
        self.store.flush()?;
        let warnings = bundle.warnings().len();
        self.swap_in(
            &req.tenant,
            Live::new(meta.clone(), Arc::new(bundle), Arc::new(catalog)),
        );
        tracing::info!(tenant = %req.tenant, version = meta.version, hash = %meta.hash, "deployed");
        Ok(Some(Deployed {
            meta,
            changed: true,
            warnings,
        }))
    }

    /// Makes an earlier (or later) stored version the active one again.
    pub fn rollback(&self, tenant: &str, version: u64, author: &str) -> Result<BundleMeta, DeployError> {
        if self.tenant(tenant).is_none() {
            return Err(DeployError::UnknownTenant(tenant.to_string()));
        }
        let _guard = self
            .deploys
            .lock()
            .map_err(|_| StoreError::Engine("deploy lock poisoned".into()))?;
        self.activate(tenant, version)?;
        self.log_event(tenant, "rollback", version, author)?;
        self.store
            .put(Tree::Meta, &key(&["active", tenant]), version.to_string().as_bytes())?;
        self.store.flush()?;
        tracing::info!(tenant = %tenant, version, "rolled back");
        self.stored(tenant, version).map(|s| s.meta)
    }

    /// Replaces a tenant's catalog, validated against its active bundle.
    pub fn put_catalog(&self, tenant: &str, doc: CatalogDoc, author: &str) -> Result<(usize, String), DeployError> {
        let Some(t) = self.tenant(tenant) else {
            return Err(DeployError::UnknownTenant(tenant.to_string()));
        };
        let _guard = self
            .deploys
            .lock()
            .map_err(|_| StoreError::Engine("deploy lock poisoned".into()))?;
        let live = t.live.load_full();
        let catalog = catalog::prepare(&live.bundle, &doc).map_err(|e| DeployError::Catalog(e.to_string()))?;
        self.store.put(Tree::Catalogs, tenant.as_bytes(), &encode(&doc)?)?;
        self.log_event(tenant, "catalog", live.meta.version, author)?;
        self.store.flush()?;
        let out = (catalog.prepared.len(), catalog.hash.clone());
        t.live.store(Arc::new(Live::new(
            live.meta.clone(),
            live.bundle.clone(),
            Arc::new(catalog),
        )));
        Ok(out)
    }

    /// Every version of a tenant, oldest first, and the deploy log.
    pub fn history(&self, tenant: &str) -> Result<(Vec<BundleMeta>, Vec<DeployEvent>), DeployError> {
        let versions = self
            .store
            .scan_prefix(Tree::Bundles, &key(&[tenant, "v", ""]), usize::MAX)?
            .into_iter()
            .map(|(_, v)| decode::<StoredBundle>(&v).map(|s| s.meta))
            .collect::<Result<Vec<_>, _>>()?;
        let events = self
            .store
            .scan_prefix(Tree::Bundles, &key(&[tenant, "log", ""]), usize::MAX)?
            .into_iter()
            .map(|(_, v)| decode::<DeployEvent>(&v))
            .collect::<Result<Vec<_>, _>>()?;
        if versions.is_empty() {
            return Err(DeployError::UnknownTenant(tenant.to_string()));
        }
        Ok((versions, events))
    }

    /// One stored version with its sources.
    pub fn version(&self, tenant: &str, version: u64) -> Result<StoredBundle, DeployError> {
        self.stored(tenant, version)
    }

    /// The difference between the sources of two versions, file by file.
    pub fn diff(&self, tenant: &str, from: u64, to: u64) -> Result<Json, DeployError> {
        let a = self.stored(tenant, from)?;
        let b = self.stored(tenant, to)?;
        let mut names: Vec<&str> = a
            .sources
            .iter()
            .chain(b.sources.iter())
            .map(|s| s.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut files = Vec::new();
        for name in names {
            let old = a.sources.iter().find(|s| s.name == name).map(|s| s.text.as_str());
            let new = b.sources.iter().find(|s| s.name == name).map(|s| s.text.as_str());
            let status = match (old, new) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(x), Some(y)) if x == y => "unchanged",
                _ => "changed",
            };
            if status == "unchanged" {
                continue;
            }
            files.push(serde_json::json!({
                "name": name,
                "status": status,
                "diff": unified_diff(old.unwrap_or(""), new.unwrap_or("")),
            }));
        }
        Ok(serde_json::json!({
            "tenant_id": tenant,
            "from": {"version": from, "hash": a.meta.hash},
            "to": {"version": to, "hash": b.meta.hash},
            "files": files,
        }))
    }
}

/// A line diff: lines prefixed `-` (only in `old`), `+` (only in `new`) or ` ` (both), from a
/// longest common subsequence. Files beyond 4,000 lines are compared as wholes.
pub fn unified_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > 4_000 || b.len() > 4_000 {
        let mut out = String::new();
        for l in &a {
            out.push_str(&format!("-{l}\n"));
        }
        for l in &b {
            out.push_str(&format!("+{l}\n"));
        }
        return out;
    }
    // lcs[i][j]: the LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const POLICY: &str = r#"package demo

schema Profile { tier: String }
schema Offer { id: String }

eligibility offers for offer: Offer {
  require any_offer: offer.id != ""
}

decision home {
  placement "home"
  candidates offers
  fallback "story"
}

test "nothing in the catalog falls back" {
  profile { tier: "gold" }
  expect home.fallback
}
"#;

    fn req(text: &str) -> DeployRequest {
        DeployRequest {
            tenant: "demo".into(),
            sources: vec![BundleSource {
                name: "demo.policy".into(),
                text: text.into(),
            }],
            author: "ann".into(),
            message: "m".into(),
            catalog: Some(CatalogDoc {
                offers: vec![serde_json::json!({"id": "a"})],
                templates: Default::default(),
            }),
        }
    }

    #[test]
    fn deploy_rollback_history_and_diff() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let reg = Registry::new(store.clone(), Backend::Interpreter);
        let v1 = reg.deploy(req(POLICY)).unwrap();
        assert_eq!(v1.meta.version, 1);
        let mut r2 = req(&POLICY.replace("\"story\"", "\"story-2\""));
        r2.catalog = None;
        let v2 = reg.deploy(r2).unwrap();
        assert_eq!(v2.meta.version, 2);
        let live = reg.tenant("demo").unwrap().live.load_full();
        assert_eq!(live.meta.version, 2);
        assert_eq!(live.catalog.prepared.len(), 1, "the catalog is kept across deploys");

        // The same sources again change nothing.
        let mut again = req(&POLICY.replace("\"story\"", "\"story-2\""));
        again.catalog = None;
        assert!(!reg.deploy(again).unwrap().changed);

        let diff = reg.diff("demo", 1, 2).unwrap();
        let text = diff["files"][0]["diff"].as_str().unwrap();
        assert!(
            text.contains("-  fallback \"story\"\n+  fallback \"story-2\"\n"),
            "{text}"
        );

        reg.rollback("demo", 1, "ann").unwrap();
        assert_eq!(reg.tenant("demo").unwrap().live.load().meta.version, 1);
        let (versions, events) = reg.history("demo").unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(
            events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["deploy", "deploy", "rollback"]
        );

        // A fresh registry over the same store serves the rolled-back version.
        let again = Registry::new(store, Backend::Interpreter);
        again.load_all().unwrap();
        assert_eq!(again.tenant("demo").unwrap().live.load().meta.version, 1);
    }

    #[test]
    fn a_bad_deploy_changes_nothing() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let reg = Registry::new(store, Backend::Interpreter);
        reg.deploy(req(POLICY)).unwrap();
        let broken = req("package demo\nsegment s = profile.nope\n");
        assert!(matches!(reg.deploy(broken), Err(DeployError::Invalid { .. })));
        let failing = req(&POLICY.replace("expect home.fallback", "expect not home.fallback"));
        assert!(matches!(
            reg.deploy(failing),
            Err(DeployError::TestsFailed { failed: 1, .. })
        ));
        let mut bad_catalog = req(POLICY);
        bad_catalog.catalog = Some(CatalogDoc {
            offers: vec![serde_json::json!({"id": 5})],
            templates: Default::default(),
        });
        assert!(matches!(reg.deploy(bad_catalog), Err(DeployError::Catalog(_))));
        assert!(matches!(
            reg.deploy(DeployRequest {
                tenant: "Bad Tenant".into(),
                ..req(POLICY)
            }),
            Err(DeployError::BadTenant(_))
        ));
        assert_eq!(reg.history("demo").unwrap().0.len(), 1);
        assert_eq!(reg.tenant("demo").unwrap().live.load().meta.version, 1);
    }

    #[test]
    fn diffs_mark_lines() {
        assert_eq!(unified_diff("a\nb\nc\n", "a\nc\nd\n"), " a\n-b\n c\n+d\n");
    }
}
