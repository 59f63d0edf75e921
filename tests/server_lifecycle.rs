//! End to end: versioned bundles on a live server. A deploy under traffic swaps with zero
//! failed requests and no request mixing two bundles; a bad deploy changes nothing and returns
//! the diagnostics; rollback restores the earlier decisions; history and diff show the
//! versions; a restart (after SIGKILL) keeps everything.

mod server_support;

use serde_json::{json, Value};
use server_support::{decide_body, demo_sources, shown, Server, TempDir};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Version 2 of the demo: the hero no longer shows `welcome-10` to subject `u-00024` (a pilot
/// exclusion), so the change is visible in that subject's decisions. The policy tests still
/// pass, so the deploy is accepted.
fn v2_sources() -> Value {
    demo_sources(|name, text| {
        if name.ends_with("home.policy") {
            text.replacen(
                "  deny basket_content:",
                "  deny pilot_exclusion: subject_id() == \"u-00024\" and offer.id == \"welcome-10\" because \"pilot\"\n  deny basket_content:",
                1,
            )
        } else {
            text
        }
    })
}

fn deploy(server: &Server, sources: Value) -> (u16, Value) {
    server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ann", "message": "pilot exclusion", "sources": sources}),
    )
}

fn hero(server: &Server) -> Value {
    server.decide(&decide_body("u-00024", "Web", "home.hero"))
}

#[test]
fn a_deploy_under_traffic_swaps_with_zero_failed_requests() {
    let dir = TempDir::new("lifecycle-swap");
    let server = Server::demo(&dir);
    assert_eq!(shown(&hero(&server)), ["welcome-10"]);

    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr.clone();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (stop, addr) = (stop.clone(), addr.clone());
            std::thread::spawn(move || {
                let body = serde_json::to_vec(&decide_body("u-00024", "Web", "home.hero")).unwrap_or_default();
                let mut seen = Vec::new();
                let mut n = 0;
                // Run until told to stop, and at least 20 requests.
                while !stop.load(Ordering::Relaxed) || n < 20 {
                    let result = server_support::try_request(&addr, "POST", "/personalization/decide", Some(&body));
                    let (status, raw) = result.unwrap_or_else(|e| panic!("request failed during the deploy: {e}"));
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
                    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                    seen.push((v["bundle"]["version"].as_u64().unwrap_or(0), shown(&v)));
                    n += 1;
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, deployed) = deploy(&server, v2_sources());
    assert_eq!(status, 200, "{deployed}");
    assert_eq!(deployed["version"], 2);
    assert_eq!(deployed["changed"], true);
    assert!(deployed["tests_passed"].as_u64().unwrap_or(0) > 50);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut versions = std::collections::BTreeSet::new();
    let mut total = 0;
    for c in clients {
        for (version, ids) in c.join().expect("client thread") {
            total += 1;
            versions.insert(version);
            // Each answer is wholly one bundle's.
            match version {
                1 => assert_eq!(ids, ["welcome-10"]),
                2 => assert!(!ids.contains(&"welcome-10".to_string()), "{ids:?}"),
                other => panic!("unexpected version {other}"),
            }
        }
    }
    assert!(total >= 60);
    assert!(versions.contains(&2), "traffic after the deploy saw version 2");
    // After the deploy returns, every request is answered by the new version.
    let after = hero(&server);
    assert_eq!(after["bundle"]["version"], 2);
    assert!(!shown(&after).contains(&"welcome-10".to_string()));
}

#[test]
fn a_bad_deploy_changes_nothing_and_rollback_restores_earlier_decisions() {
    let dir = TempDir::new("lifecycle-rollback");
    let server = Server::demo(&dir);
    let before = hero(&server);

    // A type error: 422 with the diagnostics.
    let broken = demo_sources(|name, text| {
        if name.ends_with("home.policy") {
            text.replacen("offer.kind in basket_kinds", "offer.kindd in basket_kinds", 1)
        } else {
            text
        }
    });
    let (status, err) = deploy(&server, broken);
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["code"], "invalid_bundle");
    let diags = err["details"]["diagnostics"].as_array().expect("diagnostics");
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == "E0102" || d["message"].as_str().is_some_and(|m| m.contains("kindd"))),
        "{err}"
    );
    assert!(err["details"]["rendered"]
        .as_str()
        .is_some_and(|r| r.contains("home.policy")));

    // A policy test that fails: 422 with the report.
    let failing = demo_sources(|name, text| {
        if name.ends_with("home.policy") {
            text.replacen(
                "expect home_hero.first == \"welcome-10\"",
                "expect home_hero.first == \"spring-running\"",
                1,
            )
        } else {
            text
        }
    });
    let (status, err) = deploy(&server, failing);
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["code"], "tests_failed");

    // A catalog that does not fit the schema: 422.
    let (status, err) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ann", "sources": v2_sources(), "catalog": {"offers": [{"id": "x"}]}}),
    );
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["code"], "invalid_catalog");

    // Nothing changed.
    let (_, history) = server.get("/admin/bundles/demo");
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(history["active"], 1);
    let same = hero(&server);
    assert_eq!(shown(&same), shown(&before));
    assert_eq!(same["bundle"], before["bundle"]);

    // Deploy v2, then roll back to v1.
    assert_eq!(deploy(&server, v2_sources()).0, 200);
    let v2 = hero(&server);
    assert_ne!(shown(&v2), shown(&before));
    let (_, diff) = server.get("/admin/bundles/demo/diff?from=1&to=2");
    let files = diff["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{diff}");
    assert_eq!(files[0]["name"], "policies/retail/home.policy");
    assert!(files[0]["diff"]
        .as_str()
        .is_some_and(|d| d.contains("+  deny pilot_exclusion")));
    let (_, v1) = server.get("/admin/bundles/demo/1");
    assert_eq!(v1["meta"]["version"], 1);
    assert!(v1["sources"].as_array().is_some_and(|s| s.len() == 9));

    let (status, rolled) = server.post("/admin/bundles/demo/rollback", &json!({"version": 1, "author": "ann"}));
    assert_eq!(status, 200, "{rolled}");
    let back = hero(&server);
    assert_eq!(shown(&back), shown(&before));
    assert_eq!(back["bundle"], before["bundle"]);
    let (_, history) = server.get("/admin/bundles/demo");
    assert_eq!(history["active"], 1);
    let actions: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["deploy", "deploy", "rollback"]);
}

