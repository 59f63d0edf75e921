//! End to end: what the server knows about subjects changes its decisions. Frequency caps stop
//! an offer after N views; consent withdrawal stops messaging decisions; identity links and
//! merges resolve identifiers to one subject; online features and bulk profiles feed the
//! policies; experiments split traffic as the policy says, identically to the interpreter's
//! assignment; a failing or slow store, or a missing catalog, serves the declared fallback.

mod server_support;

use serde_json::{json, Value};
use server_support::{decide_body, demo_sources, root, shown, view, Server, TempDir};
use std::collections::HashMap;

#[test]
fn caps_stop_an_offer_after_n_views() {
    let dir = TempDir::new("subjects-caps");
    let server = Server::demo(&dir);
    let hero = || server.decide(&decide_body("u-00024", "Web", "home.hero"));
    let first = hero();
    assert_eq!(shown(&first), ["welcome-10"]);
    // A view from two weeks ago is outside the 7-day window; clicks are not views.
    view(&server, &first, Some("2026-11-10T10:00:00Z"));
    let (status, _) = server.post(
        "/personalization/events",
        &json!([{"decision_id": first["decision_id"], "type": "click"}, {"decision_id": first["decision_id"], "type": "conversion", "offer_id": "welcome-10"}]),
    );
    assert_eq!(status, 200);
    // `cap offer 3 per 7d`: two views leave it, the third stops it.
    for _ in 0..2 {
        view(&server, &first, None);
        assert_eq!(shown(&hero()), ["welcome-10"]);
    }
    view(&server, &first, None);
    let (status, capped) = server.post(
        "/personalization/decide?explain=true",
        &decide_body("u-00024", "Web", "home.hero"),
    );
    assert_eq!(status, 200);
    assert!(!shown(&capped).contains(&"welcome-10".to_string()), "{capped}");
    let trace = capped["explain"]["candidates"].as_array().expect("candidates");
    let w = trace.iter().find(|c| c["id"] == "welcome-10").expect("traced");
    assert_eq!(w["outcome"], "capped");
    assert_eq!(w["limit"], 3);
    assert_eq!(w["seen"], 3);
    // The views were joined to the subject, not to the request: another subject is unaffected
    // (u-00024's caps do not leak), and the counters count.
    let (_, subject) = server.get("/admin/subjects/demo/u-00024");
    assert_eq!(subject["counters"]["view"], 4);
    assert_eq!(subject["counters"]["click"], 1);
    assert_eq!(subject["impressions"], 4);
    assert!(subject.to_string().contains("subject_hash"));
}

#[test]
fn consent_withdrawal_stops_messaging_decisions() {
    let dir = TempDir::new("subjects-consent");
    let server = Server::demo(&dir);
    let winback = decide_body("u-00028", "Email", "email.winback");
    assert_eq!(shown(&server.decide(&winback)), ["winback-20"]);
    let consent = |granted: bool, channel: Option<&str>, at: &str| {
        let mut body = json!({"tenant_id": "demo", "subject_id": "u-00028", "purpose": "marketing",
                              "granted": granted, "at": at, "source": "preference-centre"});
        if let Some(c) = channel {
            body["channel"] = json!(c);
        }
        let (status, v) = server.post("/ingest/consent", &body);
        assert_eq!(status, 200, "{v}");
    };
    consent(false, Some("Email"), "2026-11-20T00:00:00Z");
    let stopped = server.decide(&winback);
    assert_eq!(stopped["fallback"]["reason"], "consent_missing", "{stopped}");
    assert_eq!(shown(&stopped), ["winback-newsletter"]);
    // An older update arriving late does not undo the withdrawal.
    consent(true, Some("Email"), "2026-11-01T00:00:00Z");
    assert_eq!(server.decide(&winback)["fallback"]["reason"], "consent_missing");
    // A newer grant restores it.
    consent(true, Some("Email"), "2026-11-22T00:00:00Z");
    assert_eq!(shown(&server.decide(&winback)), ["winback-20"]);
    // Withdrawing everywhere, in bulk, stops it again.
    let line = json!({"subject_id": "u-00028", "purpose": "marketing", "granted": false,
                      "at": "2026-11-23T00:00:00Z", "source": "bulk"});
    let (status, v) = server.json("POST", "/ingest/consent/bulk?tenant_id=demo", None::<&Value>);
    assert_eq!(status, 400, "an empty bulk body is malformed: {v}");
    let (status, raw) = server.request(
        "POST",
        "/ingest/consent/bulk?tenant_id=demo",
        Some(format!("{line}\n{{\"subject_id\": 5}}\n").as_bytes()),
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["errors"][0]["line"], 2);
    // The channel record (granted, 11-22) still wins on Email over the general withdrawal.
    assert_eq!(shown(&server.decide(&winback)), ["winback-20"]);
    consent(false, Some("Email"), "2026-11-23T12:00:00Z");
    assert_eq!(server.decide(&winback)["fallback"]["reason"], "consent_missing");
}

