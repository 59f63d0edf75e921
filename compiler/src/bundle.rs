//! Bundles: a checked, lowered policy set ready to evaluate, and the one API the runtime,
//! replay and `tailor bench` evaluate through.
//!
//! A [`Bundle`] is built from sources by [`Bundle::compile`] and is immutable afterwards, so it
//! can be shared between threads behind an `Arc` and hot-swapped as a whole. Evaluation takes a
//! [`Backend`]: the reference interpreter or the JIT. Both return the same result types
//! ([`DecisionOutcome`], [`EligibilityReport`]) and must agree on every input.
//!
//! Catalogs are prepared once per bundle ([`Bundle::prepare_catalog`]): the offers are
//! validated against the candidate schema here, not on the request path. The JIT lays them out
//! in its own format once, on first use, and caches that in the [`PreparedCatalog`].
//!
//! Native code is compiled once per bundle: at [`Bundle::compile_with`] time with
//! [`CompileOptions::jit`] (so a construct the JIT does not compile is a deploy-time
//! [`BundleError::Backend`]), or else on the first [`Backend::Jit`] evaluation. It is freed
//! when the bundle is dropped. See `docs/jit.md`.

use crate::interp::{self, DecisionOutcome, EligibilityReport, Env, EvalError, TraceLevel, Value};
use crate::ir::{DecisionId, EligibilityId, Program, SchemaId, Type};
use crate::jit::{JitCatalog, JitProgram};
use crate::testing::{self, TestReport};
use crate::{analyze, Analysis, Diagnostic, SourceMap};
use std::sync::{Arc, OnceLock};

/// Which engine evaluates a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The reference interpreter: the definition of the semantics.
    #[default]
    Interpreter,
    /// Native code compiled with Cranelift.
    Jit,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "interpreter" | "interp" => Ok(Backend::Interpreter),
            "jit" => Ok(Backend::Jit),
            other => Err(format!("unknown backend `{other}` (expected `interpreter` or `jit`)")),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Interpreter => "interpreter",
            Backend::Jit => "jit",
        })
    }
}

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The sources have errors; the analysis holds the diagnostics and the sources to render
    /// them against.
    #[error("the policies have {} error(s)", .0.error_count())]
    Invalid(Box<Analysis>),
    /// A backend could not compile a checked program (a construct it does not support yet, or
    /// an internal error). Never silently replaced by another backend.
    #[error("the {backend} backend cannot compile this bundle: {message}")]
    Backend { backend: Backend, message: String },
}

/// Why a catalog could not be prepared for a bundle.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The schema id is not one of the bundle's.
    #[error("the bundle has no schema with index {0}")]
    UnknownSchema(SchemaId),
    /// An offer does not match the candidate schema.
    #[error("catalog item {position}: {message}")]
    Invalid { position: usize, message: String },
}

/// A source file of a bundle, kept so versions can be stored, diffed and recompiled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BundleSource {
    pub name: String,
    pub text: String,
}

/// How [`Bundle::compile_with`] builds a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompileOptions {
    /// Compile native code now, so a construct the JIT does not compile is reported as
    /// [`BundleError::Backend`] at deploy time. Without it the JIT compiles on the bundle's
    /// first [`Backend::Jit`] evaluation.
    pub jit: bool,
}

/// A checked, lowered policy set. Immutable; share it behind an `Arc`.
#[derive(Debug)]
pub struct Bundle {
    program: Arc<Program>,
    version: String,
    sources: Vec<BundleSource>,
    warnings: Vec<Diagnostic>,
    /// The native code, compiled once (eagerly with [`CompileOptions::jit`], else on first use).
    jit: OnceLock<Result<Arc<JitProgram>, String>>,
}

impl Bundle {
    /// Checks and lowers `sources`. Errors in the policies give [`BundleError::Invalid`].
    pub fn compile(sources: SourceMap) -> Result<Bundle, BundleError> {
        Bundle::compile_with(sources, CompileOptions::default())
    }

    /// [`Bundle::compile`] with options; with `jit: true` the native code is compiled now.
    pub fn compile_with(sources: SourceMap, options: CompileOptions) -> Result<Bundle, BundleError> {
        let _span = tracing::info_span!("bundle_compile", files = sources.len()).entered();
        let bundle = Bundle::from_analysis(analyze(sources))?;
        if options.jit {
            bundle.jit().map_err(|message| BundleError::Backend {
                backend: Backend::Jit,
                message,
            })?;
        }
        Ok(bundle)
    }

