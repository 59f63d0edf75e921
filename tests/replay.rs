//! End to end: decisions made by the real server are exported with `tailor audit export` and run
//! again with `tailor replay`, from the export file and from the store; a tampered record is
//! reported unreproducible; and a candidate bundle's what-if report names exactly the decisions
//! that a direct comparison (both bundles, through the compiler's `Bundle` API) shows change.

mod server_support;

use serde_json::{json, Value};
use server_support::{decide_body, root, tailor, Server, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tailor_compiler::interp::{value_from_json, Env, Impression};
use tailor_compiler::ir::Type;
use tailor_compiler::{Backend, Bundle, SourceMap};

const PLACEMENTS: [(&str, &str); 4] = [
    ("Web", "home.hero"),
    ("Web", "home.recs"),
    ("App", "checkout.upsell"),
    ("Email", "email.winback"),
];

/// What the test's own server run produced.
struct Logged {
    /// decision id → subject id (the log keeps only the subject's hash).
    subjects: BTreeMap<String, String>,
    offers: Vec<Value>,
}

/// Decides for demo subjects at every placement (with a few views first, so caps are in the
/// inputs), then stops the server.
fn make_decisions(data: &Path) -> Logged {
    let mut server = Server::start(data, true, &[]);
    let mut subjects = BTreeMap::new();
    let first = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    subjects.insert(
        first["decision_id"].as_str().unwrap_or_default().to_string(),
        "u-00024".to_string(),
    );
    for _ in 0..3 {
        server_support::view(&server, &first, None);
    }
    for i in (1..=5000).step_by(173) {
        let id = format!("u-{i:05}");
        for (channel, placement) in PLACEMENTS {
            let r = server.decide(&decide_body(&id, channel, placement));
            assert_eq!(r["logged"], true);
            subjects.insert(r["decision_id"].as_str().unwrap_or_default().to_string(), id.clone());
        }
    }
    let r = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    subjects.insert(
        r["decision_id"].as_str().unwrap_or_default().to_string(),
        "u-00024".to_string(),
    );
    let (_, catalog) = server.get("/admin/catalog/demo");
    let offers = catalog["offers"].as_array().cloned().unwrap_or_default();
    server.kill();
    Logged { subjects, offers }
}

fn export(data: &Path, out: &Path) -> Vec<Value> {
    let (code, _, err) = tailor(&[
        "audit",
        "export",
        "--data",
        &data.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::read_to_string(out)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record per line"))
        .collect()
}

fn replay(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--subjects", "examples/profiles.jsonl", "--format", "json"]);
    let (code, out, err) = tailor(&all);
    let report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    // stderr is not a terminal here: no progress bar.
    assert!(!err.contains("replaying"), "{err}");
    (code, report)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn compile_dir(dir: &Path) -> Bundle {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "policy") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut map = SourceMap::new();
    for f in files {
        map.add(f.display().to_string(), std::fs::read_to_string(&f).expect("policy"));
    }
    Bundle::compile(map).expect("compiles")
}

/// What a decision shows, as the what-if report compares it: ids, fallback reason, variant.
fn shown_by(
    bundle: &Bundle,
    offers: &[Value],
    record: &Value,
    subject: &str,
) -> (Vec<String>, Option<String>, Option<String>) {
    let p = bundle.program();
    let schema = p.eligibilities[p.decisions[0].candidates as usize].schema;
    let catalog = bundle.prepare_catalog_json(schema, offers).expect("catalog");
    let inputs = &record["inputs"];
    let channels = &p.enums[p.builtins.channel as usize].variants;
    let env = Env {
        profile: Some(
            value_from_json(p, &Type::Record(p.profile.expect("Profile")), &inputs["profile"]).expect("profile"),
        ),
        context: value_from_json(p, &Type::Record(p.builtins.context), &inputs["context"]).expect("context"),
        now_ms: inputs["now_ms"].as_i64().expect("now"),
        subject: Arc::from(subject),
        consents: serde_json::from_value(inputs["consents"].clone()).expect("consents"),
        impressions: inputs["impressions"]
            .as_array()
            .expect("impressions")
            .iter()
            .map(|i| Impression {
                offer_id: i["offer_id"].as_str().unwrap_or_default().into(),
                placement: i["placement"].as_str().unwrap_or_default().into(),
                channel: channels.iter().position(|c| i["channel"] == c.as_str()).unwrap_or(0) as u32,
                at_ms: i["at_ms"].as_i64().unwrap_or(0),
            })
            .collect(),
    };
    let d = p
        .decision_for_placement(record["placement"].as_str().unwrap_or_default())
        .expect("decision");
    let o = bundle
        .decide(Backend::Interpreter, &env, d, &catalog, None)
        .expect("decides");
    match &o.fallback {
        Some(f) => (
            f.content_id.iter().cloned().collect(),
            serde_json::to_value(f.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string)),
            o.variant.clone(),
        ),
        None => (
            o.offers.iter().map(|c| c.id.to_string()).collect(),
            None,
            o.variant.clone(),
        ),
    }
}

#[test]
fn exported_and_stored_records_replay_exactly_and_a_candidate_reports_its_changes() {
    let dir = TempDir::new("replay");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let logged = make_decisions(&data);
    let data_arg = data.display().to_string();

    // Export: every decision, one record per line, in log order.
    let file = dir.0.join("audit.jsonl");
    let records = export(&data, &file);
    assert_eq!(records.len(), logged.subjects.len());
    let ids: Vec<&str> = records.iter().filter_map(|r| r["decision_id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "log order");
    assert!(records
        .iter()
        .any(|r| r["inputs"]["impressions"].as_array().is_some_and(|i| i.len() == 3)));
    let file_arg = file.display().to_string();

    // From the file (bundles from the store) and from the store, on both backends: all
    // identical.
    for args in [
        vec!["replay", "--file", &file_arg, "--data", &data_arg],
        vec!["replay", "--data", &data_arg],
        vec!["replay", "--data", &data_arg, "--backend", "jit"],
    ] {
        let (code, report) = replay(&args);
        assert_eq!(code, 0, "{report:#}");
        assert_eq!(report["total"], records.len());
        assert_eq!(report["identical"], records.len(), "{report:#}");
    }

    // Filters: one decision by id; a time range with nothing in it.
    let (code, report) = replay(&[
        "replay",
        "--file",
        &file_arg,
        "--data",
        &data_arg,
        "--decision-id",
        ids[3],
    ]);
    assert_eq!(
        (code, report["total"].clone(), report["identical"].clone()),
        (0, json!(1), json!(1))
    );
    let (code, report) = replay(&["replay", "--data", &data_arg, "--since", "2030-01-01T00:00:00Z"]);
    assert_eq!((code, report["total"].clone()), (0, json!(0)));
    let (code, _, err) = tailor(&["replay", "--data", &data_arg, "--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");

    // A record whose bundle hash was altered is unreproducible, not a mismatch.
    let mut lines: Vec<String> = std::fs::read_to_string(&file)
        .expect("export")
        .lines()
        .map(str::to_string)
        .collect();
    let mut first: Value = serde_json::from_str(&lines[0]).expect("record");
    first["bundle"]["hash"] = json!("0".repeat(64));
    lines[0] = first.to_string();
    let tampered = dir.0.join("tampered.jsonl");
    std::fs::write(&tampered, lines.join("\n")).expect("write");
    let (code, report) = replay(&["replay", "--file", &tampered.display().to_string(), "--data", &data_arg]);
    assert_eq!(code, 1);
    assert_eq!(report["unreproducible"], 1);
    assert_eq!(report["identical"], records.len() - 1);
    assert_eq!(report["records"][0]["status"], "unreproducible");
    assert!(
        report["records"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("tampered")),
        "{:#}",
        report["records"][0]
    );

    // A candidate whose hero no longer takes countdown offers.
    let candidate = dir.0.join("candidate");
    copy_dir(&root().join("policies"), &candidate);
    let home = candidate.join("retail/home.policy");
    let text = std::fs::read_to_string(&home).expect("home.policy");
    let edited = text.replace(
        "deny basket_content: offer.kind in basket_kinds because",
        "deny basket_content: offer.kind in basket_kinds or offer.tags contains \"countdown\" because",
    );
    assert_ne!(edited, text);
    std::fs::write(&home, edited).expect("write");
    let (code, what_if) = replay(&[
        "replay",
        "--data",
        &data_arg,
        "--candidate",
        &candidate.display().to_string(),
    ]);
    assert_eq!(code, 0, "{what_if:#}");

    let (old, new) = (compile_dir(&root().join("policies")), compile_dir(&candidate));
    let mut expected = BTreeSet::new();
    for r in &records {
        let id = r["decision_id"].as_str().unwrap_or_default();
        let subject = &logged.subjects[id];
        if shown_by(&old, &logged.offers, r, subject) != shown_by(&new, &logged.offers, r, subject) {
            expected.insert(id.to_string());
        }
    }
    assert!(!expected.is_empty(), "the candidate changes something");
    let reported: BTreeSet<String> = what_if["changed_decisions"]
        .as_array()
        .expect("changed_decisions")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(reported, expected);
    assert_eq!(what_if["compared"], records.len());
    assert_eq!(what_if["changed"], expected.len());
    let per_placement: usize = what_if["per_placement"]
        .as_object()
        .expect("per placement")
        .values()
        .map(|p| p["changed"].as_u64().unwrap_or(0) as usize)
        .sum();
    assert_eq!(per_placement, expected.len());
    assert_eq!(
        what_if["per_placement"]["home.hero"]["changed"],
        expected.len(),
        "only the hero changed"
    );
    let per_offer: usize = what_if["per_offer"]
        .as_object()
        .expect("per offer")
        .values()
        .map(|c| c["count"].as_u64().unwrap_or(0) as usize)
        .sum();
    assert_eq!(per_offer, expected.len());

    // The text report says the same.
    let (code, text, _) = tailor(&[
        "replay",
        "--data",
        &data_arg,
        "--subjects",
        "examples/profiles.jsonl",
        "--candidate",
        &candidate.display().to_string(),
    ]);
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!(
            "{} of {} compared decision(s) would change",
            expected.len(),
            records.len()
        )),
        "{text}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = tailor(&["replay", "--subjects", "examples/profiles.jsonl"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = tailor(&["audit", "export", "--data", "/nonexistent/tailor-data"]);
    assert_eq!(code, 2);
    assert!(err.contains("no data directory"), "{err}");
}

/// The decisions a candidate changes among `records`, by a direct comparison of both bundles
/// through the compiler's `Bundle` API (not through replay).
fn changed_directly(
    candidate: &Path,
    records: &[Value],
    offers: &[Value],
    subjects: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let (old, new) = (compile_dir(&root().join("policies")), compile_dir(candidate));
    records
        .iter()
        .filter_map(|r| {
            let id = r["decision_id"].as_str()?;
            let subject = subjects.get(id)?;
            (shown_by(&old, offers, r, subject) != shown_by(&new, offers, r, subject)).then(|| id.to_string())
        })
        .collect()
}

/// The recommendations strip shows three tiles instead of four (only `home.policy` is edited;
/// the bundle's own tests still pass, so the deploy reaches the what-if).
fn three_recs(name: &str, text: String) -> String {
    if !name.ends_with("home.policy") {
        return text;
    }
    text.replace("  max 4\n", "  max 3\n")
}

#[test]
fn deploys_are_gated_on_a_what_if_replay_of_recent_decisions() {
    let dir = TempDir::new("what-if-deploy");
    let server = Server::demo(&dir);
    let mut subjects = BTreeMap::new();
    let mut ids = Vec::new();
    for i in (1..=5000).step_by(211) {
        let id = format!("u-{i:05}");
        for (channel, placement) in PLACEMENTS {
            let r = server.decide(&decide_body(&id, channel, placement));
            subjects.insert(r["decision_id"].as_str().unwrap_or_default().to_string(), id.clone());
        }
        ids.push(id);
    }
    let (_, audit) = server.get("/admin/audit?tenant_id=demo&limit=1000");
    let records = audit["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), subjects.len());
    let (_, catalog) = server.get("/admin/catalog/demo");
    let offers = catalog["offers"].as_array().cloned().unwrap_or_default();

    let candidate = dir.0.join("candidate");
    copy_dir(&root().join("policies"), &candidate);
    let home = candidate.join("retail/home.policy");
    let text = std::fs::read_to_string(&home).expect("home.policy");
    let edited = three_recs("home.policy", text.clone());
    assert_ne!(edited, text);
    std::fs::write(&home, edited).expect("write");
    let expected = changed_directly(&candidate, &records, &offers, &subjects);
    assert!(!expected.is_empty(), "the candidate changes something");
    let sources = server_support::demo_sources(three_recs);
    let body = |what_if: Value, dry_run: bool| json!({"tenant_id": "demo", "author": "ci", "sources": sources, "what_if": what_if, "dry_run": dry_run});
    let active = || server.get("/admin/bundles/demo").1["active"].clone();
    let before = active();
    // One decision the candidate changes, as it was served.
    let changed_id = expected.iter().next().expect("a change");
    let changed_record = records
        .iter()
        .find(|r| r["decision_id"] == changed_id.as_str())
        .expect("record");
    let again = decide_body(
        &subjects[changed_id],
        changed_record["inputs"]["context"]["channel"]
            .as_str()
            .unwrap_or_default(),
        changed_record["placement"].as_str().unwrap_or_default(),
    );
    let served_before = server_support::shown(&changed_record["response"]);

    // A dry run reports exactly the decisions the direct comparison shows changed.
    let (status, dry) = server.post(
        "/admin/bundles",
        &body(json!({"recent": 1000, "subject_ids": ids}), true),
    );
    assert_eq!(status, 200, "{dry:#}");
    assert_eq!(dry["dry_run"], true);
    let reported: BTreeSet<String> = dry["what_if"]["changed_decisions"]
        .as_array()
        .expect("changed_decisions")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert_eq!(reported, expected);
    assert_eq!(dry["what_if"]["compared"], records.len());
    assert_eq!(active(), before, "a dry run changes nothing");

    // Over the threshold: refused, with the report, and nothing changes.
    let (status, refused) = server.post(
        "/admin/bundles",
        &body(
            json!({"recent": 1000, "subject_ids": ids, "max_changed_fraction": 0.0}),
            false,
        ),
    );
    assert_eq!(status, 409, "{refused:#}");
    assert_eq!(refused["code"], "what_if_rejected");
    assert!(refused["message"]
        .as_str()
        .is_some_and(|m| m.contains("more than the allowed")));
    assert_eq!(refused["report"]["changed"], reported.len());
    assert_eq!(active(), before, "a refused deploy changes nothing");
    let (_, history) = server.get("/admin/bundles/demo");
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(server_support::shown(&server.decide(&again)), served_before);

    // Bad gate parameters are the client's mistake.
    let (status, bad) = server.post("/admin/bundles", &body(json!({"recent": 0}), true));
    assert_eq!(
        (status, bad["code"].clone()),
        (422, json!("invalid_request")),
        "{bad:#}"
    );

    // Under the threshold: deployed, with the report.
    let (status, deployed) = server.post(
        "/admin/bundles",
        &body(
            json!({"recent": 1000, "subject_ids": ids, "max_changed_fraction": 1.0}),
            false,
        ),
    );
    assert_eq!(status, 200, "{deployed:#}");
    assert_eq!(deployed["changed"], true);
    assert!(deployed["what_if"]["changed"].as_u64().is_some_and(|n| n > 0));
    assert_ne!(active(), before);
    assert_ne!(server_support::shown(&server.decide(&again)), served_before);
}

#[test]
fn a_configured_what_if_gate_applies_to_every_deploy() {
    let dir = TempDir::new("what-if-required");
    let server = Server::start(
        &dir.0,
        true,
        &[
            ("TAILOR_DEPLOY_REQUIRE_WHAT_IF", "100"),
            ("TAILOR_DEPLOY_MAX_CHANGED_FRACTION", "0.0"),
        ],
    );
    let mut ids = Vec::new();
    for i in (1..=5000).step_by(499) {
        let id = format!("u-{i:05}");
        server.decide(&decide_body(&id, "Web", "home.recs"));
        ids.push(id);
    }
    let sources = server_support::demo_sources(three_recs);
    let active = || server.get("/admin/bundles/demo").1["active"].clone();
    let before = active();
    // No `what_if` in the request: the configured gate runs anyway. The store remembers the ids
    // of ingested subjects, so the recent decisions are compared, and the change to the
    // recommendations is over the configured threshold (0.0).
    let (status, refused) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ci", "sources": sources}),
    );
    assert_eq!(
        (status, refused["code"].clone()),
        (409, json!("what_if_rejected")),
        "{refused:#}"
    );
    assert_eq!(refused["report"]["total"], ids.len());
    assert!(
        refused["report"]["changed"].as_u64().is_some_and(|n| n > 0),
        "{refused:#}"
    );
    assert_eq!(active(), before);
    // With the ids, the configured threshold (0.0) refuses a change to the recommendations.
    let (status, refused) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ci", "sources": sources, "what_if": {"recent": 1, "subject_ids": ids}}),
    );
    assert_eq!(status, 409, "{refused:#}");
    assert_eq!(
        refused["report"]["total"],
        ids.len(),
        "`recent` is raised to the configured 100"
    );
    assert!(refused["report"]["changed"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(active(), before);
    // The active sources again change nothing and pass.
    let (status, same) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ci", "sources": server_support::demo_sources(|_, t| t), "what_if": {"recent": 1, "subject_ids": ids}}),
    );
    assert_eq!(status, 200, "{same:#}");
    assert_eq!(same["what_if"]["changed"], 0);
    assert_eq!(active(), before);
}
