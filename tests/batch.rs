//! Batch plans end to end: `POST /personalization/batch-plan` on the real server (the demo
//! tenant) agrees with `POST /personalization/decide` subject by subject, selects exactly the
//! segment's subjects, can be cancelled, leaves no complete-looking file when the server is
//! killed mid-plan, and rejects bad specs with `{code, message}`; `tailor batch` does the same
//! from files.

mod server_support;

use serde_json::{json, Value};
use server_support::{root, tailor, Server, TempDir};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PLANS: &str = "/personalization/batch-plan";

/// The demo profiles as (id, profile).
fn demo_profiles() -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(root().join("examples/profiles.jsonl")).expect("profiles");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("profile line");
            (v["id"].as_str().expect("id").to_string(), v["profile"].clone())
        })
        .collect()
}

fn submit(server: &Server, spec: &Value) -> String {
    let (status, body) = server.post(PLANS, spec);
    assert_eq!(status, 202, "submit: {body}");
    assert_eq!(body["status"], "running");
    let id = body["plan_id"].as_str().expect("plan_id").to_string();
    assert_eq!(body["status_url"], format!("{PLANS}/{id}"));
    id
}

/// Polls until the plan leaves `running`.
fn wait(server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, body) = server.get(&format!("{PLANS}/{id}"));
        assert_eq!(status, 200, "status: {body}");
        if body["status"] != "running" {
            return body;
        }
        assert!(Instant::now() < deadline, "plan still running: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect()
}

fn ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["subject_id"].as_str().expect("subject_id").to_string())
        .collect()
}

/// What a row shows, in the decide response's terms: the offer ids, or the fallback content.
fn row_shown(row: &Value) -> Vec<String> {
    if row["fallback"].is_object() {
        return row["fallback"]["content_id"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
    }
    row["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .map(|o| o["offer_id"].as_str().expect("offer_id").to_string())
        .collect()
}

fn plan_files(data: &Path, id: &str) -> (PathBuf, PathBuf) {
    let out = data.join("plans").join(format!("{id}.jsonl"));
    let partial = data.join("plans").join(format!("{id}.jsonl.partial"));
    (out, partial)
}

/// The rendered content of a row's offers, or of its fallback content (`null` where none).
fn row_contents(row: &Value) -> Vec<Value> {
    if row["fallback"].is_null() {
        row["offers"]
            .as_array()
            .map(|o| o.iter().map(|x| x["content"].clone()).collect())
            .unwrap_or_default()
    } else if row["fallback"]["content_id"].is_null() {
        Vec::new()
    } else {
        vec![row["fallback"]["content"].clone()]
    }
}

#[test]
fn batch_rows_agree_with_online_decisions_and_segments_select_exactly() {
    let dir = TempDir::new("batch-agree");
    let server = Server::demo(&dir);
    let profiles = demo_profiles();
    let cases = [
        // A consent-gated e-mail placement: lapsed subjects.
        (
            json!({"tenant_id": "demo", "placement": "email.winback", "channel": "Email", "segments": ["lapsed"]}),
            "Email",
            "email.winback",
        ),
        // The home page, with its experiment: VIPs or high-value subjects; with the content
        // templates rendered into the rows.
        (
            json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web",
                   "segments": ["vip", "high_value"], "match": "any", "render": true}),
            "Web",
            "home.hero",
        ),
    ];
    for (spec, channel, placement) in cases {
        let id = submit(&server, &spec);
        let done = wait(&server, &id);
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["progress"], 1.0);
        let output = PathBuf::from(done["output"].as_str().expect("output path"));
        assert_eq!(output, plan_files(&server.data, &id).0);
        assert!(
            !plan_files(&server.data, &id).1.exists(),
            "the partial file must be gone"
        );
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(done["manifest"].as_str().expect("manifest")).expect("manifest file"),
        )
        .expect("manifest json");
        assert_eq!(manifest["status"], "completed");
        assert_eq!(manifest["complete"], true);
        let rows = rows(&output);
        assert_eq!(rows.len() as u64, done["selected"].as_u64().unwrap_or_default());
        assert_eq!(done["processed"].as_u64(), Some(profiles.len() as u64));
        assert_eq!(done["total"].as_u64(), Some(profiles.len() as u64));

        // The segment filter: exactly the subjects whose segment holds, from the profiles.
        let expected: BTreeSet<String> = profiles
            .iter()
            .filter(|(_, p)| match placement {
                "email.winback" => matches!(p["lifecycle"].as_str(), Some("Lapsed" | "Churned")),
                _ => p["tier"] == "Platinum" || p["lifetime_value"].as_f64().unwrap_or(0.0) >= 500.0,
            })
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(ids(&rows), expected, "{placement}: the segment filter");

        // Content is rendered only when asked for, and then for some rows at least.
        let rendered = rows
            .iter()
            .filter(|r| !row_contents(r).iter().all(Value::is_null))
            .count();
        if spec["render"] == true {
            assert!(rendered > 0, "{placement}: no row has rendered content");
        } else {
            assert_eq!(rendered, 0, "{placement}: content without `render`");
        }

        // Batch and online agree, subject by subject (every 3rd row keeps the test quick).
        for row in rows.iter().step_by(3) {
            assert_eq!(row["plan_id"], id.as_str());
            assert_eq!(row["bundle_version"], done["bundle_version"]);
            assert_eq!(row["bundle_hash"], done["bundle_hash"]);
            assert_eq!(row["valid_from"], server_support::NOW);
            let subject = row["subject_id"].as_str().expect("subject_id");
            let online = server.decide(&server_support::decide_body(subject, channel, placement));
            assert_eq!(row_shown(row), server_support::shown(&online), "{placement} {subject}");
            assert_eq!(row["variant"], online["experiment"]["variant"], "{placement} {subject}");
            assert_eq!(
                row["fallback"]["reason"], online["fallback"]["reason"],
                "{placement} {subject}"
            );
            assert_eq!(row["decision"], online["decision"]);
            assert_eq!(row["bundle_version"], online["bundle"]["version"]);
            if spec["render"] == true {
                let online_contents: Vec<Value> = online["decisions"]
                    .as_array()
                    .map(|d| d.iter().map(|x| x["content"].clone()).collect())
                    .unwrap_or_default();
                assert_eq!(row_contents(row), online_contents, "{placement} {subject}");
            }
        }
        // A finished plan cannot be cancelled.
        let (status, body) = server.json("DELETE", &format!("{PLANS}/{id}"), None);
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "plan_finished");
    }
}

