//! The simulated ZIdentity API over HTTP, as any client sees it (no adapter involved): a real
//! server on 127.0.0.1, tokens from its OneAPI endpoint, a plain reqwest client.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim::{
    ONEAPI_DEMO_CLIENT_ID, ONEAPI_DEMO_CLIENT_SECRET, Sim, SimOptions, ZIDENTITY_GATEWAY_PATH,
    ZidLimits,
};

struct Ctx {
    sim: Sim,
    http: reqwest::Client,
    token: String,
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

async fn start_with(opts: SimOptions) -> Ctx {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Sim::start(opts).await.expect("sim");
    let http = reqwest::Client::new();
    let token = token(&sim, &http).await;
    Ctx { sim, http, token }
}

async fn start() -> Ctx {
    start_with(SimOptions::default()).await
}

async fn token(sim: &Sim, http: &reqwest::Client) -> String {
    let body = format!(
        "grant_type=client_credentials&client_id={ONEAPI_DEMO_CLIENT_ID}&client_secret={ONEAPI_DEMO_CLIENT_SECRET}&audience=https%3A%2F%2Fapi.zscaler.com"
    );
    let v: Value = http
        .post(format!("{}/oauth2/v1/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

impl Ctx {
    async fn req(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.req_at(&self.sim.zidentity_url(), method, path, body)
            .await
    }

    async fn req_at(&self, base: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut r = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Resp {
            status,
            headers,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None).await
    }

    async fn user_id(&self, login: &str) -> String {
        let r = self.get(&format!("/users?loginName={login}")).await;
        r.json["records"][0]["id"]
            .as_str()
            .expect("user found")
            .to_string()
    }

    async fn group_id(&self, name: &str) -> String {
        let r = self.get("/groups?limit=1000").await;
        r.json["records"]
            .as_array()
            .and_then(|a| a.iter().find(|g| g["name"] == name))
            .and_then(|g| g["id"].as_str())
            .expect("group")
            .to_string()
    }
}

#[tokio::test]
async fn users_page_by_offset_and_limit_with_links_until_the_last_page() {
    let c = start().await;
    let first = c.get("/users?limit=100").await;
    assert_eq!(first.status, StatusCode::OK);
    let total = first.json["results_total"].as_u64().expect("total");
    assert_eq!(total, 260);
    assert_eq!(first.json["pageOffset"], 0);
    assert_eq!(first.json["pageSize"], 100);
    assert_eq!(first.json["records"].as_array().map(Vec::len), Some(100));
    let next = first.json["next_link"].as_str().expect("next_link");
    assert!(
        next.ends_with("/admin/api/v1/users?limit=100&offset=100"),
        "{next}"
    );
    assert!(first.json.get("prev_link").is_none());
    // Follow next_link as the Python SDK does, as a full URL.
    let mut seen = 100;
    let mut link = Some(next.to_string());
    while let Some(url) = link {
        let r = c.req_at(&url, Method::GET, "", None).await;
        seen += r.json["records"].as_array().map(Vec::len).unwrap_or(0);
        link = r.json["next_link"].as_str().map(str::to_string);
    }
    assert_eq!(seen as u64, total);
    let beyond = c.get("/users?limit=1001").await;
    assert_eq!(beyond.status, StatusCode::BAD_REQUEST);
    assert_eq!(beyond.json["code"], "INVALID_INPUT");
    let empty = c.get("/users?offset=1000").await;
    assert_eq!(empty.json["records"], json!([]));
    assert!(empty.json.get("next_link").is_none());
}

#[tokio::test]
async fn the_gateway_prefix_serves_the_same_directory_with_total_record() {
    let c = start().await;
    let base = format!("{}{ZIDENTITY_GATEWAY_PATH}", c.sim.base_url());
    let r = c.req_at(&base, Method::GET, "/users?limit=10", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["totalRecord"], r.json["results_total"]);
    let next = r.json["next_link"].as_str().expect("next");
    assert!(
        next.contains("/admin/api/v1/users"),
        "points at the admin path: {next}"
    );
    assert!(!next.contains("/ziam/"), "{next}");
}

#[tokio::test]
async fn every_filter_spelling_filters() {
    let c = start().await;
    for q in [
        "loginName=jane.doe@acme.example",
        "loginname=JANE.DOE@acme.example",
        "login_name=jane.doe@acme.example",
    ] {
        let r = c.get(&format!("/users?{q}")).await;
        assert_eq!(r.json["results_total"], 1, "{q}");
        assert_eq!(r.json["records"][0]["displayName"], "Jane Doe");
    }
    let two = c
        .get("/users?loginName=jane.doe@acme.example&loginName=john.smith@acme.example")
        .await;
    assert_eq!(two.json["results_total"], 2);
    let like = c.get("/users?displayName%5Blike%5D=break").await;
    assert_eq!(like.json["results_total"], 1);
    let mail = c.get("/users?primaryemail%5Blike%5D=VENDOR-MAIL").await;
    assert_eq!(
        mail.json["records"][0]["loginName"],
        "old.vendor@vendor-mail.example"
    );
    let login_like = c.get("/users?loginName%5Blike%5D=svc-").await;
    assert_eq!(login_like.json["results_total"], 1);
    let domain = c
        .get("/users?domainName=acme-labs.example&limit=1000")
        .await;
    let n = domain.json["results_total"].as_u64().expect("n");
    assert!(n > 10, "{n}");
    // Unknown parameters are ignored, as recorded (`search=` did not filter).
    let all = c.get("/users?search=jane").await;
    assert_eq!(all.json["results_total"], 260);
    let groups = c.get("/groups?name%5Blike%5D=admin").await;
    assert_eq!(groups.json["records"][0]["name"], "Admins");
    assert_eq!(groups.json["records"][0]["adminEntitlementEnabled"], true);
    let no_dynamic = c.get("/groups?excludeDynamicGroups=true&limit=1000").await;
    assert_eq!(no_dynamic.json["results_total"], 15);
}

#[tokio::test]
async fn create_replace_disable_restore_and_delete_a_user() {
    let c = start().await;
    let body = json!({
        "loginName": "new.hire@acme.example", "displayName": "New Hire",
        "primaryEmail": "new.hire@acme.example", "status": true,
        "department": {"name": "Sales"}, "customAttrsInfo": {}, "source": "SCIM",
    });
    let created = c.req(Method::POST, "/users", Some(body.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 13);
    assert_eq!(created.json["source"], "API", "the server sets the source");
    assert_eq!(created.json["department"]["name"], "Sales");
    assert!(created.json["idp"]["id"].is_string());
    assert!(created.json.get("firstName").is_none());
    let dup = c.req(Method::POST, "/users", Some(body)).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let foreign = c
        .req(
            Method::POST,
            "/users",
            Some(json!({"loginName": "x@elsewhere.example", "displayName": "X", "primaryEmail": "x@elsewhere.example"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(
        foreign.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("organisation"))
    );
    // Disable by replacing the whole record with status false, as the SDKs' update does.
    let mut rec = c.get(&format!("/users/{id}")).await.json;
    rec["status"] = json!(false);
    let put = c
        .req(Method::PUT, &format!("/users/{id}"), Some(rec.clone()))
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(put.json["status"], false);
    assert_eq!(
        put.json["department"]["name"], "Sales",
        "fields sent back are kept"
    );
    rec["status"] = json!(true);
    let restored = c.req(Method::PUT, &format!("/users/{id}"), Some(rec)).await;
    assert_eq!(restored.json["status"], true);
    // A PUT that leaves the department out clears it: PUT replaces.
    let bare = json!({"loginName": "new.hire@acme.example", "displayName": "New Hire", "primaryEmail": "new.hire@acme.example"});
    let cleared = c
        .req(Method::PUT, &format!("/users/{id}"), Some(bare))
        .await;
    assert_eq!(cleared.json["department"], json!({}));
    let del = c.req(Method::DELETE, &format!("/users/{id}"), None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let gone = c.get(&format!("/users/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.json["code"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn group_members_are_added_and_removed_one_by_one_or_in_bulk() {
    let c = start().await;
    let jane = c.user_id("jane.doe@acme.example").await;
    let john = c.user_id("john.smith@acme.example").await;
    let contractors = c.group_id("Contractors").await;
    let add = c
        .req(
            Method::POST,
            &format!("/groups/{contractors}/users/{jane}"),
            None,
        )
        .await;
    assert_eq!(add.status, StatusCode::OK);
    let bulk = c
        .req(
            Method::POST,
            &format!("/groups/{contractors}/users"),
            Some(json!([{"id": john}])),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK);
    let members = c.get(&format!("/groups/{contractors}/users")).await;
    assert_eq!(members.json["results_total"], 3);
    let groups = c.get(&format!("/users/{jane}/groups")).await;
    let names: Vec<&str> = groups.json["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Contractors") && names.contains(&"Sales"),
        "{names:?}"
    );
    let remove = c
        .req(
            Method::DELETE,
            &format!("/groups/{contractors}/users/{jane}"),
            None,
        )
        .await;
    assert_eq!(remove.status, StatusCode::NO_CONTENT);
    let again = c
        .req(
            Method::DELETE,
            &format!("/groups/{contractors}/users/{jane}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let unknown = c
        .req(
            Method::POST,
            &format!("/groups/{contractors}/users"),
            Some(json!([{"id": jane}, {"id": "i000000000000"}])),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let after = c.get(&format!("/groups/{contractors}/users")).await;
    assert_eq!(after.json["results_total"], 2, "all or nothing");
    let dynamic = c.group_id("Engineering (dynamic)").await;
    let refused = c
        .req(
            Method::POST,
            &format!("/groups/{dynamic}/users/{jane}"),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let replace = c
        .req(
            Method::PUT,
            &format!("/groups/{contractors}/users"),
            Some(json!([{"id": jane}])),
        )
        .await;
    assert_eq!(replace.status, StatusCode::OK);
    let only = c.get(&format!("/groups/{contractors}/users")).await;
    assert_eq!(only.json["records"][0]["id"], jane.as_str());
    assert_eq!(only.json["results_total"], 1);
}

#[tokio::test]
async fn admin_entitlements_name_the_admins() {
    let c = start().await;
    let bg = c.user_id("breakglass@acme.example").await;
    let r = c.get(&format!("/users/{bg}/admin-entitlements")).await;
    assert_eq!(r.json[0]["roles"][0]["name"], "Super Admin");
    let jane = c.user_id("jane.doe@acme.example").await;
    let none = c.get(&format!("/users/{jane}/admin-entitlements")).await;
    assert_eq!(none.json, json!([]));
}

#[tokio::test]
async fn tokens_are_required_and_expire() {
    let c = start().await;
    let anonymous = c
        .http
        .get(format!("{}/users", c.sim.zidentity_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let forged = c
        .http
        .get(format!("{}/users", c.sim.zidentity_url()))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("send");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(c.get("/users?limit=1").await.status, StatusCode::OK);
    let expired: Value = c
        .http
        .post(format!(
            "{}/__sim/zidentity/expire-tokens",
            c.sim.base_url()
        ))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(expired["expired"], 1);
    assert_eq!(
        c.get("/users?limit=1").await.status,
        StatusCode::UNAUTHORIZED
    );

    // A token lives as long as its expires_in.
    let short = start_with(SimOptions {
        oneapi_token_lifetime: Duration::from_millis(300),
        ..SimOptions::default()
    })
    .await;
    assert_eq!(short.get("/users?limit=1").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        short.get("/users?limit=1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_and_announces_itself() {
    let c = start_with(SimOptions {
        zidentity_limits: Some(ZidLimits {
            per_second: 3,
            per_minute: 100,
        }),
        ..SimOptions::default()
    })
    .await;
    let ok = c.get("/groups").await;
    assert_eq!(ok.status, StatusCode::OK);
    let h = |r: &Resp, n: &str| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(h(&ok, "x-ratelimit-limit"), "3, 3;w=1, 100;w=60");
    assert_eq!(h(&ok, "x-ratelimit-remaining"), "2");
    let mut refused = None;
    for _ in 0..5 {
        let r = c.get("/groups").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a 429 within the second");
    assert_eq!(h(&r, "retry-after"), "1");
    assert_eq!(h(&r, "x-ratelimit-remaining"), "0");
    assert_eq!(r.json["code"], "TOO_MANY_REQUESTS");
    let default_limits = start().await;
    let r = default_limits.get("/groups").await;
    assert_eq!(h(&r, "x-ratelimit-limit"), "150, 150;w=1, 10000;w=60");
}

#[tokio::test]
async fn injected_faults_use_the_zidentity_error_shape() {
    let c = start().await;
    c.http
        .post(format!("{}/__sim/faults", c.sim.base_url()))
        .json(
            &json!({"route": "GET /admin/api/v1/users", "status": 503, "retry_after_header": "2"}),
        )
        .send()
        .await
        .expect("fault");
    let r = c.get("/users").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["message"], "injected by the simulator");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert_eq!(c.get("/users").await.status, StatusCode::OK);
    let log: Value = c
        .http
        .get(format!("{}/__sim/requests", c.sim.base_url()))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(log["by_route"]["GET /admin/api/v1/users"], 2);
}

#[tokio::test]
async fn bad_input_is_a_clear_400_never_a_crash() {
    let c = start().await;
    for (method, path, body) in [
        (Method::POST, "/users", Some(json!([1, 2]))),
        (
            Method::POST,
            "/users",
            Some(
                json!({"loginName": "no-at", "displayName": "x", "primaryEmail": "a@acme.example"}),
            ),
        ),
        (
            Method::POST,
            "/users",
            Some(json!({"loginName": "a@acme.example", "primaryEmail": "a@acme.example"})),
        ),
        (
            Method::POST,
            "/users",
            Some(
                json!({"loginName": "a@acme.example", "displayName": "A", "primaryEmail": "a@acme.example", "status": "yes"}),
            ),
        ),
        (
            Method::POST,
            "/users",
            Some(
                json!({"loginName": "a@acme.example", "displayName": "A", "primaryEmail": "a@acme.example", "department": {"id": "nope"}}),
            ),
        ),
        (Method::GET, "/users?offset=-1", None),
    ] {
        let r = c.req(method.clone(), path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path} {body:?}"
        );
        assert!(r.json["message"].is_string());
    }
    assert_eq!(c.get("/nothing/here").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        c.req(Method::PATCH, "/users", None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}
