//! HTTP-level tests of the native-ZIA realism switches (rate limits, edit lock, ZIdentity
//! encoded GET) and the scenarios, against a real server and a real reqwest client.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::tests::{Ctx, code, ids, start_opts, user_body};
use super::{
    RetryStyle, Scenario, SimOptions, WeightLimits, WindowLimit, ZPA_SCIM_DEMO_TOKEN, ZiaLimits,
};

fn with_limits(limits: ZiaLimits) -> SimOptions {
    SimOptions {
        zia_limits: Some(limits),
        ..SimOptions::default()
    }
}

fn styled(style: RetryStyle) -> ZiaLimits {
    ZiaLimits {
        style,
        ..ZiaLimits::documented()
    }
}

/// A raw GET with the session cookie, returning the whole response (headers needed).
async fn raw_get(ctx: &Ctx, path: &str, sid: &str) -> reqwest::Response {
    ctx.http
        .get(ctx.url(path))
        .header("Cookie", format!("JSESSIONID={sid}"))
        .send()
        .await
        .expect("request sent")
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Sends GETs until one is refused (at most 6; the limit is 2/s) and returns that response.
async fn first_refused_get(ctx: &Ctx, sid: &str) -> reqwest::Response {
    for _ in 0..6 {
        let resp = raw_get(ctx, "/api/v1/users/70002", sid).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            return resp;
        }
        assert_eq!(resp.status(), StatusCode::OK);
    }
    panic!("six GETs in a row were all admitted under a 2/s limit");
}

#[tokio::test]
async fn get_burst_over_2_per_second_is_429_in_every_retry_style() {
    let styles = [
        RetryStyle::Header,
        RetryStyle::HeaderSeconds,
        RetryStyle::ZeroSeconds,
        RetryStyle::Body,
        RetryStyle::None,
        RetryStyle::RateLimitHeaders,
    ];
    for style in styles {
        let ctx = start_opts(with_limits(styled(style))).await;
        let sid = ctx.login().await;
        let resp = first_refused_get(&ctx, &sid).await;
        let retry_after = header(&resp, "retry-after");
        let reset = header(&resp, "x-ratelimit-reset");
        let remaining = header(&resp, "x-ratelimit-remaining");
        let body: Value = resp.json().await.expect("JSON body");
        assert_eq!(code(&body), "RATE_LIMIT_EXCEEDED", "{style:?}");
        assert!(body["message"].is_string());
        match style {
            RetryStyle::Header => assert_eq!(retry_after.as_deref(), Some("1")),
            RetryStyle::HeaderSeconds => assert_eq!(retry_after.as_deref(), Some("1 seconds")),
            RetryStyle::ZeroSeconds => assert_eq!(retry_after.as_deref(), Some("0 seconds")),
            RetryStyle::Body => {
                assert_eq!(retry_after, None);
                assert_eq!(body["Retry-After"], "1 seconds");
            }
            RetryStyle::None => {
                assert_eq!(retry_after, None);
                assert!(body.get("Retry-After").is_none());
            }
            RetryStyle::RateLimitHeaders => {
                assert_eq!(retry_after, None);
                assert_eq!(remaining.as_deref(), Some("0"));
                assert_eq!(reset.as_deref(), Some("1"));
            }
        }
        if style != RetryStyle::Body {
            assert!(body.get("Retry-After").is_none(), "{style:?}");
        }
        ctx.sim.shutdown().await;
    }
}