#[test]
fn identities_resolve_and_merge_into_one_subject() {
    let dir = TempDir::new("subjects-identity");
    let server = Server::demo(&dir);
    let winback_by = |subject: Value| {
        server.decide(&json!({"subject": subject, "context": {"channel": "Email", "placement": "email.winback"}}))
    };
    // An e-mail address linked to u-00028 resolves to it.
    let (status, _) = server.post(
        "/ingest/identity",
        &json!({"tenant_id": "demo", "subject_id": "u-00028", "identifiers": [{"kind": "email", "value": "Lapsed@Example.com"}]}),
    );
    assert_eq!(status, 200);
    let by_email =
        winback_by(json!({"tenant_id": "demo", "identifiers": [{"kind": "email", "value": "lapsed@example.com "}]}));
    assert_eq!(shown(&by_email), ["winback-20"]);

    // A visitor known by a device id withdrew consent on another device; merging the visitor
    // into u-00028 moves the identifiers and combines consent (the newest record wins).
    server.post(
        "/ingest/identity",
        &json!({"tenant_id": "demo", "subject_id": "visitor-9", "identifiers": [{"kind": "device_id", "value": "dev-9"}]}),
    );
    server.post(
        "/ingest/consent",
        &json!({"tenant_id": "demo", "subject_id": "visitor-9", "purpose": "marketing", "granted": false,
                "at": "2026-11-01T00:00:00Z", "source": "app"}),
    );
    let (status, merged) = server.post(
        "/ingest/identity/merge",
        &json!({"tenant_id": "demo", "from": "visitor-9", "into": "u-00028"}),
    );
    assert_eq!(status, 200, "{merged}");
    let via_device = winback_by(json!({"tenant_id": "demo", "identifiers": [{"kind": "device_id", "value": "dev-9"}]}));
    assert_eq!(via_device["fallback"]["reason"], "consent_missing", "{via_device}");
    let via_old_id = winback_by(json!({"tenant_id": "demo", "id": "visitor-9"}));
    assert_eq!(via_old_id["fallback"]["reason"], "consent_missing");
    let direct = server.decide(&decide_body("u-00028", "Email", "email.winback"));
    assert_eq!(direct["fallback"]["reason"], "consent_missing");

    // Identifiers never appear in clear in what the server stores or records.
    let (_, subject) = server.get("/admin/subjects/demo/u-00028");
    let (_, audit) = server.get(&format!(
        "/admin/audit/{}",
        via_device["decision_id"].as_str().unwrap_or_default()
    ));
    for text in [subject.to_string(), audit.to_string()] {
        assert!(!text.to_lowercase().contains("lapsed@example.com"));
        assert!(!text.contains("dev-9"));
        assert!(
            !text.contains("\"u-00028\""),
            "the subject id is recorded only as a hash: {text}"
        );
    }
    assert_eq!(audit["subject_hash"], subject["subject_hash"]);
}

