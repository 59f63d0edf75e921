//! End to end: `tailor explain DECISION_ID` and `GET /admin/audit/{decision_id}/explain` on
//! decisions logged by the real server (one with removed candidates, a capped one, one in an
//! experiment), an unknown decision id, a record whose bundle version is missing (explained from
//! the log, with a warning), and `POST /admin/replay` over the server's own log.

mod server_support;

use serde_json::{json, Value};
use server_support::{decide_body, tailor, Server, TempDir};

fn candidates<'a>(doc: &'a Value, outcome: &str) -> Vec<&'a Value> {
    doc["candidates"]
        .as_array()
        .map(|c| c.iter().filter(|c| c["outcome"] == outcome).collect())
        .unwrap_or_default()
}

/// The checks every full explanation of the capped hero decision passes.
fn check_full(doc: &Value, id: &str) {
    assert_eq!(doc["decision_id"], id);
    assert_eq!(doc["replay"]["status"], "identical", "{doc:#}");
    assert_eq!(doc["logged"], true);
    assert_eq!(doc["at"], "2026-11-24T10:00:00Z");
    assert_eq!(doc["placement"], "home.hero");
    assert_eq!(doc["channel"], "Web");
    assert_eq!(doc["inputs"]["impressions"]["count"], 3);
    // Every segment of the bundle, each true or false.
    let segments = doc["segments"].as_array().expect("segments");
    assert!(!segments.is_empty());
    assert!(segments.iter().all(|s| s["matched"].is_boolean()), "{segments:#?}");
    // The experiment, with the subject's bucket.
    assert_eq!(doc["experiment"]["name"], "retail.web.hero_copy");
    assert!(doc["experiment"]["bucket"].is_u64());
    assert!(doc["experiment"]["variant"].is_string());
    // Removed candidates name their rule and its reason; the capped one its counted views.
    let removed = candidates(doc, "removed");
    assert!(!removed.is_empty());
    assert!(removed.iter().all(|c| c["rule"].is_string() && c["id"].is_string()));
    assert!(removed.iter().any(|c| c["reason"].is_string()));
    let capped = candidates(doc, "capped");
    assert_eq!(capped.len(), 1, "{doc:#}");
    assert_eq!(capped[0]["seen"], 3);
    assert_eq!(capped[0]["impressions"].as_array().map(Vec::len), Some(3));
    assert_eq!(doc["caps_applied"].as_array().map(Vec::len), Some(1));
    let kept = candidates(doc, "kept");
    assert!(kept.iter().any(|c| c["rank"] == 1 && c["score"].is_number()));
    assert_eq!(doc["policy"]["channel_allowed"], true);
    assert!(doc["response"]["decisions"].is_array());
}

