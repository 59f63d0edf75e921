//! End to end: the audit log survives SIGKILL. Clients send decisions from several threads;
//! the server is killed with `kill -9` in the middle of the traffic, restarted on the same data
//! directory, and every decision it acknowledged with `"logged": true` must have its audit
//! record — in both durability modes. (sled has open crash-corruption reports; this is the
//! check that our use of it keeps acknowledged records.)

mod server_support;

use serde_json::Value;
use server_support::{decide_body, Server, TempDir};
use std::sync::{Arc, Mutex};

fn kill_mid_traffic(durability: &str) {
    let dir = TempDir::new(&format!("durability-{durability}"));
    let mut server = Server::start(&dir.0, true, &[("TAILOR_AUDIT_DURABILITY", durability)]);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let addr = server.addr.clone();
    let clients: Vec<_> = (0..4)
        .map(|t| {
            let (acked, addr) = (acknowledged.clone(), addr.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let subject = format!("u-{:05}", 1 + (t * 1000 + i) % 5000);
                    let body = serde_json::to_vec(&decide_body(&subject, "Web", "home.recs")).unwrap_or_default();
                    // Once the server is dead, connections fail: that ends the client.
                    let Ok((status, raw)) =
                        server_support::try_request(&addr, "POST", "/personalization/decide", Some(&body))
                    else {
                        break;
                    };
                    if status != 200 {
                        continue;
                    }
                    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                    if v["logged"] == true {
                        if let Some(id) = v["decision_id"].as_str() {
                            if let Ok(mut a) = acked.lock() {
                                a.push(id.to_string());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // Kill once a good number of decisions were acknowledged (and traffic is still flowing).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while acknowledged.lock().map(|a| a.len()).unwrap_or(0) < 150 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.kill();
    for c in clients {
        c.join().expect("client");
    }
    let acked = acknowledged.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(acked.len() >= 150, "only {} decisions were acknowledged", acked.len());

    server.restart();
    let mut missing = Vec::new();
    for id in &acked {
        let (status, record) = server.get(&format!("/admin/audit/{id}"));
        if status != 200 || record["decision_id"] != id.as_str() {
            missing.push(id.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged decisions lost their audit record ({durability}): {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    // The store still works after the crash.
    assert_eq!(
        server.decide(&decide_body("u-00001", "Web", "home.recs"))["logged"],
        true
    );
}

#[test]
fn acknowledged_decisions_survive_kill_9_with_group_commit() {
    kill_mid_traffic("batched");
}

#[test]
fn acknowledged_decisions_survive_kill_9_with_sync_commits() {
    kill_mid_traffic("sync");
}

#[test]
fn an_audit_failure_is_reported_not_hidden() {
    let dir = TempDir::new("durability-report");
    let server = Server::start(&dir.0, true, &[("TAILOR_FAULTS", "1")]);
    let (status, _) = server.post("/admin/faults", &serde_json::json!({"audit_down": true}));
    assert_eq!(status, 200);
    let v = server.decide(&decide_body("u-00001", "Web", "home.recs"));
    assert_eq!(v["logged"], false, "{v}");
    let id = v["decision_id"].as_str().expect("id").to_string();
    server.post("/admin/faults", &serde_json::json!({}));
    assert_eq!(server.get(&format!("/admin/audit/{id}")).0, 404);
    let (_, metrics) = server.request("GET", "/metrics", None);
    assert!(String::from_utf8_lossy(&metrics).contains("tailor_audit_failures_total 1"));
}

#[test]
fn sigterm_shuts_down_gracefully_and_keeps_the_log() {
    let dir = TempDir::new("durability-sigterm");
    let mut server = Server::demo(&dir);
    let v = server.decide(&decide_body("u-00001", "Web", "home.recs"));
    let id = v["decision_id"].as_str().expect("id").to_string();
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    server.restart();
    assert_eq!(server.get(&format!("/admin/audit/{id}")).0, 200);
}