/// A server whose store reads are slow (fault injection) and whose plans run on one thread,
/// so a plan over the 5,000 demo profiles takes long enough to cancel or kill; one plan may
/// run at a time.
fn slow_server(dir: &TempDir) -> Server {
    let server = Server::start(
        &dir.0,
        true,
        &[
            ("TAILOR_FAULTS", "1"),
            ("TAILOR_BATCH_THREADS", "1"),
            ("TAILOR_BATCH_MAX_RUNNING", "1"),
        ],
    );
    let (status, body) = server.post("/admin/faults", &json!({"store_delay_ms": 2}));
    assert_eq!(status, 200, "{body}");
    server
}

fn wait_for_progress(server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = server.get(&format!("{PLANS}/{id}"));
        if body["processed"].as_u64().unwrap_or(0) > 0 {
            return body;
        }
        assert!(Instant::now() < deadline, "no progress: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cancelled_plan_leaves_no_output() {
    let dir = TempDir::new("batch-cancel");
    let server = slow_server(&dir);
    let id = submit(
        &server,
        &json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web"}),
    );
    let running = wait_for_progress(&server, &id);
    assert_eq!(running["status"], "running");
    assert_eq!(running["output"], Value::Null);
    let progress = running["progress"].as_f64().unwrap_or(-1.0);
    assert!((0.0..1.0).contains(&progress), "{running}");
    // One plan may run at a time here: a second is refused, and nothing of it is recorded.
    let spec = json!({"tenant_id": "demo", "placement": "home.recs", "channel": "Web"});
    let (status, body) = server.post(PLANS, &spec);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "too_many_plans", "{body}");
    let (status, body) = server.json("DELETE", &format!("{PLANS}/{id}"), None);
    assert_eq!(status, 202, "{body}");
    let done = wait(&server, &id);
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["output"], Value::Null);
    assert!(done["processed"].as_u64().unwrap_or(0) < 5000, "{done}");
    let (out, partial) = plan_files(&server.data, &id);
    assert!(!out.exists(), "a cancelled plan must not leave a complete-looking file");
    assert!(!partial.exists(), "the partial output is removed");
    // Its place is free again.
    let next = submit(&server, &spec);
    let (status, body) = server.json("DELETE", &format!("{PLANS}/{next}"), None);
    assert!(status == 202 || status == 409, "{status} {body}");
}

