//! Name resolution: packages, their members, imports and what a name in a file refers to.
//!
//! [`Symbols::collect`] gives every top-level declaration of every file an id of its kind (the
//! index it will have in the IR's tables), groups them by package, and checks imports. The type
//! checker then asks a [`FileScope`] what a name means. Local names (parameters, quantifier and
//! `if let` variables) are the checker's business.

use crate::diagnostics::{did_you_mean, Code, Diagnostic, Edit};
use crate::ir;
use crate::source::{FileId, Span};
use crate::syntax::ast;
use std::collections::{BTreeMap, HashMap};

/// What a top-level name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclRef {
    Enum(ir::EnumId),
    Schema(ir::SchemaId),
    Const(ir::ConstId),
    Segment(ir::SegmentId),
    Function(ir::FunctionId),
    Table(ir::TableId),
    Eligibility(ir::EligibilityId),
    Ranking(ir::RankingId),
    Experiment(ir::ExperimentId),
    Decision(ir::DecisionId),
}

impl DeclRef {
    /// The kind, as a user would say it ("a segment").
    pub fn describe(self) -> &'static str {
        match self {
            DeclRef::Enum(_) => "an enum",
            DeclRef::Schema(_) => "a schema",
            DeclRef::Const(_) => "a constant",
            DeclRef::Segment(_) => "a segment",
            DeclRef::Function(_) => "a function",
            DeclRef::Table(_) => "a table",
            DeclRef::Eligibility(_) => "an eligibility block",
            DeclRef::Ranking(_) => "a ranking",
            DeclRef::Experiment(_) => "an experiment",
            DeclRef::Decision(_) => "a decision",
        }
    }
}

/// Where a declaration is.
#[derive(Debug, Clone)]
pub struct DeclInfo {
    pub package: String,
    pub name: String,
    /// The span of its name.
    pub name_span: Span,
    /// Index of the file in the checked list, and of the declaration in that file.
    pub file_index: usize,
    pub decl_index: usize,
}

impl DeclInfo {
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.package, self.name)
    }
}

/// An import that resolved.
#[derive(Debug, Clone)]
pub struct ImportBinding {
    pub target: DeclRef,
    pub span: Span,
}

/// The names one file sees besides its own package's members and `std`.
#[derive(Debug, Clone, Default)]
pub struct FileScope {
    pub package: String,
    pub imports: HashMap<String, ImportBinding>,
}

/// All top-level names of a bundle.
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// package name → member name → declaration.
    pub packages: BTreeMap<String, HashMap<String, DeclRef>>,
    pub decls: HashMap<DeclRef, DeclInfo>,
    /// One per checked file, in order (files without a package get an empty scope).
    pub scopes: Vec<FileScope>,
    /// Ids handed out so far, per kind, in [`DeclRef`] order.
    pub counts: [u32; 10],
    /// Per file: names whose import failed (already reported), so their uses stay quiet.
    pub poisoned: Vec<Vec<String>>,
    /// Per package: names of declarations that failed to parse.
    pub broken: BTreeMap<String, Vec<String>>,
}

/// The package every file sees.
pub const STD: &str = "std";

fn kind_index(kind: &ast::DeclKind) -> Option<usize> {
    Some(match kind {
        ast::DeclKind::Enum(_) => 0,
        ast::DeclKind::Schema(_) => 1,
        ast::DeclKind::Const(_) => 2,
        ast::DeclKind::Segment(_) => 3,
        ast::DeclKind::Fn(_) => 4,
        ast::DeclKind::Table(_) => 5,
        ast::DeclKind::Eligibility(_) => 6,
        ast::DeclKind::Ranking(_) => 7,
        ast::DeclKind::Experiment(_) => 8,
        ast::DeclKind::Decision(_) => 9,
        ast::DeclKind::Test(_) | ast::DeclKind::Error => return None,
    })
}

fn make_ref(kind: usize, id: u32) -> DeclRef {
    match kind {
        0 => DeclRef::Enum(id),
        1 => DeclRef::Schema(id),
        2 => DeclRef::Const(id),
        3 => DeclRef::Segment(id),
        4 => DeclRef::Function(id),
        5 => DeclRef::Table(id),
        6 => DeclRef::Eligibility(id),
        7 => DeclRef::Ranking(id),
        8 => DeclRef::Experiment(id),
        _ => DeclRef::Decision(id),
    }
}