#[test]
fn features_and_bulk_profiles_feed_the_policies() {
    let dir = TempDir::new("subjects-features");
    let server = Server::demo(&dir);
    assert_eq!(
        shown(&server.decide(&decide_body("u-00024", "Web", "home.hero"))),
        ["welcome-10"]
    );
    // An online feature overrides the profile: u-00024 is no longer a new customer.
    let (status, v) = server.post(
        "/ingest/features",
        &json!({"tenant_id": "demo", "subject_id": "u-00024", "features": {"lifecycle": "Active", "orders": 4}}),
    );
    assert_eq!(status, 200, "{v}");
    let after = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    assert!(!shown(&after).contains(&"welcome-10".to_string()), "{after}");
    let (_, audit) = server.get(&format!(
        "/admin/audit/{}",
        after["decision_id"].as_str().unwrap_or_default()
    ));
    assert_eq!(
        audit["inputs"]["profile"]["lifecycle"], "Active",
        "the audit records the inputs the policies read"
    );
    assert_eq!(audit["inputs"]["now_ms"], 1_795_514_400_000i64);

    // Bulk profiles, in the examples' JSON-lines format.
    let profiles = std::fs::read_to_string(root().join("examples/profiles.jsonl")).expect("profiles");
    let first = profiles.lines().next().expect("a line");
    let renamed = first.replacen("\"u-00001\"", "\"new-9\"", 1);
    let body = format!("{renamed}\n{{\"id\": \"bad\", \"profile\": {{\"lifecycle\": 3}}}}\n");
    let (status, raw) = server.request("POST", "/ingest/profiles/bulk?tenant_id=demo", Some(body.as_bytes()));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["rejected"], 1);
    assert_eq!(v["errors"][0]["code"], "invalid_request");
    let banner = server.decide(&decide_body("new-9", "App", "app.home_banner"));
    assert!(banner["fallback"]["reason"] != "unknown_subject", "{banner}");
}

#[test]
fn experiments_split_traffic_as_the_policy_says() {
    let dir = TempDir::new("subjects-experiments");
    let server = Server::demo(&dir);
    // The in-process assignment for the same subjects: what every replica must agree on.
    let mut map = tailor_compiler::SourceMap::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("policies/retail"))
        .expect("policies")
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for p in paths {
        map.add(p.display().to_string(), std::fs::read_to_string(&p).expect("policy"));
    }
    let bundle = tailor_compiler::Bundle::compile(map).expect("compiles");
    let program = bundle.program();
    let exp = program
        .experiments
        .iter()
        .position(|e| e.name.ends_with("hero_copy"))
        .expect("hero_copy") as u32;

    let n = 1200usize;
    let addr = server.addr.clone();
    let results: Vec<(String, String)> = (0..4)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for i in (t..n).step_by(4) {
                    let id = format!("u-{:05}", i + 1);
                    let body = serde_json::to_vec(&decide_body(&id, "Web", "home.hero")).unwrap_or_default();
                    let (status, raw) = server_support::request(&addr, "POST", "/personalization/decide", Some(&body));
                    assert_eq!(status, 200);
                    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                    out.push((id, v["experiment"]["variant"].as_str().unwrap_or("none").to_string()));
                }
                out
            })
        })
        .flat_map(|h| h.join().expect("client"))
        .collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (id, variant) in &results {
        let want = tailor_compiler::interp::assign(program, exp, id).expect("assign");
        let def = &program.experiments[exp as usize];
        assert_eq!(variant, want.name(def), "{id}");
        *counts.entry(variant.clone()).or_default() += 1;
    }
    let share = |v: &str| *counts.get(v).unwrap_or(&0) as f64 / n as f64;
    // holdout 10%, then 50/50 of the rest: 10% / 45% / 45%, within 4 points.
    assert!((share("holdout") - 0.10).abs() < 0.04, "{counts:?}");
    assert!((share("control") - 0.45).abs() < 0.04, "{counts:?}");
    assert!((share("urgent") - 0.45).abs() < 0.04, "{counts:?}");
    // Sticky: asking again gives the same variant; held-out subjects get the fallback.
    for (id, variant) in results.iter().take(30) {
        let again = server.decide(&decide_body(id, "Web", "home.hero"));
        assert_eq!(again["experiment"]["variant"].as_str(), Some(variant.as_str()));
        if variant == "holdout" {
            assert_eq!(again["fallback"]["reason"], "holdout");
        }
        let (_, audit) = server.get(&format!(
            "/admin/audit/{}",
            again["decision_id"].as_str().unwrap_or_default()
        ));
        assert_eq!(
            audit["experiment"]["variant"].as_str(),
            Some(variant.as_str()),
            "the assignment is audited"
        );
    }
}