#[test]
fn a_plan_killed_mid_run_is_interrupted_after_restart() {
    let dir = TempDir::new("batch-kill");
    let mut server = slow_server(&dir);
    let id = submit(
        &server,
        &json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web"}),
    );
    wait_for_progress(&server, &id);
    let (out, partial) = plan_files(&server.data, &id);
    assert!(partial.exists(), "a running plan writes to its partial file");
    server.kill();
    assert!(!out.exists());
    server.restart();
    let (status, body) = server.get(&format!("{PLANS}/{id}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "interrupted", "{body}");
    assert_eq!(body["output"], Value::Null);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("incomplete")),
        "{body}"
    );
    assert!(!out.exists(), "an interrupted plan has no complete-looking file");
    assert!(!partial.exists());
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(server.data.join("plans").join(format!("{id}.manifest.json"))).expect("manifest"),
    )
    .expect("manifest json");
    assert_eq!(manifest["status"], "interrupted");
    assert_eq!(manifest["complete"], false);
}

#[test]
fn bad_specs_and_unknown_plans_get_json_errors() {
    let dir = TempDir::new("batch-errors");
    let server = Server::demo(&dir);
    let cases = [
        (
            json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web", "segments": ["vips"]}),
            422,
            "unknown segment `vips`",
        ),
        (
            json!({"tenant_id": "nobody", "placement": "home.hero", "channel": "Web"}),
            404,
            "unknown tenant",
        ),
        (
            json!({"tenant_id": "demo", "placement": "nowhere", "channel": "Web"}),
            422,
            "no decision fills placement `nowhere`",
        ),
        (
            json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Fax"}),
            422,
            "unknown channel",
        ),
        (
            json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web", "valid_for": "soon"}),
            422,
            "valid_for",
        ),
        (
            json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web", "colour": "red"}),
            422,
            "colour",
        ),
        (
            json!({"tenant_id": "demo", "channel": "Web"}),
            422,
            "give `placement` or `decision`",
        ),
    ];
    for (spec, code, text) in cases {
        let (status, body) = server.post(PLANS, &spec);
        assert_eq!(status, code, "{spec}: {body}");
        assert!(body["code"].is_string(), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(text), "{spec}: {message}");
    }
    // The unknown segment's message lists the known ones.
    let (_, body) = server.post(
        PLANS,
        &json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web", "segments": ["vips"]}),
    );
    assert!(body["message"].as_str().unwrap_or_default().contains("vip"), "{body}");
    let (status, body) = server.request("POST", PLANS, Some(b"{not json"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    for path in [format!("{PLANS}/p0123"), format!("{PLANS}/..%2Fetc")] {
        let (status, body) = server.get(&path);
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "unknown_plan");
        let (status, _) = server.json("DELETE", &path, None);
        assert_eq!(status, 404);
    }
}

#[test]
fn tailor_batch_writes_a_complete_plan_from_files() {
    let dir = TempDir::new("batch-cli");
    let out = dir.0.join("winback.jsonl");
    let out_s = out.display().to_string();
    let common = [
        "batch",
        "policies",
        "--catalog",
        "examples/catalog.json",
        "--profiles",
        "examples/profiles.jsonl",
        "--placement",
        "email.winback",
        "--channel",
        "Email",
        "--consent",
        "marketing",
        "--now",
        server_support::NOW,
        "--plan-id",
        "p1",
        "--format",
        "json",
    ];
    let mut args = common.to_vec();
    args.extend(["--segment", "lapsed", "--out", &out_s]);
    let (code, stdout, stderr) = tailor(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("json summary");
    let rows = rows(&out);
    assert_eq!(summary["selected"].as_u64(), Some(rows.len() as u64));
    assert_eq!(summary["processed"], 5000);
    let lapsed: BTreeSet<String> = demo_profiles()
        .into_iter()
        .filter(|(_, p)| matches!(p["lifecycle"].as_str(), Some("Lapsed" | "Churned")))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids(&rows), lapsed);
    assert!(rows
        .iter()
        .all(|r| r["plan_id"] == "p1" && r["valid_from"] == server_support::NOW));
    assert!(!dir.0.join("winback.jsonl.partial").exists());
    assert!(rows.iter().all(|r| r["offers"][0].get("content").is_none()));

    // With --render, rows carry each offer's rendered template.
    let rendered_out = dir.0.join("rendered.jsonl");
    let rendered_s = rendered_out.display().to_string();
    let mut args = common.to_vec();
    args.extend(["--segment", "lapsed", "--out", &rendered_s, "--render"]);
    args.extend(["--templates", "examples/http/templates.json"]);
    let (code, stdout, stderr) = tailor(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let rendered = self::rows(&rendered_out);
    let summary: Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(summary["template_errors"], 0, "{summary}");
    assert_eq!(ids(&rendered), lapsed);
    let winback: Vec<&Value> = rendered
        .iter()
        .filter(|r| r["offers"][0]["offer_id"] == "winback-20")
        .collect();
    assert!(!winback.is_empty());
    assert!(
        winback.iter().all(|r| r["offers"][0]["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("We miss you! "))),
        "{:?}",
        winback.first()
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("winback.manifest.json")).expect("manifest"))
            .expect("manifest json");
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["selected"], summary["selected"]);

    // The same plan again, on one thread and the interpreter: byte-identical output.
    let again = dir.0.join("again.jsonl");
    let again_s = again.display().to_string();
    let mut args = common.to_vec();
    args.extend([
        "--segment",
        "lapsed",
        "--out",
        &again_s,
        "--threads",
        "1",
        "--backend",
        "interpreter",
    ]);
    let (code, _, stderr) = tailor(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        std::fs::read(&out).expect("out"),
        std::fs::read(&again).expect("again"),
        "two runs of a plan must be byte-identical"
    );

    // An unknown segment is a usage error naming the known ones, and writes nothing.
    let bad = dir.0.join("bad.jsonl");
    let bad_s = bad.display().to_string();
    let mut args = common.to_vec();
    args.extend(["--segment", "lapsd", "--out", &bad_s]);
    let (code, _, stderr) = tailor(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("unknown segment `lapsd`") && stderr.contains("lapsed"),
        "{stderr}"
    );
    assert!(!bad.exists() && !dir.0.join("bad.jsonl.partial").exists());
}

#[test]
fn batch_plans_need_the_admin_token_when_one_is_configured() {
    let dir = TempDir::new("batch-token");
    let server = Server::start(&dir.0, true, &[("TAILOR_ADMIN_TOKEN", "s3cret")]);
    let spec = json!({"tenant_id": "demo", "placement": "home.hero", "channel": "Web"});
    let (status, body) = server.post(PLANS, &spec);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "unauthorized");
    let (status, _) = server.get(&format!("{PLANS}/p0123"));
    assert_eq!(status, 401);
}

#[test]
fn tailor_batch_on_a_stopped_servers_store_writes_the_servers_rows() {
    let dir = TempDir::new("batch-data");
    let mut server = Server::demo(&dir);
    let spec = json!({"tenant_id": "demo", "placement": "email.winback", "channel": "Email", "segments": ["lapsed"]});
    let id = submit(&server, &spec);
    let done = wait(&server, &id);
    assert_eq!(done["status"], "completed", "{done}");
    let online = rows(Path::new(done["output"].as_str().expect("output")));
    server.kill();

    let data = dir.0.display().to_string();
    let (code, stdout, stderr) = tailor(&[
        "batch",
        "--data",
        &data,
        "--tenant",
        "demo",
        "--placement",
        "email.winback",
        "--channel",
        "Email",
        "--segment",
        "lapsed",
        "--now",
        server_support::NOW,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let status: Value = serde_json::from_str(&stdout).expect("json status");
    assert_eq!(status["status"], "completed", "{status}");
    let offline = rows(Path::new(status["output"].as_str().expect("output")));
    assert_eq!(offline.len(), online.len());
    // The same rows but for the plan id (the CLI ran the JIT, the server the interpreter).
    let strip = |mut r: Value| {
        r["plan_id"] = Value::Null;
        r
    };
    for (a, b) in online.into_iter().zip(offline) {
        assert_eq!(strip(a), strip(b));
    }

    // Without --tenant it is a usage error.
    let (code, _, stderr) = tailor(&[
        "batch",
        "--data",
        &data,
        "--placement",
        "email.winback",
        "--channel",
        "Email",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--tenant"), "{stderr}");
}