#[tokio::test]
async fn admitted_requests_carry_ratelimit_headers_in_that_style() {
    let ctx = start_opts(with_limits(styled(RetryStyle::RateLimitHeaders))).await;
    let sid = ctx.login().await;
    let resp = raw_get(&ctx, "/api/v1/users/70002", &sid).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "x-ratelimit-limit").as_deref(), Some("2"));
    assert_eq!(header(&resp, "x-ratelimit-remaining").as_deref(), Some("1"));
    assert_eq!(header(&resp, "x-ratelimit-reset").as_deref(), Some("1"));
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn delete_is_one_per_minute_and_login_logout_are_not_limited() {
    let ctx = start_opts(with_limits(ZiaLimits::documented())).await;
    let sid = ctx.login().await;
    let (status, _) = ctx.delete("/api/v1/users/70003", &sid).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let resp = ctx
        .http
        .delete(ctx.url("/api/v1/users/70004"))
        .header("Cookie", format!("JSESSIONID={sid}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&resp, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("numeric Retry-After");
    assert!((50..=60).contains(&wait), "waited {wait}");
    // The refused DELETE did nothing.
    let (status, _) = ctx.get("/__sim/users/70004", None).await;
    assert_eq!(status, StatusCode::OK);
    // Logout (a DELETE) and a new login still work.
    let (status, _) = ctx
        .call(
            reqwest::Method::DELETE,
            "/api/v1/authenticatedSession",
            Some(&sid),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let _ = ctx.login().await;
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn hourly_cap_answers_a_long_retry_after_and_counts_429s() {
    let limits = ZiaLimits {
        get: WeightLimits {
            burst: WindowLimit::per_second(100),
            hourly: WindowLimit::per_hour(3),
        },
        ..ZiaLimits::documented()
    };
    let ctx = start_opts(with_limits(limits)).await;
    let sid = ctx.login().await;
    for _ in 0..3 {
        assert_eq!(
            raw_get(&ctx, "/api/v1/users", &sid).await.status(),
            StatusCode::OK
        );
    }
    for _ in 0..2 {
        let resp = raw_get(&ctx, "/api/v1/users", &sid).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = header(&resp, "retry-after")
            .and_then(|v| v.parse().ok())
            .expect("numeric Retry-After");
        // The hourly shape: a wait of most of an hour, beyond the 5 minutes after which the
        // go-sdk gives up with "hourly rate limits have been reached".
        assert!(wait > 300 && wait <= 3600, "waited {wait}");
        let body: Value = resp.json().await.expect("JSON");
        assert_eq!(code(&body), "RATE_LIMIT_EXCEEDED");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Hourly"))
        );
    }
    // Writes have their own budget.
    let (status, _) = ctx
        .post(
            "/api/v1/users",
            &sid,
            user_body("Budget Person", "budget.person@acme.example"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, log) = ctx.get("/__sim/requests", None).await;
    assert_eq!(log["by_status"]["429"], 2);
    assert_eq!(
        log["rate_limited"],
        json!({"get": 2, "write": 0, "delete": 0, "activate": 0})
    );
    let status = ctx.sim_status().await;
    assert_eq!(status["rate_limited"]["get"], 2);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn activation_has_its_own_limit() {
    let limits = ZiaLimits {
        activate: WeightLimits {
            burst: WindowLimit::per_minute(1),
            hourly: WindowLimit::per_hour(40),
        },
        ..ZiaLimits::documented()
    };
    let ctx = start_opts(with_limits(limits)).await;
    let sid = ctx.login().await;
    let (status, _) = ctx.post("/api/v1/status/activate", &sid, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ctx.post("/api/v1/status/activate", &sid, json!({})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    // A POST /users is a medium write, not an activation.
    let (status, _) = ctx
        .post(
            "/api/v1/users",
            &sid,
            user_body("Act Person", "act.person@acme.example"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn limits_are_off_by_default() {
    let opts = SimOptions::default();
    assert!(opts.zia_limits.is_none() && !opts.edit_lock && !opts.zidentity_encoded_get);
    assert_eq!(opts.scenario, Scenario::Demo);
    let ctx = start_opts(opts).await;
    let sid = ctx.login().await;
    for _ in 0..10 {
        let (status, _) = ctx.get("/api/v1/users/70002", Some(&sid)).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(ctx.sim_status().await["rate_limited"], Value::Null);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn edit_lock_blocks_a_second_session_until_activation_or_logout() {
    let ctx = start_opts(SimOptions {
        edit_lock: true,
        ..SimOptions::default()
    })
    .await;
    let (a, b) = (ctx.login().await, ctx.login().await);
    ctx.new_user(&a, "lock.one@acme.example").await;

    // B can read but not write while A holds staged writes.
    let (status, _) = ctx.get("/api/v1/users/70002", Some(&b)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = ctx
        .post("/api/v1/users", &b, user_body("B", "lock.b@acme.example"))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "EDIT_LOCK_NOT_AVAILABLE")
    );
    let (status, body) = ctx.delete("/api/v1/users/70003", &b).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "EDIT_LOCK_NOT_AVAILABLE")
    );
    let (status, body) = ctx
        .post("/api/v1/users/bulkDelete", &b, json!({"ids": [70003]}))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "EDIT_LOCK_NOT_AVAILABLE")
    );
    // The holder itself keeps writing.
    ctx.new_user(&a, "lock.two@acme.example").await;
    assert_eq!(ctx.sim_status().await["edit_locked"], true);

    // Activation releases the lock.
    let (status, _) = ctx.post("/api/v1/status/activate", &a, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    ctx.new_user(&b, "lock.b@acme.example").await;

    // Now B holds it; A is refused until B logs out (which activates).
    let (status, body) = ctx
        .put(
            "/api/v1/users/70002",
            &a,
            user_body("Jane Doe", "jane.doe@acme.example"),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "EDIT_LOCK_NOT_AVAILABLE")
    );
    let (status, _) = ctx
        .call(
            reqwest::Method::DELETE,
            "/api/v1/authenticatedSession",
            Some(&b),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(ctx.sim_status().await["status"], "ACTIVE");
    let (status, _) = ctx
        .put(
            "/api/v1/users/70002",
            &a,
            user_body("Jane Doe", "jane.doe@acme.example"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn edit_lock_is_off_by_default() {
    let ctx = start_opts(SimOptions::default()).await;
    let (a, b) = (ctx.login().await, ctx.login().await);
    ctx.new_user(&a, "free.one@acme.example").await;
    ctx.new_user(&b, "free.two@acme.example").await;
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn zidentity_get_by_id_is_encoded_but_the_list_is_plain() {
    let ctx = start_opts(SimOptions {
        zidentity_encoded_get: true,
        ..SimOptions::default()
    })
    .await;
    let sid = ctx.login().await;
    let (status, user) = ctx.get("/api/v1/users/70002", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["name"], "Jane%20Doe");
    assert_eq!(user["email"], "jane.doe%40acme.example");
    assert_eq!(user["department"]["name"], "Sales");
    let (_, list) = ctx.get("/api/v1/users?name=Jane%20Doe", Some(&sid)).await;
    let jane = list
        .as_array()
        .and_then(|a| a.iter().find(|u| u["id"] == 70002))
        .cloned()
        .unwrap_or_default();
    assert_eq!(jane["name"], "Jane Doe");
    assert_eq!(jane["email"], "jane.doe@acme.example");
    // Without the switch the GET is plain.
    let plain = start_opts(SimOptions::default()).await;
    let sid = plain.login().await;
    let (_, user) = plain.get("/api/v1/users/70002", Some(&sid)).await;
    assert_eq!(user["email"], "jane.doe@acme.example");
    plain.sim.shutdown().await;
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn large_scenario_pages_100000_users_by_10000() {
    let ctx = start_opts(SimOptions {
        scenario: Scenario::Large,
        seed: 9,
        ..SimOptions::default()
    })
    .await;
    let sid = ctx.login().await;
    let started = std::time::Instant::now();
    let mut all = Vec::new();
    for page in 1..=11 {
        let (status, body) = ctx
            .get(
                &format!("/api/v1/users?pageSize=10000&page={page}"),
                Some(&sid),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let got = ids(&body);
        assert_eq!(
            got.len(),
            if page <= 10 { 10_000 } else { 0 },
            "page {page}"
        );
        all.extend(got);
    }
    eprintln!("listed 100,000 users in {:?}", started.elapsed());
    all.dedup();
    assert_eq!(all.len(), 100_000);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    let (_, groups) = ctx
        .get("/api/v1/groups?pageSize=1000&page=2", Some(&sid))
        .await;
    assert_eq!(ids(&groups).len(), 1000);
    let (_, depts) = ctx
        .get("/api/v1/departments?pageSize=1000", Some(&sid))
        .await;
    assert_eq!(ids(&depts).len(), 50);
    assert_eq!(ctx.sim_status().await["draft_users"], 100_000);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn orphans_scenario_serves_drift_and_an_hr_export() {
    let ctx = start_opts(SimOptions {
        scenario: Scenario::Orphans,
        seed: 5,
        ..SimOptions::default()
    })
    .await;
    let csv = ctx.sim.hr_export_csv().expect("HR export").to_string();
    assert!(csv.starts_with("work_email,status,end_date,"));
    assert!(csv.contains("departed.employee@acme.example,terminated,2025-09-30,"));
    assert!(!csv.contains("ghost.user@acme.example"));

    let (_, found) = ctx
        .get("/__sim/users?email=ghost.user@acme.example", None)
        .await;
    assert_eq!(ids(&found).len(), 1);
    let (_, found) = ctx
        .get("/__sim/users?email=consultant@partner-firm.example", None)
        .await;
    assert_eq!(ids(&found).len(), 1);
    // Every terminated row with a date that names a ZIA user is still present in ZIA.
    for line in csv.lines().filter(|l| l.contains(",terminated,")) {
        let email = line.split(',').next().unwrap_or_default();
        let (_, found) = ctx.get(&format!("/__sim/users?email={email}"), None).await;
        let in_zia = !ids(&found).is_empty();
        let hr_only = [
            "former.zpa@acme.example",
            "long.gone@acme.example",
            // Known to the tenants under an alias and an externalId.
            "person.renamed@acme.example",
            "zpa.newname@acme.example",
        ]
        .contains(&email);
        assert_eq!(in_zia, !hr_only, "{email}");
    }

    // ZPA SCIM knows the ZPA-only leaver; ZIA does not.
    let zpa = |user_name: &str| {
        ctx.http
            .get(format!("{}/Users", ctx.sim.zpa_scim_url()))
            .query(&[("filter", format!("userName eq \"{user_name}\""))])
            .bearer_auth(ZPA_SCIM_DEMO_TOKEN)
            .send()
    };
    let body: Value = zpa("former.zpa@acme.example")
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["totalResults"], 1);
    let body: Value = zpa("ghost.user@acme.example")
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["totalResults"], 0);
    // The demo scenario has no HR export.
    let demo = start_opts(SimOptions::default()).await;
    assert!(demo.sim.hr_export_csv().is_none());
    demo.sim.shutdown().await;
    ctx.sim.shutdown().await;
}

#[test]
fn scenario_names_parse() {
    assert_eq!("large".parse::<Scenario>(), Ok(Scenario::Large));
    assert_eq!(" Orphans ".parse::<Scenario>(), Ok(Scenario::Orphans));
    assert_eq!("demo".parse::<Scenario>(), Ok(Scenario::Demo));
    assert!("huge".parse::<Scenario>().is_err());
    assert_eq!(Scenario::Large.to_string(), "large");
}

#[tokio::test]
async fn fault_kinds_latency_reset_and_timeout() {
    let ctx = start_opts(SimOptions::default()).await;
    let sid = ctx.login().await;
    let faults = json!([
        {"route": "GET /api/v1/users/{id}", "latency_ms": 300},
        {"route": "GET /api/v1/groups", "kind": "reset"},
        {"route": "GET /api/v1/departments", "kind": "timeout", "latency_ms": 5000},
        {"route": format!("GET {}/Users", super::ZPA_SCIM_BASE_PATH), "kind": "reset"},
    ]);
    let (status, body) = ctx
        .call(reqwest::Method::POST, "/__sim/faults", None, Some(faults))
        .await;
    assert_eq!((status, &body["queued"]), (StatusCode::OK, &json!(4)));

    // Latency only: the request is answered normally, late.
    let t0 = std::time::Instant::now();
    let (status, user) = ctx.get("/api/v1/users/70002", Some(&sid)).await;
    assert_eq!(
        (status, &user["email"]),
        (StatusCode::OK, &json!("jane.doe@acme.example"))
    );
    assert!(t0.elapsed() >= std::time::Duration::from_millis(300));

    // Reset: no answer the client can read.
    let reset = ctx
        .http
        .get(ctx.url("/api/v1/groups"))
        .header("Cookie", format!("JSESSIONID={sid}"))
        .send()
        .await;
    // hyper drops the connection before the head goes out: no status reaches the client.
    assert!(reset.is_err(), "a reset fault must not deliver an answer");

    // Timeout: the client gives up first.
    let timed_out = ctx
        .http
        .get(ctx.url("/api/v1/departments"))
        .header("Cookie", format!("JSESSIONID={sid}"))
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));

    // SCIM routes take the same kinds.
    let scim = ctx
        .http
        .get(format!("{}/Users", ctx.sim.zpa_scim_url()))
        .bearer_auth(ZPA_SCIM_DEMO_TOKEN)
        .send()
        .await;
    assert!(scim.is_err());

    // Faults are used up; the next requests are normal.
    let (status, _) = ctx.get("/api/v1/groups", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = ctx.get("/__sim/requests", None).await;
    assert_eq!(log["by_status"]["dropped"], 2);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn state_file_survives_a_restart_with_pending_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tenant.json");
    let opts = || SimOptions {
        state_file: Some(path.clone()),
        ..SimOptions::default()
    };
    let ctx = start_opts(opts()).await;
    assert!(path.exists(), "the state file is written at start");
    let sid = ctx.login().await;
    let created = ctx.new_user(&sid, "persisted.person@acme.example").await;
    let (status, _) = ctx.delete("/api/v1/users/70003", &sid).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A ZPA SCIM write is saved too.
    let resp = ctx
        .http
        .post(format!("{}/Users", ctx.sim.zpa_scim_url()))
        .bearer_auth(ZPA_SCIM_DEMO_TOKEN)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "persisted.zpa@acme.example",
                "displayName": "Persisted Zpa",
                "active": true
            })
            .to_string(),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Stop without logout: the writes are still pending.
    ctx.sim.shutdown().await;

    let ctx = start_opts(opts()).await;
    let status = ctx.sim_status().await;
    assert_eq!(status["status"], "PENDING");
    let (code_live, _) = ctx.get("/__sim/users/70003?view=live", None).await;
    let (code_draft, _) = ctx.get("/__sim/users/70003", None).await;
    assert_eq!(
        (code_live, code_draft),
        (StatusCode::OK, StatusCode::NOT_FOUND)
    );
    let id = created["id"].as_u64().expect("id");
    let (status, _) = ctx.get(&format!("/__sim/users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    // New ids continue after the saved ones.
    let sid = ctx.login().await;
    let next = ctx.new_user(&sid, "after.restart@acme.example").await;
    assert_eq!(next["id"].as_u64(), Some(id + 1));
    let found: Value = ctx
        .http
        .get(format!("{}/Users", ctx.sim.zpa_scim_url()))
        .query(&[("filter", "userName eq \"persisted.zpa@acme.example\"")])
        .bearer_auth(ZPA_SCIM_DEMO_TOKEN)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(found["totalResults"], 1);
    ctx.sim.shutdown().await;

    // A file that is not a state file is refused at start.
    std::fs::write(&path, b"{not json").expect("write");
    assert!(matches!(
        super::Sim::start(opts()).await,
        Err(super::SimError::State(_))
    ));
}
