//! HTTP-level tests of the simulator: a real server on 127.0.0.1 and a real reqwest client.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::auth::obfuscate_api_key;
use super::{Sim, SimCredentials, SimOptions};

const TS: u64 = 1_718_236_987_654;

pub(crate) struct Ctx {
    pub(crate) sim: Sim,
    pub(crate) http: reqwest::Client,
}

async fn start_with(timeout: Duration) -> Ctx {
    start_opts(SimOptions {
        session_idle_timeout: timeout,
        ..SimOptions::default()
    })
    .await
}

/// Starts a simulator with `opts` and a client for it.
pub(crate) async fn start_opts(opts: SimOptions) -> Ctx {
    let sim = Sim::start(opts).await.expect("simulator starts");
    // reqwest is built with `rustls-no-provider`: a provider must exist even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ctx {
        sim,
        http: reqwest::Client::new(),
    }
}

async fn start() -> Ctx {
    start_with(Duration::from_secs(300)).await
}

fn login_body(creds: &SimCredentials, ts: Value) -> Value {
    let digits = match &ts {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    json!({
        "apiKey": obfuscate_api_key(&creds.api_key, &digits).expect("obfuscates"),
        "username": creds.username,
        "password": creds.password,
        "timestamp": ts,
    })
}

impl Ctx {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    /// Sends a request; `body` is sent as JSON when given. Returns status and JSON (or Null).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(c) = cookie {
            req = req.header("Cookie", format!("JSESSIONID={c}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub(crate) async fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, cookie, None).await
    }

    pub(crate) async fn post(&self, path: &str, cookie: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(cookie), Some(body))
            .await
    }

    pub(crate) async fn put(&self, path: &str, cookie: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(cookie), Some(body))
            .await
    }

    pub(crate) async fn delete(&self, path: &str, cookie: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, Some(cookie), None)
            .await
    }

    async fn try_login(&self, body: Value) -> (StatusCode, Value, Option<String>) {
        let resp = self
            .http
            .post(self.url("/api/v1/authenticatedSession"))
            .json(&body)
            .send()
            .await
            .expect("login sent");
        let status = resp.status();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, cookie)
    }

    /// Logs in with the demo credentials and returns the JSESSIONID value.
    pub(crate) async fn login(&self) -> String {
        let (status, _, cookie) = self
            .try_login(login_body(self.sim.credentials(), json!(TS)))
            .await;
        assert_eq!(status, StatusCode::OK);
        let cookie = cookie.expect("Set-Cookie present");
        let value = cookie
            .strip_prefix("JSESSIONID=")
            .and_then(|rest| rest.split(';').next())
            .expect("JSESSIONID cookie");
        value.to_string()
    }

    pub(crate) async fn sim_status(&self) -> Value {
        self.get("/__sim/status", None).await.1
    }

    pub(crate) async fn new_user(&self, cookie: &str, email: &str) -> Value {
        let (status, user) = self
            .post("/api/v1/users", cookie, user_body("New Person", email))
            .await;
        assert_eq!(status, StatusCode::OK, "{user}");
        user
    }
}

pub(crate) fn user_body(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "department": {"id": 77002},
        "groups": [{"id": 88001}, {"id": 88003}],
        "comments": "created by test",
    })
}

pub(crate) fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("<none>")
}

