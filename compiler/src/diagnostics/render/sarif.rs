//! SARIF 2.1.0 rendering, for code-scanning services (GitHub, GitLab, Azure DevOps).
//!
//! One run with one tool component, `tailor`, whose rules are the whole code table in table
//! order, so a result's `ruleIndex` is its code's index in [`Code::ALL`]. Locations use 1-based
//! lines and UTF-16 columns (SARIF's default `columnKind`, stated explicitly in the run), with
//! exclusive ends. URIs are the display names the files were loaded under, with forward slashes.
//! Secondary labels become `relatedLocations`; a [`Fix`] becomes one SARIF fix, its safety kept
//! in the fix's property bag because SARIF has no field for it.

use super::{explanation_markdown, path_to_uri, ColumnUnit, Region};
use crate::diagnostics::codes::{Code, Status};
use crate::diagnostics::{Diagnostic, Fix, Severity};
use crate::source::{SourceMap, Span};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The SARIF schema this output follows.
const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where SARIF viewers send people to learn about the tool (`tool.driver.informationUri`).
// FIXME: the project has no public home yet; point this at its documentation once it has one.
pub const INFORMATION_URI: &str = "https://example.invalid/tailor/docs/diagnostics.md";

/// Renders diagnostics as a SARIF 2.1.0 log with one run. `tool_version` is the version of the
/// `tailor` binary, reported as the driver's `version`.
pub fn render_sarif(diags: &[Diagnostic], sources: &SourceMap, tool_version: &str) -> Value {
    let rules: Vec<Value> = Code::ALL.iter().map(|&code| rule(code)).collect();
    let results: Vec<Value> = diags.iter().map(|d| result(d, sources)).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "tailor",
                    "version": tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Hint => "note",
    }
}

/// A `reportingDescriptor` for one code of the table.
fn rule(code: Code) -> Value {
    let info = code.info();
    let markdown = explanation_markdown(code);
    // The first paragraph of an explanation says what the code means.
    let first_paragraph = markdown.split("\n\n").next().unwrap_or(info.summary).replace('\n', " ");
    let mut configuration = json!({ "level": level(info.severity) });
    if info.status == Status::Retired {
        configuration["enabled"] = json!(false);
    }
    json!({
        "id": info.id,
        "name": info.name,
        "shortDescription": { "text": info.summary },
        "fullDescription": { "text": first_paragraph },
        "help": { "text": markdown, "markdown": markdown },
        "defaultConfiguration": configuration,
    })
}

fn result(diag: &Diagnostic, sources: &SourceMap) -> Value {
    // SARIF messages are plain text: the help and notes follow the message on their own lines,
    // so a viewer that shows only the message still shows the suggested fix.
    let mut text = diag.message.clone();
    if let Some(help) = &diag.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    for note in &diag.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }

    let mut primary = physical_location(sources, diag.primary.span);
    if !diag.primary.message.is_empty() {
        primary["message"] = json!({ "text": diag.primary.message });
    }
    let index = Code::ALL.iter().position(|&c| c == diag.code).unwrap_or(0);
    let mut result = json!({
        "ruleId": diag.code.id(),
        "ruleIndex": index,
        "level": level(diag.severity),
        "message": { "text": text },
        "locations": [primary],
    });
    if !diag.secondary.is_empty() {
        let related: Vec<Value> = diag
            .secondary
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let mut location = physical_location(sources, label.span);
                location["id"] = json!(i);
                if !label.message.is_empty() {
                    location["message"] = json!({ "text": label.message });
                }
                location
            })
            .collect();
        result["relatedLocations"] = json!(related);
    }
    // SARIF requires at least one change per fix; a fix without edits says nothing to apply.
    if let Some(fix) = diag.fix.as_ref().filter(|f| !f.edits.is_empty()) {
        result["fixes"] = json!([sarif_fix(sources, fix)]);
    }
    result
}

/// A `location` object holding only a `physicalLocation`.
fn physical_location(sources: &SourceMap, span: Span) -> Value {
    let r = Region::of(sources, span, ColumnUnit::Utf16);
    json!({
        "physicalLocation": {
            "artifactLocation": { "uri": path_to_uri(&r.file) },
            "region": region(&r),
        }
    })
}

fn region(r: &Region) -> Value {
    json!({
        "startLine": r.line,
        "startColumn": r.column,
        "endLine": r.end_line,
        "endColumn": r.end_column,
    })
}