#[test]
fn a_restart_keeps_everything() {
    let dir = TempDir::new("lifecycle-restart");
    let mut server = Server::demo(&dir);
    // State of every kind: a second version rolled back, a consent withdrawal, impressions, an
    // identity link, online features and audit records.
    assert_eq!(deploy(&server, v2_sources()).0, 200);
    assert_eq!(
        server
            .post("/admin/bundles/demo/rollback", &json!({"version": 1, "author": "ann"}))
            .0,
        200
    );
    let winback = decide_body("u-00028", "Email", "email.winback");
    assert_eq!(shown(&server.decide(&winback)), ["winback-20"]);
    let (status, _) = server.post(
        "/ingest/consent",
        &json!({"tenant_id": "demo", "subject_id": "u-00028", "purpose": "marketing", "granted": false, "source": "preference-centre"}),
    );
    assert_eq!(status, 200);
    let first = hero(&server);
    for _ in 0..3 {
        server_support::view(&server, &first, None);
    }
    assert_eq!(
        server
            .post("/ingest/identity", &json!({"tenant_id": "demo", "subject_id": "u-00024", "identifiers": [{"kind": "email", "value": "ann@example.com"}]}))
            .0,
        200
    );
    let capped = hero(&server);
    assert!(!shown(&capped).contains(&"welcome-10".to_string()), "{capped}");
    let decision_id = capped["decision_id"].as_str().expect("id").to_string();

    server.restart();

    let (_, history) = server.get("/admin/bundles/demo");
    assert_eq!(history["active"], 1);
    assert_eq!(history["versions"].as_array().map(Vec::len), Some(2));
    let after = server.decide(&winback);
    assert_eq!(after["fallback"]["reason"], "consent_missing", "{after}");
    let by_email = server.decide(&json!({
        "subject": {"tenant_id": "demo", "identifiers": [{"kind": "email", "value": "Ann@Example.com"}]},
        "context": {"channel": "Web", "placement": "home.hero"},
    }));
    assert_eq!(
        shown(&by_email),
        shown(&capped),
        "the identity link and the caps survive"
    );
    let (status, record) = server.get(&format!("/admin/audit/{decision_id}"));
    assert_eq!(status, 200);
    assert_eq!(record["decision_id"], decision_id.as_str());
    // The seeded demo is not reseeded over the store's state.
    let (_, tenants) = server.get("/admin/tenants");
    assert_eq!(tenants["tenants"][0]["version"], 1);
}
