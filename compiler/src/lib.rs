//! The Tailor policy language compiler.
//!
//! The pipeline, one module per stage: [`syntax`] (logos lexer, pest grammar, AST) →
//! [`resolve`] (packages, imports, scopes) → [`types`] (type checking, which lowers to the typed
//! [`ir`]) → [`interp`] (the reference interpreter). [`format`] needs only the syntax stage.
//! [`testing`] runs `test` blocks on the interpreter.
//!
//! The compiler does no IO: callers hand it a [`SourceMap`] and get an [`Analysis`] back.

pub mod bundle;
pub mod diagnostics;
pub mod format;
pub mod interp;
pub mod ir;
pub mod resolve;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod synth;
pub mod testing;
pub mod types;

pub use bundle::{Backend, Bundle, BundleError, PreparedCatalog};
pub use diagnostics::{Code, Diagnostic, Severity};
pub use source::{FileId, SourceMap, Span};

use sha2::{Digest, Sha256};
use syntax::ast;

/// Everything the front end learned about a set of sources.
#[derive(Debug)]
pub struct Analysis {
    /// The sources handed in, plus the prelude (see [`Analysis::prelude`]).
    pub sources: SourceMap,
    /// The prelude's file id; it is not one of the caller's files.
    pub prelude: FileId,
    /// Every parsed file, the prelude first.
    pub files: Vec<(FileId, ast::File)>,
    /// The lowered program. Only meaningful to run when [`Analysis::has_errors`] is false.
    pub program: ir::Program,
    /// Name uses and expression types, for editors.
    pub facts: types::Facts,
    /// All diagnostics, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The bundle version: SHA-256 (hex) of the canonical sources.
    pub version: String,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// The caller's files (without the prelude), in order.
    pub fn user_files(&self) -> impl Iterator<Item = &(FileId, ast::File)> {
        self.files.iter().filter(move |(id, _)| *id != self.prelude)
    }
}

/// Parses, resolves and type-checks every file in `sources`.
pub fn analyze(mut sources: SourceMap) -> Analysis {
    let _span = tracing::info_span!("analyze", files = sources.len()).entered();
    let user: Vec<FileId> = sources.files().map(|(id, _)| id).collect();
    let prelude = sources.add(stdlib::PRELUDE_NAME, stdlib::PRELUDE);
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(user.len() + 1);
    for id in std::iter::once(prelude).chain(user.iter().copied()) {
        let (file, ds) = {
            let _s = tracing::debug_span!("parse", file = %sources.get(id).name).entered();
            syntax::parse_file(id, &sources.get(id).text)
        };
        diagnostics.extend(ds);
        files.push((id, file));
    }
    let refs: Vec<(FileId, &ast::File)> = files.iter().map(|(id, f)| (*id, f)).collect();
    let (program, facts, ds) = types::check(&refs);
    diagnostics.extend(ds);
    let mut all = diagnostics::Diagnostics::new();
    all.extend(diagnostics);
    let version = bundle_version(&sources, &files, prelude);
    Analysis {
        sources,
        prelude,
        files,
        program,
        facts,
        diagnostics: all.into_sorted(),
        version,
    }
}

/// SHA-256 over the caller's files sorted by package and name: each contributes its name, a
/// zero byte, its text and a zero byte. The same sources always give the same version.
fn bundle_version(sources: &SourceMap, files: &[(FileId, ast::File)], prelude: FileId) -> String {
    let mut keyed: Vec<(String, &str, &str)> = files
        .iter()
        .filter(|(id, _)| *id != prelude)
        .map(|(id, f)| {
            let src = sources.get(*id);
            let package = f.package.as_ref().map(|p| p.dotted()).unwrap_or_default();
            (package, src.name.as_str(), src.text.as_str())
        })
        .collect();
    keyed.sort();
    let mut h = Sha256::new();
    for (_, name, text) in keyed {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