/// A SARIF `fix`: the edits grouped into one `artifactChange` per file, files in name order and
/// edits in the order the fix lists them.
fn sarif_fix(sources: &SourceMap, fix: &Fix) -> Value {
    let mut by_file: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for edit in &fix.edits {
        let r = Region::of(sources, edit.span, ColumnUnit::Utf16);
        by_file.entry(path_to_uri(&r.file)).or_default().push(json!({
            "deletedRegion": region(&r),
            "insertedContent": { "text": edit.text },
        }));
    }
    let changes: Vec<Value> = by_file
        .into_iter()
        .map(|(uri, replacements)| json!({ "artifactLocation": { "uri": uri }, "replacements": replacements }))
        .collect();
    json!({
        "description": { "text": fix.title },
        "artifactChanges": changes,
        "properties": { "safe": fix.safe },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Edit;

    fn sample() -> (SourceMap, Vec<Diagnostic>) {
        let text = "package p\nsegment s = \"😀\" == profile.lifetime_valeu\n";
        let mut sources = SourceMap::new();
        let id = sources.add("policies/p.policy", text);
        let start = text.find("lifetime_valeu").unwrap();
        let span = Span::new(id, start, start + 14);
        let error = Diagnostic::new(Code::UnknownField, span, "unknown field `lifetime_valeu`")
            .with_label("`Profile` has no such field")
            .with_secondary(Span::new(id, 8, 9), "package declared here")
            .with_help("did you mean `lifetime_value`?")
            .with_fix(
                "replace with `lifetime_value`",
                vec![Edit {
                    span,
                    text: "lifetime_value".into(),
                }],
                true,
            );
        let warning = Diagnostic::new(Code::UnusedSegment, Span::new(id, 18, 19), "unused segment `s`")
            .with_note("segments are free to keep");
        (sources, vec![error, warning])
    }

    #[test]
    fn log_has_the_required_shape() {
        let (sources, diags) = sample();
        let log = render_sarif(&diags, &sources, "0.1.0");
        assert_eq!(log["version"], "2.1.0");
        assert!(log["$schema"].as_str().unwrap().contains("sarif-schema-2.1.0"));
        let run = &log["runs"][0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "tailor");
        assert_eq!(driver["version"], "0.1.0");
        assert!(driver["informationUri"].as_str().unwrap().starts_with("https://"));

        let rules = driver["rules"].as_array().unwrap();
        assert_eq!(rules.len(), Code::ALL.len());
        for (rule, code) in rules.iter().zip(Code::ALL) {
            assert_eq!(rule["id"], code.id());
            assert_eq!(rule["name"], code.name());
            assert!(!rule["shortDescription"]["text"].as_str().unwrap().is_empty());
            assert!(!rule["fullDescription"]["text"].as_str().unwrap().is_empty());
            assert!(!rule["help"]["markdown"].as_str().unwrap().is_empty());
            assert_eq!(rule["help"]["text"], rule["help"]["markdown"]);
        }

        let results = run["results"].as_array().unwrap();
        for result in results {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
        }
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[1]["level"], "warning");
        assert_eq!(
            rules[results[1]["ruleIndex"].as_u64().unwrap() as usize]["defaultConfiguration"]["level"],
            "warning"
        );
        assert_eq!(
            results[0]["message"]["text"],
            "unknown field `lifetime_valeu`\nhelp: did you mean `lifetime_value`?"
        );
        assert_eq!(
            results[1]["message"]["text"],
            "unused segment `s`\nnote: segments are free to keep"
        );
        assert!(results[1].get("fixes").is_none());
        assert!(results[1].get("relatedLocations").is_none());
    }

    #[test]
    fn columns_are_utf16_code_units() {
        let (sources, diags) = sample();
        let log = render_sarif(&diags, &sources, "0.1.0");
        let result = &log["runs"][0]["results"][0];
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "policies/p.policy");
        // `segment s = "😀" == profile.` is 27 characters, but the emoji is 2 UTF-16 units.
        assert_eq!(
            location["region"],
            json!({ "startLine": 2, "startColumn": 29, "endLine": 2, "endColumn": 43 })
        );
        assert_eq!(result["locations"][0]["message"]["text"], "`Profile` has no such field");

        let related = &result["relatedLocations"][0];
        assert_eq!(related["id"], 0);
        assert_eq!(related["message"]["text"], "package declared here");
        assert_eq!(
            related["physicalLocation"]["region"],
            json!({ "startLine": 1, "startColumn": 9, "endLine": 1, "endColumn": 10 })
        );

        let fix = &result["fixes"][0];
        assert_eq!(fix["description"]["text"], "replace with `lifetime_value`");
        assert_eq!(fix["properties"]["safe"], true);
        let change = &fix["artifactChanges"][0];
        assert_eq!(change["artifactLocation"]["uri"], "policies/p.policy");
        assert_eq!(change["replacements"][0]["deletedRegion"], location["region"]);
        assert_eq!(change["replacements"][0]["insertedContent"]["text"], "lifetime_value");
    }

    #[test]
    fn fixes_without_edits_are_left_out() {
        let (sources, mut diags) = sample();
        if let Some(fix) = diags[0].fix.as_mut() {
            fix.edits.clear();
        }
        let log = render_sarif(&diags, &sources, "0.1.0");
        assert!(log["runs"][0]["results"][0].get("fixes").is_none());
    }

    #[test]
    fn empty_log_is_still_valid() {
        let log = render_sarif(&[], &SourceMap::new(), "0.1.0");
        assert_eq!(log["runs"][0]["results"], json!([]));
    }
}
