//! Signature help: the parameters of the call the cursor is in, with the current one marked.
//!
//! The call is found with the compiler's lexer (so strings and comments do not confuse the
//! parenthesis count); the callee is looked up in the file's scope: a built-in function, or a
//! function, table, eligibility block or ranking of the workspace.

use crate::workspace::Snapshot;
use tailor_compiler::resolve::DeclRef;
use tailor_compiler::syntax::{ast, lexer, lexer::TokenKind};
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp, SignatureInformation,
};

pub fn signature_help(snap: &Snapshot, file: FileId, offset: usize) -> Option<SignatureHelp> {
    let text = &snap.source(file).text;
    let offset = offset.min(text.len());
    let tokens = lexer::tokenize(text.get(..offset)?);
    let (name, active) = enclosing_call(text, &tokens)?;
    let (label, params, doc) = signature(snap, file, name)?;
    let parameters = params
        .into_iter()
        .map(|p| ParameterInformation {
            label: ParameterLabel::Simple(p),
            documentation: None,
        })
        .collect();
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: doc.map(|d| {
                Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: d,
                })
            }),
            parameters: Some(parameters),
            active_parameter: Some(active),
        }],
        active_signature: Some(0),
        active_parameter: Some(active),
    })
}

/// The name of the innermost unclosed call before the end of `tokens`, and the index of the
/// argument the end is in.
fn enclosing_call<'t>(text: &'t str, tokens: &[lexer::Token]) -> Option<(&'t str, u32)> {
    let mut depth = 0i32;
    let mut commas = 0u32;
    for (i, t) in tokens.iter().enumerate().rev() {
        match t.kind {
            TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => depth += 1,
            TokenKind::LBracket | TokenKind::LBrace if depth > 0 => depth -= 1,
            TokenKind::LParen if depth > 0 => depth -= 1,
            TokenKind::LBracket | TokenKind::LBrace => return None,
            TokenKind::LParen => {
                let callee = tokens.get(i.checked_sub(1)?)?;
                return (callee.kind == TokenKind::Word).then(|| (&text[callee.start..callee.end], commas));
            }
            TokenKind::Punct if depth == 0 && &text[t.start..t.end] == "," => commas += 1,
            _ => {}
        }
    }
    None
}

/// The label, the parameters' labels and the documentation of a callee.
fn signature(snap: &Snapshot, file: FileId, name: &str) -> Option<(String, Vec<String>, Option<String>)> {
    if name == "now" {
        return Some((
            "now() -> Timestamp".into(),
            Vec::new(),
            Some("The request time.".into()),
        ));
    }
    let fi = snap.file_index(file)?;
    if let Some(r) = snap.analysis.facts.symbols.lookup(fi, name) {
        let (_, decl) = snap.decl(r)?;
        let slice = |t: &ast::TypeExpr| snap.analysis.sources.slice(t.span).to_string();
        let param = |p: &ast::Param| format!("{}: {}", p.name.name, slice(&p.ty));
        let (params, ret) = match (&decl.kind, r) {
            (ast::DeclKind::Fn(f), DeclRef::Function(_)) => {
                (f.params.iter().map(param).collect::<Vec<_>>(), slice(&f.ret))
            }
            (ast::DeclKind::Table(t), DeclRef::Table(_)) => (t.params.iter().map(param).collect(), slice(&t.output)),
            (ast::DeclKind::Eligibility(e), _) => (vec![param(&e.binder)], "Bool".into()),
            (ast::DeclKind::Ranking(k), _) => (vec![param(&k.binder)], "Float".into()),
            _ => return None,
        };
        let label = format!("{name}({}) -> {ret}", params.join(", "));
        return Some((label, params, decl.doc.clone()));
    }
    let doc = tailor_compiler::stdlib::FUNCTIONS.iter().find(|f| f.name == name)?;
    let inner = doc.signature.split_once('(')?.1.rsplit_once(')')?.0;
    let params = if inner.is_empty() {
        Vec::new()
    } else {
        inner.split(", ").map(str::to_string).collect()
    };
    Some((doc.signature.to_string(), params, Some(doc.doc.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot_at;

    fn help(files: &[(&str, &str)]) -> Option<(String, u32)> {
        let (snap, ids, cursor) = snapshot_at(files);
        let h = signature_help(&snap, ids[0], cursor)?;
        Some((h.signatures[0].label.clone(), h.active_parameter?))
    }

    #[test]
    fn builtin_and_user_functions() {
        assert_eq!(
            help(&[("a.policy", "package a\nconst c: Int = clamp(1, $0\n")]),
            Some(("clamp(x: T, lo: T, hi: T) -> T".into(), 1))
        );
        assert_eq!(
            help(&[(
                "a.policy",
                "package a\nfn f(a: Int, b: String) -> Int = a\nconst c: Int = f(len(\"x,y\"), $0)\n"
            )]),
            Some(("f(a: Int, b: String) -> Int".into(), 1))
        );
        assert_eq!(help(&[("a.policy", "package a\nconst c: Int = 1 $0\n")]), None);
    }
}