/// The demo with two experiments in one layer: `recs_order` (home.recs) takes 0–45% of layer
/// `web`, `upsell_copy` (checkout.upsell) 45–100%.
fn layered_sources() -> Value {
    demo_sources(|name, text| {
        let text = if name.ends_with("home.policy") {
            text.replacen(
                "  rank recs_rank\n  max 4",
                "  rank recs_rank\n  experiment recs_order\n  max 4",
                1,
            ) + "\nexperiment recs_order {\n  salt \"recs-order\"\n  layer web 0% to 45%\n  variant fit 50%\n  variant price 50%\n}\n"
        } else {
            text
        };
        if name.ends_with("checkout.policy") {
            text.replacen(
                "  rank upsell_rank\n  max 2",
                "  rank upsell_rank\n  experiment upsell_copy\n  max 2",
                1,
            ) + "\nexperiment upsell_copy {\n  salt \"upsell-copy\"\n  layer web 45% to 100%\n  variant plain 50%\n  variant bold 50%\n}\n"
        } else {
            text
        }
    })
}

#[test]
fn experiments_of_one_layer_never_share_a_subject() {
    let dir = TempDir::new("subjects-layers");
    let server = Server::demo(&dir);
    let sources = layered_sources();
    let (status, body) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ann", "message": "layered tests", "sources": sources}),
    );
    assert_eq!(status, 200, "{body}");
    let mut map = tailor_compiler::SourceMap::new();
    for s in sources.as_array().into_iter().flatten() {
        map.add(
            s["name"].as_str().unwrap_or_default().to_string(),
            s["text"].as_str().unwrap_or_default().to_string(),
        );
    }
    let bundle = tailor_compiler::Bundle::compile(map).expect("compiles");
    let program = bundle.program();
    let exp = |suffix: &str| {
        program
            .experiments
            .iter()
            .position(|e| e.name.ends_with(suffix))
            .expect("experiment") as u32
    };
    let (recs, upsell) = (exp("recs_order"), exp("upsell_copy"));

    let n = 400;
    let (mut in_recs, mut in_upsell) = (0, 0);
    for i in 0..n {
        let id = format!("u-{:05}", i + 1);
        let a = server.decide(&decide_body(&id, "Web", "home.recs"));
        let b = server.decide(&decide_body(&id, "Web", "checkout.upsell"));
        let (va, vb) = (a["experiment"]["variant"].as_str(), b["experiment"]["variant"].as_str());
        // The server agrees with the in-process assignment, `None` meaning not enrolled.
        for (v, x) in [(va, recs), (vb, upsell)] {
            let want = tailor_compiler::interp::assign(program, x, &id).expect("assign");
            assert_eq!(v, want.variant_name(&program.experiments[x as usize]), "{id}");
        }
        assert!(
            va.is_none() || vb.is_none(),
            "{id} is in both experiments of layer `web`"
        );
        // The slices cover the whole layer: everyone is in exactly one.
        assert!(va.is_some() || vb.is_some(), "{id} is in neither: {a} {b}");
        if va.is_some() {
            in_recs += 1;
        } else {
            // Not enrolled: decided as without the experiment, not as a holdout.
            assert_ne!(a["fallback"]["reason"], "holdout", "{a}");
        }
        if vb.is_some() {
            in_upsell += 1;
        }
    }
    let share = f64::from(in_recs) / f64::from(n);
    assert!(
        (share - 0.45).abs() < 0.07,
        "{in_recs} of {n} in recs_order, {in_upsell} in upsell_copy"
    );
}

#[test]
fn channel_caps_count_views_at_other_placements_of_the_channel() {
    let dir = TempDir::new("subjects-channel-cap");
    let server = Server::demo(&dir);
    // At most four Web impressions a day, whatever the placement, before the hero rests.
    let sources = demo_sources(|name, text| {
        if name.ends_with("home.policy") {
            text.replacen(
                "  cap offer 3 per 7d\n",
                "  cap offer 3 per 7d\n  cap channel 4 per 1d\n",
                1,
            )
        } else {
            text
        }
    });
    let (status, body) = server.post(
        "/admin/bundles",
        &json!({"tenant_id": "demo", "author": "ann", "message": "channel cap", "sources": sources}),
    );
    assert_eq!(status, 200, "{body}");
    let hero_web = decide_body("u-00024", "Web", "home.hero");
    assert_eq!(shown(&server.decide(&hero_web)), ["welcome-10"]);
    // Four views of the recommendations strip (home.recs, also Web).
    let recs = server.decide(&decide_body("u-00024", "Web", "home.recs"));
    let offer = shown(&recs).first().cloned().expect("a recommendation");
    for _ in 0..3 {
        let (status, v) = server.post(
            "/personalization/events",
            &json!({"decision_id": recs["decision_id"], "type": "view", "offer_id": offer}),
        );
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            shown(&server.decide(&hero_web)),
            ["welcome-10"],
            "three views are under the cap"
        );
    }
    let (status, _) = server.post(
        "/personalization/events",
        &json!({"decision_id": recs["decision_id"], "type": "view", "offer_id": offer}),
    );
    assert_eq!(status, 200);
    let capped = server.decide(&json!({
        "subject": {"id": "u-00024", "tenant_id": "demo"},
        "context": {"channel": "Web", "placement": "home.hero"},
    }));
    assert_eq!(capped["fallback"]["reason"], "nothing_eligible", "{capped}");
    // The App channel has its own count.
    assert_eq!(
        shown(&server.decide(&decide_body("u-00024", "App", "home.hero"))),
        ["welcome-10"]
    );
    // `?explain=true` names the cap.
    let (_, explained) = server.post(
        "/personalization/decide?explain=true",
        &decide_body("u-00024", "Web", "home.hero"),
    );
    let text = explained["explain"]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("capped by `cap channel 4 per 1d`: seen 4 times"),
        "{text}"
    );
}