pub(crate) fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|u| u["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn login_ok_with_number_or_string_timestamp() {
    let ctx = start().await;
    let creds = ctx.sim.credentials().clone();
    let (status, body, cookie) = ctx.try_login(login_body(&creds, json!(TS))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["authType"], "ADMIN_LOGIN");
    assert_eq!(body["source"], "API");
    let cookie = cookie.expect("cookie");
    assert!(cookie.starts_with("JSESSIONID="), "{cookie}");
    assert!(cookie.contains("Path=/") && cookie.contains("HttpOnly"));

    let (status, _, _) = ctx
        .try_login(login_body(&creds, json!("1712345000123")))
        .await;
    assert_eq!(status, StatusCode::OK);

    let sid = ctx.login().await;
    let (status, body) = ctx.get("/api/v1/authenticatedSession", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["authType"], "ADMIN_LOGIN");
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn login_failures_do_not_say_which_part_was_wrong() {
    let ctx = start().await;
    let creds = ctx.sim.credentials().clone();
    let good = login_body(&creds, json!(TS));

    let mut bad_key = good.clone();
    bad_key["apiKey"] = json!("DemoKey12345"); // the raw key, not obfuscated
    let mut bad_pass = good.clone();
    bad_pass["password"] = json!("wrong");
    let mut bad_user = good.clone();
    bad_user["username"] = json!("someone@acme.example");
    let mut other_ts = good.clone();
    other_ts["timestamp"] = json!(TS + 1); // key was obfuscated with TS
    let mut missing = good.clone();
    missing.as_object_mut().map(|m| m.remove("password"));
    let mut bad_ts = good.clone();
    bad_ts["timestamp"] = json!(true);

    let mut messages = Vec::new();
    for body in [bad_key, bad_pass, bad_user, other_ts, missing, bad_ts] {
        let (status, resp, cookie) = ctx.try_login(body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&resp), "AUTHENTICATION_FAILED");
        assert!(cookie.is_none());
        messages.push(resp["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]));
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn missing_json_content_type_is_415() {
    let ctx = start().await;
    let body = login_body(ctx.sim.credentials(), json!(TS)).to_string();
    let resp = ctx
        .http
        .post(ctx.url("/api/v1/authenticatedSession"))
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let sid = ctx.login().await;
    let resp = ctx
        .http
        .post(ctx.url("/api/v1/users"))
        .header("Cookie", format!("JSESSIONID={sid}"))
        .header("Content-Type", "text/plain")
        .body(user_body("X", "x@acme.example").to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn requests_without_a_live_session_get_session_not_valid() {
    let ctx = start().await;
    for path in [
        "/api/v1/users",
        "/api/v1/users/70001",
        "/api/v1/groups",
        "/api/v1/departments",
        "/api/v1/status",
        "/api/v1/authenticatedSession",
    ] {
        for cookie in [None, Some("DEADBEEF")] {
            let (status, body) = ctx.get(path, cookie).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(code(&body), "SESSION_NOT_VALID", "{path}");
        }
    }
    let (status, body) = ctx
        .call(
            reqwest::Method::DELETE,
            "/api/v1/authenticatedSession",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "SESSION_NOT_VALID");
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn list_users_paging_and_filters() {
    let ctx = start().await;
    let sid = ctx.login().await;

    let (status, all) = ctx.get("/api/v1/users?pageSize=10000", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 308);
    assert!(all_ids.windows(2).all(|w| w[0] < w[1]), "sorted by id");
    assert_eq!(all_ids[0], 70001);

    let (_, default_page) = ctx.get("/api/v1/users", Some(&sid)).await;
    assert_eq!(ids(&default_page).len(), 100);

    let (_, page2) = ctx.get("/api/v1/users?page=2&pageSize=5", Some(&sid)).await;
    assert_eq!(ids(&page2), vec![70006, 70007, 70008, 70009, 70010]);
    let (_, past_end) = ctx
        .get("/api/v1/users?page=100&pageSize=5", Some(&sid))
        .await;
    assert_eq!(past_end, json!([]));

    for bad in [
        "pageSize=10001",
        "pageSize=0",
        "page=0",
        "page=x",
        "pageSize=-1",
    ] {
        let (status, body) = ctx.get(&format!("/api/v1/users?{bad}"), Some(&sid)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code(&body), "INVALID_INPUT_ARGUMENT");
    }

    let (_, janes) = ctx
        .get("/api/v1/users?name=jAnE&pageSize=10000", Some(&sid))
        .await;
    assert_eq!(ids(&janes), vec![70002, 70007]);
    let (_, svc) = ctx.get("/api/v1/users?group=service", Some(&sid)).await;
    assert_eq!(ids(&svc), vec![70004]);
    let (_, it) = ctx
        .get("/api/v1/users?dept=IT&pageSize=10000", Some(&sid))
        .await;
    let it = it.as_array().cloned().unwrap_or_default();
    assert!(it.len() > 2);
    assert!(it.iter().all(|u| u["department"]["name"] == "IT"));
    let (_, both) = ctx
        .get(
            "/api/v1/users?dept=Sales&group=All%20Staff&name=Jane",
            Some(&sid),
        )
        .await;
    assert_eq!(ids(&both), vec![70002, 70007]);

    let bg = &all[0];
    assert_eq!(bg["email"], "breakglass@acme.example");
    assert_eq!(bg["adminUser"], true);
    assert_eq!(bg["department"], json!({"id": 77007, "name": "IT"}));
    assert_eq!(bg["groups"], json!([{"id": 88009, "name": "Admins"}]));
    assert_eq!(bg["deleted"], false);
    let no_dept = all
        .as_array()
        .and_then(|a| a.iter().find(|u| u["id"] == 70008));
    assert!(no_dept.is_some_and(|u| u.get("department").is_none()));
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn groups_and_departments() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let (status, groups) = ctx.get("/api/v1/groups", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&groups).len(), 15);
    assert_eq!(groups[0]["name"], "All Staff");
    assert_eq!(groups[0]["isSystemDefined"], false);
    assert_eq!(groups[0]["idpId"], 0);
    let (_, vpn) = ctx.get("/api/v1/groups?search=vpn", Some(&sid)).await;
    assert_eq!(ids(&vpn), vec![88014]);
    let (status, g) = ctx.get("/api/v1/groups/88015", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["name"], "Service Accounts");
    let (status, _) = ctx.get("/api/v1/groups/1", Some(&sid)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = ctx.get("/api/v1/groups?pageSize=1001", Some(&sid)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, depts) = ctx
        .get("/api/v1/departments?pageSize=3&page=2", Some(&sid))
        .await;
    assert_eq!(ids(&depts), vec![77004, 77005, 77006]);
    assert_eq!(depts[0]["deleted"], false);
    let (_, d) = ctx.get("/api/v1/departments/77010", Some(&sid)).await;
    assert_eq!(d["name"], "Operations");
    let (_, eng) = ctx.get("/api/v1/departments?search=GINE", Some(&sid)).await;
    assert_eq!(ids(&eng), vec![77002]);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn create_then_get_and_validation() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let created = ctx.new_user(&sid, "ada.new@acme.example").await;
    let id = created["id"].as_u64().expect("id");
    assert_eq!(id, 70309);
    assert_eq!(
        created["department"],
        json!({"id": 77002, "name": "Engineering"})
    );
    assert_eq!(
        created["groups"],
        json!([{"id": 88001, "name": "All Staff"}, {"id": 88003, "name": "Engineering"}])
    );
    assert_eq!(created["comments"], "created by test");
    let (status, fetched) = ctx.get(&format!("/api/v1/users/{id}"), Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);

    // Duplicate email, case-insensitively.
    let (status, body) = ctx
        .post(
            "/api/v1/users",
            &sid,
            user_body("Dup", "JANE.DOE@acme.example"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "DUPLICATE_ITEM");

    let cases: Vec<(Value, &str)> = vec![
        (user_body("X", "x@gmail.example"), "gmail.example"),
        (user_body("", "x@acme.example"), "name"),
        (user_body(&"n".repeat(128), "x@acme.example"), "name"),
        (user_body("X", "no-at-sign.acme.example"), "@"),
        (user_body("X", "a@b@acme.example"), "@"),
        (
            user_body("X", &format!("{}@acme.example", "e".repeat(115))),
            "email",
        ),
        (
            json!({"name": "X", "email": "x@acme.example", "groups": []}),
            "department",
        ),
        (
            json!({"name": "X", "email": "x@acme.example", "department": {"id": 1}}),
            "Department",
        ),
        (
            json!({"name": "X", "email": "x@acme.example", "department": {"id": 77001}, "groups": [{"id": 5}]}),
            "Group",
        ),
        (
            json!({"name": "X", "email": "x@acme.example", "department": {"id": 77001},
                   "groups": (0..129).map(|_| json!({"id": 88001})).collect::<Vec<_>>()}),
            "128",
        ),
        (
            json!({"email": "x@acme.example", "department": {"id": 77001}}),
            "name",
        ),
        (json!({"name": "X", "department": {"id": 77001}}), "email"),
        (json!({"name": 5, "email": "x@acme.example"}), "Invalid"),
    ];
    for (body, hint) in cases {
        let (status, resp) = ctx.post("/api/v1/users", &sid, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert_eq!(code(&resp), "INVALID_INPUT_ARGUMENT");
        let msg = resp["message"].as_str().unwrap_or_default();
        assert!(msg.contains(hint), "{msg} should mention {hint}");
    }

    // 127-character name is fine; unknown fields are ignored.
    let mut ok = user_body(&"n".repeat(127), "long.name@acme-labs.example");
    ok["unknownField"] = json!({"x": 1});
    ok["groups"] = json!([{"id": 88002, "name": "ignored"}]);
    let (status, body) = ctx.post("/api/v1/users", &sid, ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groups"], json!([{"id": 88002, "name": "Sales"}]));
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn put_is_a_full_replace() {
    let ctx = start().await;
    let sid = ctx.login().await;
    // Omitting groups and comments clears them.
    let body =
        json!({"name": "Jane D.", "email": "jane.doe@acme.example", "department": {"id": 77001}});
    let (status, user) = ctx.put("/api/v1/users/70002", &sid, body).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["groups"], json!([]));
    assert_eq!(user["name"], "Jane D.");
    let (_, fetched) = ctx.get("/api/v1/users/70002", Some(&sid)).await;
    assert_eq!(fetched, user);

    let (status, _) = ctx
        .put(
            "/api/v1/users/70001",
            &sid,
            json!({"name": "BG", "email": "breakglass@acme.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "department is required");
    let (status, resp) = ctx
        .put(
            "/api/v1/users/70003",
            &sid,
            user_body("J", "jdoe@acme.example"),
        )
        .await;
    assert_eq!(
        (status, code(&resp)),
        (StatusCode::CONFLICT, "DUPLICATE_ITEM")
    );
    let (status, resp) = ctx
        .put(
            "/api/v1/users/99",
            &sid,
            user_body("J", "nobody@acme.example"),
        )
        .await;
    assert_eq!(
        (status, code(&resp)),
        (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")
    );

    // Comments cleared when omitted.
    let mut body = user_body("Scanner", "svc-scanner@acme.example");
    body.as_object_mut().map(|m| m.remove("comments"));
    let (_, svc) = ctx.put("/api/v1/users/70004", &sid, body).await;
    assert!(svc.get("comments").is_none(), "{svc}");
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn delete_and_bad_ids() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let (status, body) = ctx.delete("/api/v1/users/70003", &sid).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = ctx.get("/api/v1/users/70003", Some(&sid)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")
    );
    let (status, _) = ctx.delete("/api/v1/users/70003", &sid).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
        let (status, body) = ctx.get(&format!("/api/v1/users/{bad}"), Some(&sid)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_INPUT_ARGUMENT")
        );
    }
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn bulk_delete_truncates_at_500() {
    let ctx = start().await;
    let sid = ctx.login().await;
    // 70100 is first, 70101 is the 501st id: only the first 500 are considered.
    let mut list = vec![70100u64, 70002];
    list.extend(1..=498);
    list.push(70101);
    assert_eq!(list.len(), 501);
    let (status, body) = ctx
        .post("/api/v1/users/bulkDelete", &sid, json!({ "ids": list }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ids": [70100, 70002]}));
    let (status, _) = ctx.get("/api/v1/users/70101", Some(&sid)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ctx.get("/api/v1/users/70100", Some(&sid)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = ctx
        .post("/api/v1/users/bulkDelete", &sid, json!({ "ids": "nope" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_INPUT_ARGUMENT")
    );
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn writes_are_staged_until_activation() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let (_, s) = ctx.get("/api/v1/status", Some(&sid)).await;
    assert_eq!(s, json!({"status": "ACTIVE"}));

    let user = ctx.new_user(&sid, "staged@acme.example").await;
    let id = user["id"].as_u64().expect("id");
    let (_, s) = ctx.get("/api/v1/status", Some(&sid)).await;
    assert_eq!(s, json!({"status": "PENDING"}));
    let (status, _) = ctx.get(&format!("/__sim/users/{id}?view=live"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = ctx.get(&format!("/__sim/users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, found) = ctx
        .get("/__sim/users?email=STAGED@acme.example&view=live", None)
        .await;
    assert_eq!(found, json!([]));
    let st = ctx.sim_status().await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["draft_users"], 309);
    assert_eq!(st["live_users"], 308);

    let (status, body) = ctx.post("/api/v1/status/activate", &sid, json!({})).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"status": "ACTIVE"}))
    );
    let (_, found) = ctx
        .get("/__sim/users?email=staged@ACME.example&view=live", None)
        .await;
    assert_eq!(ids(&found), vec![id]);
    let (_, s) = ctx.get("/api/v1/status", Some(&sid)).await;
    assert_eq!(s, json!({"status": "ACTIVE"}));

    // Activation with no body at all (and no content type) is accepted too.
    ctx.delete(&format!("/api/v1/users/{id}"), &sid).await;
    let (status, _) = ctx
        .call(
            reqwest::Method::POST,
            "/api/v1/status/activate",
            Some(&sid),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctx.sim_status().await["live_users"], 308);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn logout_after_a_write_activates_but_read_only_logout_does_not() {
    let ctx = start().await;
    let writer = ctx.login().await;
    let reader = ctx.login().await;
    ctx.new_user(&writer, "logout.case@acme.example").await;
    ctx.get("/api/v1/users", Some(&reader)).await;

    let (status, _) = ctx.delete("/api/v1/authenticatedSession", &reader).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(ctx.sim_status().await["status"], "PENDING");

    let (status, _) = ctx.delete("/api/v1/authenticatedSession", &writer).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let st = ctx.sim_status().await;
    assert_eq!(st["status"], "ACTIVE");
    assert_eq!(st["sessions"], 0);
    assert_eq!(st["live_users"], 309);
    let (status, body) = ctx.get("/api/v1/users", Some(&writer)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "SESSION_NOT_VALID")
    );
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn idle_expiry_after_a_write_activates() {
    let ctx = start_with(Duration::from_millis(300)).await;
    let sid = ctx.login().await;
    // Requests keep the session alive past the timeout.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, _) = ctx.get("/api/v1/status", Some(&sid)).await;
        assert_eq!(status, StatusCode::OK);
    }
    ctx.new_user(&sid, "idle.case@acme.example").await;
    assert_eq!(ctx.sim_status().await["status"], "PENDING");

    // Let the sweeper (not a request) end the session.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let st = ctx.sim_status().await;
    assert_eq!(st["sessions"], 0);
    assert_eq!(st["status"], "ACTIVE");
    assert_eq!(st["live_users"], 309);
    let (status, body) = ctx.get("/api/v1/users", Some(&sid)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "SESSION_NOT_VALID")
    );
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn expire_sessions_endpoint_activates_writers() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let other = ctx.login().await;
    ctx.new_user(&sid, "expire.case@acme.example").await;
    assert_eq!(ctx.sim_status().await["sessions"], 2);
    let (status, body) = ctx
        .call(reqwest::Method::POST, "/__sim/expire-sessions", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expired"], 2);
    let st = ctx.sim_status().await;
    assert_eq!(
        (st["sessions"].clone(), st["status"].clone()),
        (json!(0), json!("ACTIVE"))
    );
    let (_, found) = ctx
        .get(
            "/__sim/users?email=expire.case@acme.example&view=live",
            None,
        )
        .await;
    assert_eq!(ids(&found).len(), 1);
    for s in [sid, other] {
        let (status, body) = ctx.get("/api/v1/status", Some(&s)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "SESSION_NOT_VALID")
        );
    }
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_input_never_panics() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let bodies: [&[u8]; 9] = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"\"str\"",
        b"{\"name\": {\"nested\": [1,2,3]}}",
        b"\xff\xfe\x00garbage",
        b"{\"ids\": [-1, 1.5, \"x\"]}",
        b"{\"department\": {\"id\": -5}, \"groups\": [null]}",
    ];
    let targets = [
        (reqwest::Method::POST, "/api/v1/authenticatedSession"),
        (reqwest::Method::POST, "/api/v1/users"),
        (reqwest::Method::PUT, "/api/v1/users/70002"),
        (reqwest::Method::POST, "/api/v1/users/bulkDelete"),
        (reqwest::Method::POST, "/api/v1/status/activate"),
    ];
    for (method, path) in targets {
        for body in bodies {
            let resp = ctx
                .http
                .request(method.clone(), ctx.url(path))
                .header("Cookie", format!("JSESSIONID={sid}"))
                .header("Content-Type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .expect("server still answers");
            let status = resp.status();
            let json: Value = resp.json().await.expect("JSON error body");
            // Activation accepts an empty body or any JSON object (fields are ignored).
            let activate_ok = path.ends_with("activate")
                && (body.is_empty()
                    || serde_json::from_slice::<Value>(body).is_ok_and(|v| v.is_object()));
            if activate_ok {
                assert_eq!(status, StatusCode::OK, "{body:?}");
            } else {
                assert!(
                    status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED,
                    "{method} {path} {body:?} -> {status} {json}"
                );
                assert!(json["code"].is_string());
            }
        }
    }
    // Odd headers and paths.
    let resp = ctx
        .http
        .get(ctx.url("/api/v1/users/%FF%FE"))
        .header("Cookie", "JSESSIONID")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = ctx.get("/api/v1/users/%FF%FE", Some(&sid)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_INPUT_ARGUMENT")
    );
    let (status, _) = ctx.get("/api/v1/users?name=%FF&page=%", Some(&sid)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ctx.sim_status().await["draft_users"], 308);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_and_request_log() {
    let ctx = start().await;
    let sid = ctx.login().await;
    let (status, body) = ctx.get("/api/v1/nope", Some(&sid)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND")
    );
    let (status, body) = ctx
        .call(reqwest::Method::PATCH, "/api/v1/users/1", Some(&sid), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["code"].is_string());
    ctx.get("/api/v1/users/70001", Some(&sid)).await;
    ctx.get("/api/v1/users/70002", Some(&sid)).await;
    ctx.get("/api/v1/users/1", Some(&sid)).await;
    ctx.get("/api/v1/users", None).await;

    let (_, log) = ctx.get("/__sim/requests", None).await;
    let routes = &log["by_route"];
    assert_eq!(routes["GET /api/v1/users/{id}"], 3);
    assert_eq!(routes["PATCH /api/v1/users/{id}"], 1);
    assert_eq!(routes["GET /api/v1/users"], 1);
    assert_eq!(routes["POST /api/v1/authenticatedSession"], 1);
    assert_eq!(routes["GET (unmatched)"], 1);
    assert_eq!(log["total"], 7);
    assert_eq!(log["by_status"]["200"], 3);
    assert_eq!(log["by_status"]["404"], 2);
    assert_eq!(log["by_status"]["401"], 1);
    assert_eq!(log["by_status"]["405"], 1);
    ctx.sim.shutdown().await;
}

#[tokio::test]
async fn start_rejects_unusable_options() {
    let mut opts = SimOptions::default();
    opts.credentials.api_key = "short".into();
    assert!(matches!(
        Sim::start(opts).await,
        Err(super::SimError::InvalidOptions(_))
    ));
    let taken = Sim::start(SimOptions::default()).await.expect("starts");
    let opts = SimOptions {
        bind: taken.addr(),
        ..SimOptions::default()
    };
    assert!(matches!(
        Sim::start(opts).await,
        Err(super::SimError::Bind { .. })
    ));
    taken.shutdown().await;
}