#[test]
fn logged_decisions_are_explained_by_cli_and_http() {
    let dir = TempDir::new("explain");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut server = Server::start(&data, true, &[]);

    // The first hero decision is viewed three times, so its offer is capped in the second.
    let first = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    for _ in 0..3 {
        server_support::view(&server, &first, None);
    }
    let second = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    let id = second["decision_id"].as_str().expect("decision id").to_string();
    let capped_offer = server_support::shown(&first)[0].clone();

    // Over HTTP, with the subject id given.
    let (status, doc) = server.get(&format!("/admin/audit/{id}/explain?subject_id=u-00024"));
    assert_eq!(status, 200, "{doc:#}");
    check_full(&doc, &id);
    assert_eq!(candidates(&doc, "capped")[0]["id"], capped_offer.as_str());
    assert_eq!(doc["response"]["decision_id"], id.as_str());

    // Without it: the store remembers the ids of ingested subjects (batch plans and replay need
    // them), so the decision is re-run all the same.
    let (status, again) = server.get(&format!("/admin/audit/{id}/explain"));
    assert_eq!(status, 200);
    assert_eq!(again["replay"]["status"], "identical", "{again:#}");
    assert_eq!(again["candidates"], doc["candidates"]);

    // Unknown decision.
    let (status, unknown) = server.get("/admin/audit/ffffffffffffffffffffffff/explain");
    assert_eq!((status, unknown["code"].clone()), (404, json!("unknown_decision")));

    // The replay endpoint: this subject's two decisions, identical; a what-if against the
    // version itself changes nothing; bad input is a 4xx with {code, message}.
    let hash = doc["subject_hash"].as_str().expect("hash").to_string();
    let (status, report) = server.post(
        "/admin/replay",
        &json!({"tenant_id": "demo", "subject": hash, "subject_ids": ["u-00024"]}),
    );
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(
        (report["total"].clone(), report["identical"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(report["truncated"], false);
    let (status, report) = server.post(
        "/admin/replay",
        &json!({"tenant_id": "demo", "subject_ids": ["u-00024"], "limit": 1}),
    );
    assert_eq!(status, 200);
    assert_eq!(report["records"][0]["decision_id"], id.as_str(), "the newest record");
    assert_eq!(report["truncated"], true);
    let (status, what_if) = server.post(
        "/admin/replay",
        &json!({"tenant_id": "demo", "subject_ids": ["u-00024"], "against_version": 1}),
    );
    assert_eq!(status, 200, "{what_if:#}");
    assert_eq!(
        (what_if["compared"].clone(), what_if["changed"].clone()),
        (json!(2), json!(0))
    );
    for (body, code, expected) in [
        (json!({"tenant_id": "demo", "limit": 0}), 422, "invalid_request"),
        (
            json!({"tenant_id": "demo", "since": "yesterday"}),
            422,
            "invalid_request",
        ),
        (json!({"tenant_id": "nope"}), 404, "unknown_tenant"),
        (
            json!({"tenant_id": "demo", "against_version": 9}),
            404,
            "unknown_version",
        ),
        (
            json!({"tenant_id": "demo", "candidate_sources": [{"name": "x.policy", "text": "decision {"}]}),
            422,
            "invalid_request",
        ),
        (json!({"tenant_id": "demo", "bogus": 1}), 422, "invalid_request"),
    ] {
        let (status, err) = server.post("/admin/replay", &body);
        assert_eq!(
            (status, err["code"].as_str()),
            (code, Some(expected)),
            "{body}: {err:#}"
        );
        assert!(err["message"].is_string());
    }

    // A subject the store has never seen (decided without a profile): its id is not in the
    // store, so the decision is explained from the log, with the warning saying why.
    let walk_in = server.decide(&decide_body("walk-in-7", "Web", "home.hero"));
    let walk_in_id = walk_in["decision_id"].as_str().expect("decision id").to_string();
    let (status, logged) = server.get(&format!("/admin/audit/{walk_in_id}/explain"));
    assert_eq!(status, 200, "{logged:#}");
    assert_eq!(logged["replay"]["status"], "unreproducible", "{logged:#}");
    assert!(
        logged["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("could not be re-run") && w.contains("subject id unknown")),
        "{logged:#}"
    );
    assert_eq!(logged["response"]["decision_id"], walk_in_id.as_str());

    // A subject outside its experiment's layer slice (u-00001 is in the basket-reminder half of
    // the `email` layer): the explanation says where it fell.
    let winback = server.decide(&decide_body("u-00001", "Email", "email.winback"));
    assert_eq!(winback["experiment"]["variant"], Value::Null, "{winback}");
    let winback_id = winback["decision_id"].as_str().expect("decision id").to_string();
    let (status, layered) = server.get(&format!("/admin/audit/{winback_id}/explain"));
    assert_eq!(status, 200, "{layered:#}");
    let layer = &layered["experiment"]["layer"];
    assert_eq!(
        (layer["name"].as_str(), layer["enrolled"].as_bool()),
        (Some("email"), Some(false)),
        "{layered:#}"
    );
    assert!(layer["bucket"].as_u64().is_some_and(|b| b >= 1 << 31), "{layer}");
    server.kill();

    // The CLI, on the stopped server's store: text and JSON.
    let data_arg = data.display().to_string();
    let (code, text, err) = tailor(&["explain", &id, "--data", &data_arg, "--subject-id", "u-00024"]);
    assert_eq!(code, 0, "{err}");
    for needle in [
        &format!("decision {id}"),
        "time:       2026-11-24T10:00:00Z",
        "segments",
        "experiment retail.web.hero_copy: variant",
        "removed by retail.",
        &format!("{capped_offer}: capped (offer cap 3 per"),
        "3 impression(s) counted",
        "shown at rank 1, score",
        "re-run: identical",
        "capped, ",
        "(1 shown)",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    let (code, out, err) = tailor(&[
        "explain",
        &id,
        "--data",
        &data_arg,
        "--subject-id",
        "u-00024",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let cli_doc: Value = serde_json::from_str(&out).expect("json");
    check_full(&cli_doc, &id);
    assert_eq!(cli_doc["candidates"], doc["candidates"]);

    // Unknown decision id: exit 2.
    let (code, _, err) = tailor(&["explain", "ffffffffffffffffffffffff", "--data", &data_arg]);
    assert_eq!(code, 2);
    assert!(err.contains("no decision"), "{err}");

    // From an export whose record names a bundle version that does not exist: explained from
    // the log, with the warning.
    let export = dir.0.join("audit.jsonl");
    let (code, _, err) = tailor(&[
        "audit",
        "export",
        "--data",
        &data_arg,
        "--out",
        &export.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    let edited: Vec<String> = std::fs::read_to_string(&export)
        .expect("export")
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).expect("record");
            if r["decision_id"] == id.as_str() {
                r["bundle"]["version"] = json!(99);
            }
            r.to_string()
        })
        .collect();
    std::fs::write(&export, edited.join("\n")).expect("write");
    let export_arg = export.display().to_string();
    let (code, out, err) = tailor(&[
        "explain",
        &id,
        "--audit",
        &export_arg,
        "--data",
        &data_arg,
        "--subject-id",
        "u-00024",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let missing: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(missing["replay"]["status"], "unreproducible");
    assert!(missing["warnings"][0]
        .as_str()
        .is_some_and(|w| w.contains("could not be re-run") && w.contains("no version 99")));
    assert!(missing["segments"].is_null());
    assert_eq!(candidates(&missing, "capped").len(), 1);
    assert!(!candidates(&missing, "removed").is_empty());
    let (code, text, _) = tailor(&[
        "explain",
        &id,
        "--audit",
        &export_arg,
        "--data",
        &data_arg,
        "--subject-id",
        "u-00024",
    ]);
    assert_eq!(code, 0);
    assert!(text.contains("warning: this decision could not be re-run"), "{text}");

    // The policy-test mode still works, and a path with no --test is a usage error.
    let (code, _, err) = tailor(&[
        "explain",
        "policies/",
        "--test",
        "views older than the seven-day cap window do not count",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = tailor(&["explain", "policies/"]);
    assert_eq!(code, 2);
}