    /// The bundle's native code, compiling it on first use. The error is the reason the JIT
    /// cannot compile this bundle (never silently replaced by the interpreter).
    pub fn jit(&self) -> Result<&Arc<JitProgram>, String> {
        self.jit
            .get_or_init(|| {
                JitProgram::compile(self.program.clone())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| e.clone())
    }

    /// A bundle from a finished analysis (which must have no errors).
    pub fn from_analysis(analysis: Analysis) -> Result<Bundle, BundleError> {
        if analysis.has_errors() {
            return Err(BundleError::Invalid(Box::new(analysis)));
        }
        let sources = analysis
            .sources
            .files()
            .filter(|(id, _)| *id != analysis.prelude)
            .map(|(_, f)| BundleSource {
                name: f.name.clone(),
                text: f.text.clone(),
            })
            .collect();
        Ok(Bundle {
            program: Arc::new(analysis.program),
            version: analysis.version,
            sources,
            warnings: analysis.diagnostics,
            jit: OnceLock::new(),
        })
    }

    /// The content hash of the sources (SHA-256, hex).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The lowered program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The sources the bundle was compiled from (without the prelude).
    pub fn sources(&self) -> &[BundleSource] {
        &self.sources
    }

    /// The warnings the checker reported.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Runs the bundle's `test` blocks on the interpreter.
    pub fn run_tests(&self, filter: Option<&str>) -> TestReport {
        testing::run_tests(&self.program, filter)
    }

    /// Validates `offers` (JSON objects) against `schema` and prepares them for evaluation.
    pub fn prepare_catalog_json(
        &self,
        schema: SchemaId,
        offers: &[serde_json::Value],
    ) -> Result<PreparedCatalog, CatalogError> {
        if self.program.schemas.get(schema as usize).is_none() {
            return Err(CatalogError::UnknownSchema(schema));
        }
        let ty = Type::Record(schema);
        let values = offers
            .iter()
            .enumerate()
            .map(|(position, json)| {
                interp::value_from_json(&self.program, &ty, json).map_err(|e| CatalogError::Invalid {
                    position,
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.prepare_catalog(schema, values)
    }

    /// Prepares already-typed `offers` (records of `schema`) for evaluation.
    pub fn prepare_catalog(&self, schema: SchemaId, offers: Vec<Value>) -> Result<PreparedCatalog, CatalogError> {
        if self.program.schemas.get(schema as usize).is_none() {
            return Err(CatalogError::UnknownSchema(schema));
        }
        Ok(PreparedCatalog {
            version: self.version.clone(),
            schema,
            offers: Arc::from(offers),
            jit: Arc::new(OnceLock::new()),
        })
    }

    /// Runs decision `decision` for `env` over `catalog`. `max_override` can only lower the
    /// decision's `max`.
    pub fn decide(
        &self,
        backend: Backend,
        env: &Env,
        decision: DecisionId,
        catalog: &PreparedCatalog,
        max_override: Option<u32>,
    ) -> Result<DecisionOutcome, EvalError> {
        self.decide_traced(backend, env, decision, catalog, max_override, TraceLevel::Full)
    }

    /// [`Bundle::decide`] without the per-candidate trace: the outcome's `trace` is empty, and
    /// everything else (offers, scores, variant, fallback) is identical. For callers that only
    /// use the answer (batch plans), it saves building and freeing an entry per candidate.
    pub fn decide_untraced(
        &self,
        backend: Backend,
        env: &Env,
        decision: DecisionId,
        catalog: &PreparedCatalog,
        max_override: Option<u32>,
    ) -> Result<DecisionOutcome, EvalError> {
        self.decide_traced(backend, env, decision, catalog, max_override, TraceLevel::None)
    }

    /// [`Bundle::decide`] keeping `trace` of the per-candidate story (see [`TraceLevel`]); the
    /// answer is the same at every level.
    pub fn decide_traced(
        &self,
        backend: Backend,
        env: &Env,
        decision: DecisionId,
        catalog: &PreparedCatalog,
        max_override: Option<u32>,
        trace: TraceLevel,
    ) -> Result<DecisionOutcome, EvalError> {
        match backend {
            Backend::Interpreter => {
                let evaluator = interp::Evaluator::new(&self.program);
                let request = evaluator.request(env);
                interp::decide_traced(
                    &self.program,
                    env,
                    &mut &request,
                    decision,
                    &catalog.offers,
                    max_override,
                    trace,
                )
            }
            Backend::Jit => {
                let (jit, laid_out) = self.jit_catalog(catalog)?;
                let mut request = jit.request(laid_out, env)?;
                interp::decide_traced(
                    &self.program,
                    env,
                    &mut request,
                    decision,
                    &catalog.offers,
                    max_override,
                    trace,
                )
            }
        }
    }

    /// Applies eligibility block `eligibility` to every offer of `catalog`.
    pub fn eligibility(
        &self,
        backend: Backend,
        env: &Env,
        eligibility: EligibilityId,
        catalog: &PreparedCatalog,
    ) -> Result<EligibilityReport, EvalError> {
        match backend {
            Backend::Interpreter => {
                let evaluator = interp::Evaluator::new(&self.program);
                let request = evaluator.request(env);
                interp::eligibility_report(&request, eligibility, &catalog.offers)
            }
            Backend::Jit => {
                let (jit, laid_out) = self.jit_catalog(catalog)?;
                let mut request = jit.request(laid_out, env)?;
                interp::eligibility_report_with(&self.program, &mut request, eligibility, &catalog.offers)
            }
        }
    }

    /// The native code and `catalog` laid out for it (once per catalog).
    pub fn jit_catalog<'c>(
        &'c self,
        catalog: &'c PreparedCatalog,
    ) -> Result<(&'c JitProgram, &'c JitCatalog), EvalError> {
        if catalog.version != self.version {
            return Err(EvalError::Internal(format!(
                "the catalog was prepared for bundle {}, not {}",
                catalog.version, self.version
            )));
        }
        let jit = self
            .jit()
            .map_err(|m| EvalError::Internal(format!("the JIT cannot compile this bundle: {m}")))?;
        let laid_out = catalog
            .jit
            .get_or_init(|| {
                jit.prepare_catalog(catalog.schema, &catalog.offers)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|m| EvalError::Internal(format!("laying out the catalog: {m}")))?;
        Ok((jit, laid_out))
    }
}

/// A catalog validated against one bundle's candidate schema, ready to evaluate.
#[derive(Debug, Clone)]
pub struct PreparedCatalog {
    /// The version of the bundle it was prepared for.
    version: String,
    schema: SchemaId,
    offers: Arc<[Value]>,
    /// The offers in the JIT's layout, built on first JIT use (once per catalog).
    jit: Arc<OnceLock<Result<Arc<JitCatalog>, String>>>,
}

impl PreparedCatalog {
    /// The offers, in catalog order.
    pub fn offers(&self) -> &[Value] {
        &self.offers
    }

    /// The schema the offers were validated against.
    pub fn schema(&self) -> SchemaId {
        self.schema
    }

    /// The version of the bundle the catalog was prepared for.
    pub fn bundle_version(&self) -> &str {
        &self.version
    }

    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
package demo

schema Profile { tier: String }
schema Offer { id: String, min_tier: String }

eligibility offers for offer: Offer {
  require gold: offer.min_tier != "gold" or profile.tier == "gold" because "gold only"
}

decision home {
  placement "home"
  candidates offers
  max 2
}
"#;

    fn bundle() -> Bundle {
        let mut sources = SourceMap::new();
        sources.add("demo.policy", POLICY);
        match Bundle::compile(sources) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_broken_policy_is_rejected_with_its_diagnostics() {
        let mut sources = SourceMap::new();
        sources.add("bad.policy", "package bad\nsegment s = profile.nope\n");
        match Bundle::compile(sources) {
            Err(BundleError::Invalid(analysis)) => assert!(analysis.has_errors()),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_catalog_is_validated_against_the_schema() {
        let b = bundle();
        let offer = b.program().schemas.iter().position(|s| s.name == "demo.Offer").unwrap() as SchemaId;
        let bad = vec![serde_json::json!({"id": "a"})];
        assert!(matches!(
            b.prepare_catalog_json(offer, &bad),
            Err(CatalogError::Invalid { position: 0, .. })
        ));
        let good = vec![
            serde_json::json!({"id": "a", "min_tier": "gold"}),
            serde_json::json!({"id": "b", "min_tier": "silver"}),
        ];
        let catalog = b.prepare_catalog_json(offer, &good).unwrap();
        assert_eq!(catalog.len(), 2);
        assert_eq!(catalog.bundle_version(), b.version());
    }

    #[test]
    fn backends_parse_from_their_names() {
        assert_eq!("jit".parse::<Backend>(), Ok(Backend::Jit));
        assert_eq!("interpreter".parse::<Backend>(), Ok(Backend::Interpreter));
        assert!("fast".parse::<Backend>().is_err());
    }
}
