//! The Tailor policy language compiler.
//!
//! The pipeline, one module per stage: [`syntax`] (logos lexer, pest grammar, AST) →
//! [`resolve`] (packages, imports, scopes) → [`types`] (type checking, which lowers to the typed
//! [`ir`]) → [`interp`] (the reference interpreter) and [`jit`] (native code with Cranelift,
//! which agrees with it). [`bundle`] is the evaluation API over both. [`format`] needs only the
//! syntax stage. [`testing`] runs `test` blocks on the interpreter.
//!
//! The compiler does no IO: callers hand it a [`SourceMap`] and get an [`Analysis`] back.

pub mod bundle;
pub mod diagnostics;
pub mod format;
pub mod interp;
pub mod ir;
pub mod jit;
pub mod resolve;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod synth;
pub mod testing;
pub mod types;

pub use bundle::{Backend, Bundle, BundleError, CompileOptions, PreparedCatalog};
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
pub fn analyze(sources: SourceMap) -> Analysis {
    analyze_with(sources, None)
}

/// Parsed files kept between analyses, for editors that analyze the same files again after each
/// change: see [`analyze_cached`].
#[derive(Debug, Default)]
pub struct ParseCache {
    files: std::collections::HashMap<FileId, CachedParse>,
}

/// What the cache holds for one file id.
#[derive(Debug)]
enum CachedParse {
    /// The text a file was parsed from, its AST and its syntax diagnostics.
    Parsed(String, ast::File, Vec<Diagnostic>),
    /// The text of a file that changed since it was cached: it is probably being edited, so its
    /// parse is kept only once its text stops changing (copying an AST costs time on every
    /// keystroke, and the next keystroke would throw the copy away).
    Changed(String),
}

/// [`analyze`], reusing the parse of every file whose id and text are the same as in the
/// previous call with `cache`. Files are parsed independently of each other (names are
/// resolved later), so the result is exactly what [`analyze`] returns; only files that
/// changed are parsed again. Resolution and type checking always run on the whole bundle.
pub fn analyze_cached(sources: SourceMap, cache: &mut ParseCache) -> Analysis {
    analyze_with(sources, Some(cache))
}

fn analyze_with(mut sources: SourceMap, mut cache: Option<&mut ParseCache>) -> Analysis {
    let _span = tracing::info_span!("analyze", files = sources.len()).entered();
    let user: Vec<FileId> = sources.files().map(|(id, _)| id).collect();
    let prelude = sources.add(stdlib::PRELUDE_NAME, stdlib::PRELUDE);
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(user.len() + 1);
    for id in std::iter::once(prelude).chain(user.iter().copied()) {
        let text = &sources.get(id).text;
        let cached = cache.as_ref().and_then(|c| c.files.get(&id));
        if let Some(CachedParse::Parsed(t, file, ds)) = cached {
            if t == text {
                diagnostics.extend(ds.iter().cloned());
                files.push((id, file.clone()));
                continue;
            }
        }
        // Keep the new parse unless the file just changed (see `CachedParse::Changed`).
        let keep = match cached {
            None => true,
            Some(CachedParse::Changed(t)) => t == text,
            Some(CachedParse::Parsed(..)) => false,
        };
        let (file, ds) = {
            let _s = tracing::debug_span!("parse", file = %sources.get(id).name).entered();
            syntax::parse_file(id, text)
        };
        if let Some(c) = cache.as_mut() {
            let entry = if keep {
                CachedParse::Parsed(text.clone(), file.clone(), ds.clone())
            } else {
                CachedParse::Changed(text.clone())
            };
            c.files.insert(id, entry);
        }
        diagnostics.extend(ds);
        files.push((id, file));
    }
    if let Some(c) = cache {
        c.files.retain(|id, _| id.0 as usize <= user.len());
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

#[cfg(test)]
mod analyze_cache_tests {
    use super::*;

    fn sources(b: &str) -> SourceMap {
        let mut map = SourceMap::new();
        map.add("a.policy", "package a\nsegment x = true\n");
        map.add("b.policy", b);
        map
    }

    #[test]
    fn cached_analysis_equals_a_fresh_one() {
        let mut cache = ParseCache::default();
        // A first parse, a change (reparsed, not kept), no change (kept), no change (reused).
        for b in ["y = nope", "y = true", "y = true", "y = true"] {
            let text = format!("package b\nsegment {b}\n");
            let cached = analyze_cached(sources(&text), &mut cache);
            let fresh = analyze(sources(&text));
            assert_eq!(cached.diagnostics, fresh.diagnostics);
            assert_eq!(cached.version, fresh.version);
            assert_eq!(format!("{:?}", cached.files), format!("{:?}", fresh.files));
        }
        assert!(matches!(cache.files.get(&FileId(1)), Some(CachedParse::Parsed(..))));
    }
}
