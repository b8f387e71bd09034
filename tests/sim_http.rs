//! The simulator driven with raw HTTP: each real-tenant behaviour the adapters rely on.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zscaler_lifecycle_mcp::sim::{Sim, SimOptions};

/// The obfuscation, written out once more here so the test checks the simulator against the
/// published algorithm rather than against the simulator's own code.
fn obfuscate(key: &str, ts: u64) -> String {
    let k: Vec<char> = key.chars().collect();
    let s = ts.to_string();
    let n = &s[s.len() - 6..];
    let r = format!("{:06}", n.parse::<u64>().expect("digits") >> 1);
    let mut out: String = n
        .chars()
        .map(|c| k[c.to_digit(10).expect("digit") as usize])
        .collect();
    out.extend(
        r.chars()
            .map(|c| k[c.to_digit(10).expect("digit") as usize + 2]),
    );
    out
}

struct T {
    sim: Sim,
    http: reqwest::Client,
}

impl T {
    async fn start(idle: Duration) -> T {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Sim::start(SimOptions {
            session_idle_timeout: idle,
            ..SimOptions::default()
        })
        .await
        .expect("sim");
        T {
            sim,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    async fn login_with(&self, key: &str, password: &str, ts_as_string: bool) -> reqwest::Response {
        let c = self.sim.credentials();
        let ts: u64 = 1_712_345_000_123;
        let timestamp = if ts_as_string {
            json!(ts.to_string())
        } else {
            json!(ts)
        };
        self.http
            .post(self.url("/api/v1/authenticatedSession"))
            .json(&json!({"apiKey": obfuscate(key, ts), "username": c.username, "password": password, "timestamp": timestamp}))
            .send()
            .await
            .expect("login answered")
    }

    async fn login(&self) -> String {
        let c = self.sim.credentials().clone();
        let resp = self.login_with(&c.api_key, &c.password, false).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let cookie = resp.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .expect("ascii")
            .to_string();
        cookie.split(';').next().expect("cookie").to_string()
    }

    async fn req(
        &self,
        cookie: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .http
            .request(method, self.url(path))
            .header("Cookie", cookie);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("answered");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn sim(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("sim")
            .json()
            .await
            .expect("json")
    }
}

fn new_user(email: &str) -> Value {
    json!({"name": "Test User", "email": email, "department": {"id": 77001}, "groups": [{"id": 88001}, {"id": 88002}]})
}

#[tokio::test]
async fn login_checks_key_password_and_accepts_string_timestamps() {
    let t = T::start(Duration::from_secs(300)).await;
    let c = t.sim.credentials().clone();
    assert_eq!(
        t.login_with(&c.api_key, &c.password, true).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        t.login_with("WrongKey9876", &c.password, false)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.login_with(&c.api_key, "wrong", false).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (s, body) = t
        .req(
            "JSESSIONID=nope",
            reqwest::Method::GET,
            "/api/v1/users",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "SESSION_NOT_VALID");
}

#[tokio::test]
async fn users_page_as_flat_arrays_with_prefix_filters() {
    let t = T::start(Duration::from_secs(300)).await;
    let c = t.login().await;
    let (_, all) = t
        .req(
            &c,
            reqwest::Method::GET,
            "/api/v1/users?pageSize=10000",
            None,
        )
        .await;
    let all = all.as_array().expect("flat array").clone();
    assert_eq!(all.len(), 308);
    let (_, p2) = t
        .req(
            &c,
            reqwest::Method::GET,
            "/api/v1/users?page=2&pageSize=100",
            None,
        )
        .await;
    assert_eq!(p2[0]["id"], all[100]["id"]);
    let (s, _) = t
        .req(
            &c,
            reqwest::Method::GET,
            "/api/v1/users?pageSize=10001",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, janes) = t
        .req(
            &c,
            reqwest::Method::GET,
            "/api/v1/users?name=jane%20d&pageSize=10000",
            None,
        )
        .await;
    assert_eq!(
        janes.as_array().expect("array").len(),
        2,
        "prefix, case-insensitive: {janes}"
    );
    let (_, sales) = t
        .req(
            &c,
            reqwest::Method::GET,
            "/api/v1/users?dept=Sal&group=Sal&pageSize=10000",
            None,
        )
        .await;
    assert!(
        sales
            .as_array()
            .expect("array")
            .iter()
            .all(|u| u["department"]["name"] == "Sales")
    );
}

#[tokio::test]
async fn writes_are_validated_like_the_tenant() {
    let t = T::start(Duration::from_secs(300)).await;
    let c = t.login().await;
    let post = |body: Value| t.req(&c, reqwest::Method::POST, "/api/v1/users", Some(body));
    let (s, created) = post(new_user("new.one@acme.example")).await;
    assert_eq!(s, StatusCode::OK, "{created}");
    assert_eq!(created["groups"].as_array().expect("groups").len(), 2);
    let (s, e) = post(new_user("NEW.ONE@acme.example")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::CONFLICT, Some("DUPLICATE_ITEM"))
    );
    let (s, e) = post(new_user("x@unregistered.example")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_INPUT_ARGUMENT"))
    );
    let mut bad = new_user("y@acme.example");
    bad["department"] = json!({"id": 1});
    assert_eq!(post(bad).await.0, StatusCode::BAD_REQUEST);
    let mut long = new_user("z@acme.example");
    long["name"] = json!("n".repeat(128));
    assert_eq!(post(long).await.0, StatusCode::BAD_REQUEST);
    let unsupported = t
        .http
        .post(t.url("/api/v1/users"))
        .header("Cookie", &c)
        .body("not json")
        .send()
        .await
        .expect("answered");
    assert_eq!(unsupported.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let malformed = t
        .http
        .post(t.url("/api/v1/users"))
        .header("Cookie", &c)
        .header("Content-Type", "application/json")
        .body("{\"name\":")
        .send()
        .await
        .expect("answered");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // PUT is a full replace: omitted groups are cleared.
    let id = created["id"].as_i64().expect("id");
    let (s, replaced) = t
        .req(&c, reqwest::Method::PUT, &format!("/api/v1/users/{id}"), Some(json!({"name": "Test User", "email": "new.one@acme.example", "department": {"id": 77001}})))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(replaced["groups"], json!([]));
    let (s, _) = t
        .req(
            &c,
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = t
        .req(
            &c,
            reqwest::Method::GET,
            &format!("/api/v1/users/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (s, e["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("RESOURCE_NOT_FOUND"))
    );
}

#[tokio::test]
async fn bulk_delete_silently_truncates_at_500() {
    let t = T::start(Duration::from_secs(300)).await;
    let c = t.login().await;
    let ids: Vec<i64> = (70009..70309).chain(900_000..900_300).collect();
    assert_eq!(ids.len(), 600);
    let (s, r) = t
        .req(
            &c,
            reqwest::Method::POST,
            "/api/v1/users/bulkDelete",
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        r["ids"].as_array().expect("ids").len(),
        300,
        "the 300 real ids among the first 500"
    );
    // Ids after the 500th are ignored even if they exist.
    let mut tail: Vec<i64> = (0..500).map(|i| 800_000 + i).collect();
    tail.push(70001);
    let (_, r) = t
        .req(
            &c,
            reqwest::Method::POST,
            "/api/v1/users/bulkDelete",
            Some(json!({"ids": tail})),
        )
        .await;
    assert_eq!(r["ids"], json!([]));
    assert!(t.sim("/__sim/users/70001").await["email"] == "breakglass@acme.example");
}

#[tokio::test]
async fn writes_stay_staged_until_activation_or_logout() {
    let t = T::start(Duration::from_secs(300)).await;
    let c = t.login().await;
    t.req(
        &c,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(new_user("staged@acme.example")),
    )
    .await;
    assert_eq!(t.sim("/__sim/status").await["status"], "PENDING");
    let (_, st) = t
        .req(&c, reqwest::Method::GET, "/api/v1/status", None)
        .await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(
        t.sim("/__sim/users?email=staged@acme.example&view=live")
            .await,
        json!([])
    );
    let (_, st) = t
        .req(
            &c,
            reqwest::Method::POST,
            "/api/v1/status/activate",
            Some(json!({})),
        )
        .await;
    assert_eq!(st["status"], "ACTIVE");
    assert_eq!(
        t.sim("/__sim/users?email=staged@acme.example&view=live")
            .await
            .as_array()
            .expect("a")
            .len(),
        1
    );

    // Logging out after a write activates it.
    t.req(
        &c,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(new_user("logout@acme.example")),
    )
    .await;
    assert_eq!(t.sim("/__sim/status").await["status"], "PENDING");
    let (s, _) = t
        .req(
            &c,
            reqwest::Method::DELETE,
            "/api/v1/authenticatedSession",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.sim("/__sim/status").await["status"], "ACTIVE");
    let (s, _) = t
        .req(&c, reqwest::Method::GET, "/api/v1/status", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the session is over");
}

#[tokio::test]
async fn idle_expiry_activates_and_invalidates_the_session() {
    let t = T::start(Duration::from_millis(300)).await;
    let c = t.login().await;
    t.req(
        &c,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(new_user("idle@acme.example")),
    )
    .await;
    assert_eq!(t.sim("/__sim/status").await["status"], "PENDING");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        t.sim("/__sim/status").await["status"],
        "ACTIVE",
        "idle expiry activated the staged write"
    );
    let (s, body) = t
        .req(&c, reqwest::Method::GET, "/api/v1/users?pageSize=1", None)
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("SESSION_NOT_VALID"))
    );
    let req = t.sim("/__sim/requests").await;
    assert_eq!(req["by_route"]["POST /api/v1/users"], 1);
    assert_eq!(req["by_status"]["401"], 1);
}
