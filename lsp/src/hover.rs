//! Hover: what a name is, its type and its documentation.
//!
//! Declarations show their source (a segment's whole definition, a long block's first line)
//! with their package and doc comment; schema fields their type and docs; enum variants their
//! enum and docs; parameters and local variables their type; built-in functions their
//! signature, documentation and an example. Anywhere else inside an expression, the type of the
//! innermost expression is shown.

use crate::query;
use crate::workspace::Snapshot;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::types::Target;
use tailor_compiler::{FileId, Span};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind};

/// The fenced-code language editors highlight policy snippets with.
pub const LANG: &str = "tailor";

/// Longest declaration shown whole on hover, in lines.
const MAX_LINES: usize = 12;

pub fn hover(snap: &Snapshot, file: FileId, offset: usize) -> Option<Hover> {
    let found = query::at(snap, file, offset);
    let (span, text) = match found {
        Some(occ) => (occ.span, describe(snap, &occ.target)?),
        None if query::experiment_variant_at(snap, file, offset).is_some() => {
            let v = query::experiment_variant_at(snap, file, offset)?;
            let experiment = snap
                .analysis
                .facts
                .symbols
                .info(v.experiment)
                .map(|i| i.qualified())
                .unwrap_or_default();
            let text = format!(
                "{}\n\nvariant of experiment `{experiment}`, {} of subjects",
                code(&v.name),
                v.weight
            );
            (v.span, text)
        }
        None => match layer_at(snap, file, offset) {
            Some(found) => found,
            None => {
                let (span, ty) = innermost_type(snap, file, offset)?;
                (span, code(&snap.analysis.program.type_name(&ty)))
            }
        },
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(crate::position::range(snap.source(file), span)),
    })
}

/// On an experiment's `layer` clause: every experiment sharing the layer with its slice, and
/// the parts of the layer no experiment takes, so a marketer can see where a new test fits.
fn layer_at(snap: &Snapshot, file: FileId, offset: usize) -> Option<(Span, String)> {
    let program = &snap.analysis.program;
    let here = program
        .experiments
        .iter()
        .filter_map(|e| e.layer.as_ref())
        .find(|l| l.span.file == file && (l.span.start as usize..=l.span.end as usize).contains(&offset))?;
    let pct = |bp: u32| tailor_compiler::ir::percent_text(u64::from(bp));
    let mut slices: Vec<(u32, u32, &str)> = program
        .experiments
        .iter()
        .filter_map(|e| e.layer.as_ref().map(|l| (l, e.name.as_str())))
        .filter(|(l, _)| l.name == here.name)
        .map(|(l, name)| (l.from_bp, l.to_bp, name))
        .collect();
    slices.sort_unstable();
    let mut text = format!(
        "layer `{}`: its experiments are mutually exclusive (a subject is in at most one)\n",
        here.name
    );
    for (from, to, name) in &slices {
        let this = if (*from, *to) == (here.from_bp, here.to_bp) {
            " (this one)"
        } else {
            ""
        };
        text.push_str(&format!("\n- `{name}`: {} to {}{this}", pct(*from), pct(*to)));
    }
    let free: Vec<String> = program
        .layer_free_slices(&here.name, None)
        .into_iter()
        .map(|(f, t)| format!("{} to {}", pct(f), pct(t)))
        .collect();
    if free.is_empty() {
        text.push_str("\n\nThe layer is full.");
    } else {
        text.push_str(&format!("\n\nFree: {}.", free.join(", ")));
    }
    Some((here.span, text))
}

/// Markdown describing a target.
pub fn describe(snap: &Snapshot, target: &Target) -> Option<String> {
    let program = &snap.analysis.program;
    match target {
        Target::Decl(r) => describe_decl(snap, *r),
        Target::Field { schema, index } => {
            let s = program.schemas.get(*schema as usize)?;
            let f = s.fields.get(*index as usize)?;
            let mut out = code(&format!("{}: {}", f.name, program.type_name(&f.ty)));
            out.push_str(&format!("\n\nfield of `{}`", s.name));
            push_doc(&mut out, f.doc.as_deref());
            Some(out)
        }
        Target::Variant { enum_id, index } => {
            let e = program.enums.get(*enum_id as usize)?;
            let v = e.variants.get(*index as usize)?;
            let short = e.name.rsplit('.').next().unwrap_or(&e.name);
            let mut out = code(&format!("{short}.{v}"));
            out.push_str(&format!("\n\nvariant of `{}`", e.name));
            let doc = query::variant_decl(snap, *enum_id, *index).and_then(|v| v.doc.clone());
            push_doc(&mut out, doc.as_deref());
            Some(out)
        }
        Target::Local(def) => {
            let name = snap.analysis.sources.slice(*def);
            let ty = type_at(snap, *def).map(|t| program.type_name(&t));
            Some(code(&match ty {
                Some(t) => format!("{name}: {t}"),
                None => name.to_string(),
            }))
        }
        Target::Builtin(b) => {
            let d = tailor_compiler::stdlib::doc(*b)?;
            Some(format!(
                "{}\n\n{}\n\nExample: `{}`\n\nbuilt-in function",
                code(d.signature),
                d.doc,
                d.example
            ))
        }
        Target::Special(name) => {
            let schema = match *name {
                "profile" => program.profile,
                "context" => Some(program.builtins.context),
                _ => None,
            };
            let s = schema.and_then(|s| program.schemas.get(s as usize));
            let ty = s.map(|s| s.name.rsplit('.').next().unwrap_or(&s.name).to_string());
            let mut out = code(&format!("{name}: {}", ty.as_deref().unwrap_or("{unknown}")));
            out.push_str(match *name {
                "profile" => "\n\nwhat is known about the subject being decided for",
                _ => "\n\nthe request: channel, placement and scenario",
            });
            push_doc(&mut out, s.and_then(|s| s.doc.as_deref()));
            Some(out)
        }
    }
}