impl Symbols {
    /// Collects declarations and resolves imports. `files[0]` must be the prelude.
    pub fn collect(files: &[(FileId, &ast::File)], diags: &mut Vec<Diagnostic>) -> Symbols {
        let mut s = Symbols::default();
        for (file_index, (_, file)) in files.iter().enumerate() {
            let Some(package) = &file.package else {
                continue;
            };
            let package = package.dotted();
            s.broken
                .entry(package.clone())
                .or_default()
                .extend(file.broken_names.iter().cloned());
            let members = s.packages.entry(package.clone()).or_default();
            for (decl_index, decl) in file.decls.iter().enumerate() {
                let (Some(kind), Some(name)) = (kind_index(&decl.kind), decl.name()) else {
                    continue;
                };
                let id = s.counts[kind];
                s.counts[kind] += 1;
                let r = make_ref(kind, id);
                if let Some(prev) = members.get(&name.name) {
                    let prev_span = s.decls.get(prev).map(|i| i.name_span).unwrap_or_default();
                    diags.push(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            name.span,
                            format!("`{}` is defined twice in package `{}`", name.name, package),
                        )
                        .with_label("defined again here")
                        .with_secondary(prev_span, "first defined here")
                        .with_help("rename one of them"),
                    );
                } else {
                    members.insert(name.name.clone(), r);
                }
                s.decls.insert(
                    r,
                    DeclInfo {
                        package: package.clone(),
                        name: name.name.clone(),
                        name_span: name.span,
                        file_index,
                        decl_index,
                    },
                );
            }
        }
        for (_, file) in files {
            let scope = match &file.package {
                Some(p) => s.resolve_imports(&p.dotted(), file, diags),
                None => FileScope::default(),
            };
            let poisoned = file
                .imports
                .iter()
                .flat_map(|i| i.members.iter())
                .filter(|m| !scope.imports.contains_key(&m.name))
                .map(|m| m.name.clone())
                .collect();
            s.poisoned.push(poisoned);
            s.scopes.push(scope);
        }
        s
    }

    /// Whether `name` in this file comes from an import that failed.
    pub fn is_poisoned(&self, file_index: usize, name: &str) -> bool {
        let package = self.scopes.get(file_index).map(|s| s.package.as_str());
        let imported = self
            .poisoned
            .get(file_index)
            .is_some_and(|p| p.iter().any(|n| n == name));
        let broken = self
            .broken
            .get(package.unwrap_or_default())
            .is_some_and(|b| b.iter().any(|n| n == name));
        (imported || broken) && self.lookup(file_index, name).is_none()
    }

    fn resolve_imports(&self, package: &str, file: &ast::File, diags: &mut Vec<Diagnostic>) -> FileScope {
        let mut scope = FileScope {
            package: package.to_string(),
            imports: HashMap::new(),
        };
        let own = self.packages.get(package);
        for import in &file.imports {
            let target = import.package.dotted();
            if target == package {
                diags.push(
                    Diagnostic::new(
                        Code::SelfImport,
                        import.package.span,
                        format!("package `{package}` imports itself"),
                    )
                    .with_label("this is the current package")
                    .with_help("members of a package are visible in all its files without an import"),
                );
                continue;
            }
            let Some(members) = self.packages.get(&target) else {
                let names = self.packages.keys().map(String::as_str);
                let mut d = Diagnostic::new(
                    Code::UnknownPackage,
                    import.package.span,
                    format!("no package named `{target}`"),
                )
                .with_label("no file declares this package");
                if let Some(s) = did_you_mean(&target, names) {
                    d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                        format!("replace with `{s}`"),
                        vec![Edit {
                            span: import.package.span,
                            text: s.clone(),
                        }],
                        false,
                    );
                } else {
                    d = d.with_help("check the package line of the file you mean to import, and that it is among the paths being checked");
                }
                diags.push(d);
                continue;
            };
            for member in &import.members {
                let Some(&target_ref) = members.get(&member.name) else {
                    let mut d = Diagnostic::new(
                        Code::UnknownImport,
                        member.span,
                        format!("package `{target}` has no member `{}`", member.name),
                    )
                    .with_label("not defined there");
                    if let Some(s) = did_you_mean(&member.name, members.keys().map(String::as_str)) {
                        d = d.with_help(format!("did you mean `{s}`?")).with_fix(
                            format!("replace with `{s}`"),
                            vec![Edit {
                                span: member.span,
                                text: s.clone(),
                            }],
                            false,
                        );
                    }
                    diags.push(d);
                    continue;
                };
                let clash_local = own.and_then(|m| m.get(&member.name)).copied();
                if let Some(local) = clash_local {
                    let local_span = self.decls.get(&local).map(|i| i.name_span).unwrap_or_default();
                    diags.push(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            member.span,
                            format!("`{}` is imported but also defined in package `{package}`", member.name),
                        )
                        .with_label("imported here")
                        .with_secondary(local_span, "defined here")
                        .with_help("rename the local definition, or drop the import"),
                    );
                    continue;
                }
                if let Some(prev) = scope.imports.get(&member.name) {
                    if prev.target != target_ref {
                        diags.push(
                            Diagnostic::new(
                                Code::DuplicateDefinition,
                                member.span,
                                format!("`{}` is imported twice, from different packages", member.name),
                            )
                            .with_label("imported again here")
                            .with_secondary(prev.span, "first imported here"),
                        );
                    }
                    continue;
                }
                scope.imports.insert(
                    member.name.clone(),
                    ImportBinding {
                        target: target_ref,
                        span: member.span,
                    },
                );
            }
        }
        scope
    }

    /// What `name` means in the file with index `file_index`: its package's members, then its
    /// imports, then `std`.
    pub fn lookup(&self, file_index: usize, name: &str) -> Option<DeclRef> {
        let scope = self.scopes.get(file_index)?;
        if let Some(r) = self.packages.get(&scope.package).and_then(|m| m.get(name)) {
            return Some(*r);
        }
        if let Some(b) = scope.imports.get(name) {
            return Some(b.target);
        }
        self.packages.get(STD).and_then(|m| m.get(name)).copied()
    }

    /// Every name visible in a file, for did-you-mean suggestions and completion.
    pub fn visible_names(&self, file_index: usize) -> Vec<(String, DeclRef)> {
        let mut out = Vec::new();
        if let Some(scope) = self.scopes.get(file_index) {
            if let Some(m) = self.packages.get(&scope.package) {
                out.extend(m.iter().map(|(k, v)| (k.clone(), *v)));
            }
            out.extend(scope.imports.iter().map(|(k, v)| (k.clone(), v.target)));
        }
        if let Some(m) = self.packages.get(STD) {
            out.extend(m.iter().map(|(k, v)| (k.clone(), *v)));
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn info(&self, r: DeclRef) -> Option<&DeclInfo> {
        self.decls.get(&r)
    }
}
