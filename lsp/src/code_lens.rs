//! Code lenses over `test` blocks ("▶ Run test", "Explain"), and the commands they run.
//!
//! The commands run in the server on the latest analysis, with the compiler's test runner and
//! explainer: the same results `tailor test` and `tailor explain` print. Tests only run when
//! the workspace has no errors (only error-free bundles run).

use crate::workspace::Snapshot;
use tailor_compiler::syntax::ast;
use tailor_compiler::testing::{self, TestOutcome};
use tailor_compiler::FileId;
use tower_lsp_server::ls_types::{CodeLens, Command};

pub const RUN_TEST: &str = "tailor.runTest";
pub const EXPLAIN_TEST: &str = "tailor.explainTest";
pub const RUN_ALL_TESTS: &str = "tailor.runAllTests";

/// Every command the server executes.
pub const COMMANDS: &[&str] = &[RUN_TEST, EXPLAIN_TEST, RUN_ALL_TESTS];

pub fn code_lenses(snap: &Snapshot, file: FileId) -> Vec<CodeLens> {
    let Some(ast) = snap.ast(file) else { return Vec::new() };
    let mut out = Vec::new();
    for decl in &ast.decls {
        let ast::DeclKind::Test(t) = &decl.kind else { continue };
        let range = crate::position::range(snap.source(file), t.name.span);
        for (title, command) in [("▶ Run test", RUN_TEST), ("Explain", EXPLAIN_TEST)] {
            out.push(CodeLens {
                range,
                command: Some(Command {
                    title: title.into(),
                    command: command.into(),
                    arguments: Some(vec![serde_json::Value::String(t.name.value.clone())]),
                }),
                data: None,
            });
        }
    }
    out
}

/// The outcome of a command, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// One line for a notification.
    pub summary: String,
    /// The full report, for the output panel.
    pub details: String,
    pub ok: bool,
}

/// Runs the tests named `name` (exactly), or all of them without a name.
pub fn run_tests(snap: &Snapshot, name: Option<&str>) -> CommandOutput {
    if let Some(blocked) = blocked(snap) {
        return blocked;
    }
    let mut report = testing::run_tests(&snap.analysis.program, name);
    if let Some(name) = name {
        report.results.retain(|r| r.name == name);
    }
    let mut details = String::new();
    for r in &report.results {
        match &r.outcome {
            TestOutcome::Passed => details.push_str(&format!("PASS {}\n", r.name)),
            TestOutcome::Failed { failures } => {
                details.push_str(&format!("FAIL {}\n", r.name));
                for f in failures {
                    details.push_str(&format!("  {}\n", f.message));
                    if let Some(e) = &f.explanation {
                        details.push_str(&format!("{e}\n"));
                    }
                }
            }
            TestOutcome::Error(e) => details.push_str(&format!("ERROR {}: {e}\n", r.name)),
        }
    }
    let summary = match (name, report.results.as_slice()) {
        (Some(n), []) => format!("no test is named {n:?}"),
        (Some(_), [one]) => match one.outcome {
            TestOutcome::Passed => format!("test {:?} passed", one.name),
            _ => format!("test {:?} failed (details in the Tailor output)", one.name),
        },
        _ => format!(
            "{} passed, {} failed, {} could not run",
            report.passed(),
            report.failed(),
            report.errors()
        ),
    };
    CommandOutput {
        ok: report.all_passed() && !report.results.is_empty(),
        summary,
        details,
    }
}

/// The explanation of one test's decisions.
pub fn explain(snap: &Snapshot, name: &str) -> CommandOutput {
    if let Some(blocked) = blocked(snap) {
        return blocked;
    }
    match testing::explain_test(&snap.analysis.program, name) {
        Ok(text) => CommandOutput {
            summary: format!("explanation of {name:?} is in the Tailor output"),
            details: text,
            ok: true,
        },
        Err(e) => CommandOutput {
            summary: e.to_string(),
            details: e.to_string(),
            ok: false,
        },
    }
}

fn blocked(snap: &Snapshot) -> Option<CommandOutput> {
    snap.analysis.has_errors().then(|| CommandOutput {
        summary: format!(
            "the policies have {} error(s); fix them before running tests",
            snap.analysis.error_count()
        ),
        details: String::new(),
        ok: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::snapshot;

    const FILE: &str = "package a\nsegment yes = true\ntest \"yes holds\" {\n  expect yes\n}\ntest \"yes fails\" {\n  expect not yes\n}\n";

    #[test]
    fn lenses_over_tests_and_running_them() {
        let (snap, ids) = snapshot(&[("a.policy", FILE)]);
        assert_eq!(code_lenses(&snap, ids[0]).len(), 4);
        let out = run_tests(&snap, Some("yes holds"));
        assert!(out.ok, "{out:?}");
        assert_eq!(out.summary, "test \"yes holds\" passed");
        let out = run_tests(&snap, Some("yes fails"));
        assert!(!out.ok && out.details.contains("FAIL"), "{out:?}");
        let out = run_tests(&snap, None);
        assert_eq!(out.summary, "1 passed, 1 failed, 0 could not run");
    }
}