#[test]
fn dependency_failures_serve_the_fallback_and_say_so() {
    let dir = TempDir::new("subjects-degrade");
    let server = Server::start(&dir.0, true, &[("TAILOR_FAULTS", "1"), ("TAILOR_DEADLINE_MS", "50")]);
    let hero = decide_body("u-00024", "Web", "home.hero");
    assert_eq!(shown(&server.decide(&hero)), ["welcome-10"]);
    let faults = |body: Value| assert_eq!(server.post("/admin/faults", &body).0, 200);

    faults(json!({"store_down": true}));
    let v = server.decide(&hero);
    assert_eq!(v["fallback"]["reason"], "store_unavailable", "{v}");
    assert_eq!(shown(&v), ["hero-brand-story"]);
    assert_eq!(v["logged"], true, "the audit log is separate from the subject store");

    faults(json!({"store_delay_ms": 400}));
    let started = std::time::Instant::now();
    let v = server.decide(&hero);
    assert_eq!(v["fallback"]["reason"], "deadline_exceeded", "{v}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(390),
        "answered at the deadline, not after the store"
    );

    faults(json!({"catalog_down": true}));
    let v = server.decide(&hero);
    assert_eq!(v["fallback"]["reason"], "catalog_unavailable", "{v}");

    faults(json!({}));
    assert_eq!(shown(&server.decide(&hero)), ["welcome-10"]);
    let (_, metrics) = server.request("GET", "/metrics", None);
    let text = String::from_utf8_lossy(&metrics);
    assert!(text.contains("reason=\"deadline_exceeded\"} 1"), "{text}");
}

#[test]
fn erasure_removes_a_subject_everywhere() {
    let dir = TempDir::new("subjects-erase");
    let server = Server::demo(&dir);
    server.post(
        "/ingest/identity",
        &json!({"tenant_id": "demo", "subject_id": "u-00024", "identifiers": [{"kind": "email", "value": "new@example.com"}]}),
    );
    let hero = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    view(&server, &hero, None);
    let other = server.decide(&decide_body("u-00001", "Web", "home.hero"));
    let (status, erased) = server.json("DELETE", "/admin/subjects/demo/u-00024", None);
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["identifiers"], 1);
    assert_eq!(erased["audit_records"], 1);
    assert_eq!(
        server
            .get(&format!(
                "/admin/audit/{}",
                hero["decision_id"].as_str().unwrap_or_default()
            ))
            .0,
        404
    );
    assert_eq!(
        server
            .get(&format!(
                "/admin/audit/{}",
                other["decision_id"].as_str().unwrap_or_default()
            ))
            .0,
        200
    );
    let (_, subject) = server.get("/admin/subjects/demo/u-00024");
    assert_eq!(subject["profile"], Value::Null);
    assert_eq!(subject["impressions"], 0);
    assert_eq!(subject["consent"], json!([]));
    // The store no longer knows the subject: it is decided as a stranger.
    let after = server.decide(&decide_body("u-00024", "Web", "home.hero"));
    assert_eq!(after["fallback"]["reason"], "unknown_subject", "{after}");
    let by_email = server.decide(&json!({
        "subject": {"tenant_id": "demo", "identifiers": [{"kind": "email", "value": "new@example.com"}]},
        "context": {"channel": "Web", "placement": "home.hero"},
    }));
    assert!(by_email["fallback"].is_object());
}