fn describe_decl(snap: &Snapshot, r: DeclRef) -> Option<String> {
    let info = snap.analysis.facts.symbols.info(r)?;
    let (_, decl) = snap.decl(r)?;
    let source = snap.analysis.sources.slice(decl.span);
    // The declaration's span starts at its doc comment; the doc is shown as prose below.
    let body: Vec<&str> = source
        .lines()
        .skip_while(|l| l.trim_start().starts_with("///"))
        .collect();
    let mut body: Vec<&str> = body.into_iter().rev().skip_while(|l| l.trim().is_empty()).collect();
    body.reverse();
    let shown = if body.len() <= MAX_LINES {
        body.join("\n")
    } else {
        let first = body.first().copied().unwrap_or_default();
        format!("{} …", first.trim_end().trim_end_matches('{').trim_end())
    };
    let mut out = code(&shown);
    out.push_str(&format!("\n\n{} in package `{}`", r.describe(), info.package));
    push_doc(&mut out, decl.doc.as_deref());
    Some(out)
}

fn code(text: &str) -> String {
    format!("```{LANG}\n{text}\n```")
}

fn push_doc(out: &mut String, doc: Option<&str>) {
    if let Some(doc) = doc.map(str::trim).filter(|d| !d.is_empty()) {
        out.push_str("\n\n---\n\n");
        out.push_str(doc);
    }
}

/// The type the checker recorded for exactly this span.
fn type_at(snap: &Snapshot, span: Span) -> Option<tailor_compiler::ir::Type> {
    snap.analysis
        .facts
        .types
        .iter()
        .rev()
        .find(|(s, _)| *s == span)
        .map(|(_, t)| t.clone())
}

/// The innermost checked expression containing `offset`, with its type.
pub fn innermost_type(snap: &Snapshot, file: FileId, offset: usize) -> Option<(Span, tailor_compiler::ir::Type)> {
    snap.analysis
        .facts
        .types
        .iter()
        .filter(|(s, t)| s.file == file && s.contains(offset) && !t.is_error())
        .min_by_key(|(s, _)| s.end - s.start)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    fn hover_text(files: &[(&str, &str)]) -> String {
        let (snap, ids, cursor) = snapshot_at(files);
        match hover(&snap, ids[0], cursor).map(|h| h.contents) {
            Some(HoverContents::Markup(m)) => m.value,
            other => panic!("no markup hover: {other:?}"),
        }
    }

    const SCHEMA: &str =
        "package s\n/// A customer.\nschema Profile {\n  /// Age in years.\n  age: Int\n  email: String?\n}\n";

    #[test]
    fn field_shows_type_and_doc() {
        let text = hover_text(&[
            ("a.policy", "package s\nsegment adult = profile.a$0ge >= 18\n"),
            ("s.policy", SCHEMA),
        ]);
        assert!(text.contains("age: Int"), "{text}");
        assert!(text.contains("Age in years."), "{text}");
    }

    #[test]
    fn segment_shows_its_definition_and_doc() {
        let text = hover_text(&[
            (
                "a.policy",
                "package s\n/// Grown-ups.\nsegment adult = profile.age >= 18\nsegment b = adu$0lt\n",
            ),
            ("s.policy", SCHEMA),
        ]);
        assert!(text.contains("segment adult = profile.age >= 18"), "{text}");
        assert!(text.contains("Grown-ups."), "{text}");
        assert!(text.contains("package `s`"), "{text}");
    }

    #[test]
    fn profile_and_builtins_and_locals() {
        let text = hover_text(&[
            ("a.policy", "package s\nsegment a = prof$0ile.age >= 18\n"),
            ("s.policy", SCHEMA),
        ]);
        assert!(
            text.contains("profile: Profile") && text.contains("A customer."),
            "{text}"
        );
        let text = hover_text(&[("a.policy", "package s\nsegment a = len$0(\"x\") > 0\n")]);
        assert!(text.contains("len(x: String"), "{text}");
        let text = hover_text(&[("a.policy", "package s\nfn f(n: Int) -> Int = n$0 + 1\n")]);
        assert!(text.contains("n: Int"), "{text}");
    }

    #[test]
    fn a_layer_clause_shows_the_layer() {
        let x = |name: &str, clause: &str| {
            format!("experiment {name} {{\n  salt \"{name}\"\n  {clause}\n  variant a 100%\n}}\n")
        };
        let text = hover_text(&[(
            "a.policy",
            &format!(
                "package s\n{}{}{}segment s = (x is a) or (y is a) or (z is a)\n",
                x("x", "lay$0er home 0% to 40%"),
                x("y", "layer home 60% to 100%"),
                x("z", "layer email 0% to 100%"),
            ),
        )]);
        assert!(text.contains("layer `home`"), "{text}");
        assert!(text.contains("`s.x`: 0% to 40% (this one)"), "{text}");
        assert!(text.contains("`s.y`: 60% to 100%"), "{text}");
        assert!(!text.contains("s.z"), "{text}");
        assert!(text.contains("Free: 40% to 60%."), "{text}");
    }

    #[test]
    fn literal_shows_its_type() {
        let text = hover_text(&[("a.policy", "package s\nconst c: Duration = 3$0d\n")]);
        assert!(text.contains("Duration"), "{text}");
    }
}
