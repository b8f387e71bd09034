//! HTTP-level tests of the SCIM endpoints: a real server on 127.0.0.1 and a real reqwest client.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::sim::{
    ScimOptions, Sim, SimOptions, ZIA_SCIM_BASE_PATH, ZIA_SCIM_DEMO_TOKEN, ZPA_SCIM_BASE_PATH,
    ZPA_SCIM_DEMO_TOKEN,
};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[derive(Clone, Copy)]
enum F {
    Zia,
    Zpa,
}

impl F {
    fn base(self) -> &'static str {
        match self {
            F::Zia => ZIA_SCIM_BASE_PATH,
            F::Zpa => ZPA_SCIM_BASE_PATH,
        }
    }

    fn token(self) -> &'static str {
        match self {
            F::Zia => ZIA_SCIM_DEMO_TOKEN,
            F::Zpa => ZPA_SCIM_DEMO_TOKEN,
        }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    json: Value,
}

struct Ctx {
    sim: Sim,
    http: reqwest::Client,
}

/// A simulator without the SCIM rate limit (tests send many requests quickly).
async fn start() -> Ctx {
    start_with(ScimOptions {
        rate_limit_per_sec: None,
        ..ScimOptions::default()
    })
    .await
}

async fn start_with(scim: ScimOptions) -> Ctx {
    let sim = Sim::start(SimOptions {
        scim,
        ..SimOptions::default()
    })
    .await
    .expect("simulator starts");
    // reqwest is built with `rustls-no-provider`: a provider must exist even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ctx {
        sim,
        http: reqwest::Client::new(),
    }
}

impl Ctx {
    async fn send(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<String>,
    ) -> Resp {
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/scim+json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// An authenticated SCIM call; `path` is below the flavour's base.
    async fn call(&self, f: F, method: Method, path: &str, body: Option<Value>) -> Resp {
        let url = format!("{}{}{path}", self.sim.base_url(), f.base());
        self.send(method, url, Some(f.token()), body.map(|b| b.to_string()))
            .await
    }

    async fn get(&self, f: F, path: &str) -> Resp {
        self.call(f, Method::GET, path, None).await
    }

    async fn patch(&self, f: F, path: &str, ops: Value) -> Resp {
        let body = json!({ "schemas": [PATCH_OP], "Operations": ops });
        self.call(f, Method::PATCH, path, Some(body)).await
    }

    /// Ids of a list answer's Resources.
    async fn list_ids(&self, f: F, query: &str) -> (Value, Vec<String>) {
        let r = self.get(f, &format!("/Users?{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let ids = resource_ids(&r.json);
        (r.json, ids)
    }
}

fn resource_ids(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts the RFC 7644 error shape and returns its scimType.
fn assert_error(r: &Resp, status: u16) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.json["schemas"], json!([ERROR]), "{}", r.text);
    assert_eq!(r.json["status"], json!(status.to_string()), "{}", r.text);
    assert!(r.json["detail"].is_string(), "{}", r.text);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/scim+json")
    );
    r.json["scimType"].as_str().unwrap_or("").to_string()
}

fn q(filter: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", filter)
        .finish()
}

#[tokio::test]
async fn zpa_list_pages_follow_the_stop_rule() {
    let ctx = start().await;
    let mut start_index = 1usize;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (v, ids) = ctx
            .list_ids(F::Zpa, &format!("startIndex={start_index}&count=100"))
            .await;
        pages += 1;
        let total = v["totalResults"].as_u64().unwrap_or(0) as usize;
        assert_eq!(v["startIndex"], json!(start_index));
        assert_eq!(v["itemsPerPage"], json!(ids.len()));
        assert_eq!(
            v["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(ids.len(), 100.min(total + 1 - start_index));
        seen.extend(ids);
        if start_index + 100 > total {
            break;
        }
        start_index += 100;
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 156);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "stable order by id, no duplicates");

    // Defaults and edge values: ZPA pages by 10, count is clamped, count=0 only counts.
    let (v, ids) = ctx.list_ids(F::Zpa, "").await;
    assert_eq!((ids.len(), v["startIndex"].clone()), (10, json!(1)));
    let (_, ids) = ctx.list_ids(F::Zpa, "count=500&startIndex=0").await;
    assert_eq!(ids.len(), 100);
    let (v, ids) = ctx.list_ids(F::Zpa, "count=0").await;
    assert_eq!((ids.len(), v["totalResults"].clone()), (0, json!(156)));
    let (v, ids) = ctx.list_ids(F::Zpa, "startIndex=1000").await;
    assert_eq!((ids.len(), v["itemsPerPage"].clone()), (0, json!(0)));
    // ZIA pages by 100 by default.
    let (v, ids) = ctx.list_ids(F::Zia, "").await;
    assert_eq!((ids.len(), v["totalResults"].clone()), (100, json!(308)));

    // .search with a SearchRequest body gives the same page.
    let r = ctx
        .call(
            F::Zpa,
            Method::POST,
            "/Users/.search",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "startIndex": 101, "count": 100
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(resource_ids(&r.json), seen[100..].to_vec());
    let bad = ctx.get(F::Zpa, "/Users?count=ten").await;
    assert_eq!(assert_error(&bad, 400), "invalidValue");
}

#[tokio::test]
async fn user_and_group_shapes_per_flavour() {
    let ctx = start().await;
    let r = ctx.get(F::Zpa, "/Users/200001").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/scim+json")
    );
    let u = &r.json;
    assert_eq!(u["userName"], "jane.doe@acme.example");
    assert_eq!(u["active"], json!("true"), "ZPA renders active as a string");
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales"
    );
    assert!(u.get("department").is_none());
    assert_eq!(u["name"]["givenName"], "Jane");
    assert_eq!(u["emails"][0]["value"], "jane.doe@acme.example");
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(u["meta"]["created"], "2026-01-01T00:00:00Z");
    assert!(
        u["meta"]["location"]
            .as_str()
            .is_some_and(|l| l.starts_with("http://") && l.ends_with("/v2/Users/200001"))
    );
    let groups: Vec<&str> = u["groups"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g["display"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(groups, ["All Staff", "Engineering"]);

    let r = ctx.get(F::Zia, "/Users/70002").await;
    assert_eq!(r.json["userName"], "jane.doe@acme.example");
    assert_eq!(r.json["displayName"], "Jane Doe");
    assert_eq!(r.json["active"], json!(true));
    assert_eq!(
        r.json["department"], "Sales",
        "ZIA also has department top-level"
    );
    let g = ctx.get(F::Zia, "/Groups/88001").await;
    assert_eq!(g.json["displayName"], "All Staff");
    assert!(
        g.json["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["value"] == "70002"))
    );

    for (f, path) in [
        (F::Zpa, "/Users/nope"),
        (F::Zia, "/Groups/1"),
        (F::Zia, "/Users/abc"),
    ] {
        let r = ctx.get(f, path).await;
        assert_error(&r, 404);
    }
}

#[tokio::test]
async fn filters() {
    let ctx = start().await;
    let one = |v: &Value| resource_ids(v);
    let (_, ids) = ctx
        .list_ids(F::Zpa, &q(r#"userName eq "JANE.DOE@acme.example""#))
        .await;
    assert_eq!(ids, ["200001"]);
    let (_, ids) = ctx
        .list_ids(F::Zpa, &q(r#"externalId eq "00u200002""#))
        .await;
    assert_eq!(ids, ["200002"]);
    let (_, ids) = ctx.list_ids(F::Zia, &q(r#"id eq "70003""#)).await;
    assert_eq!(ids, ["70003"]);
    let (_, ids) = ctx
        .list_ids(F::Zia, &q(r#"emails.value eq "John.Smith@acme.example""#))
        .await;
    assert_eq!(ids, ["70003"]);
    let (v, ids) = ctx
        .list_ids(F::Zpa, &q(r#"userName eq "nobody@acme.example""#))
        .await;
    assert!(ids.is_empty());
    assert_eq!(v["totalResults"], 0);
    let r = ctx
        .get(
            F::Zpa,
            &format!("/Groups?{}", q(r#"displayName eq "engineering""#)),
        )
        .await;
    assert_eq!(one(&r.json), ["300002"]);

    // An escaped quote inside the value: create the group, then find it.
    let name = r#"Ops "Blue" Team \ Night"#;
    let r = ctx
        .call(
            F::Zpa,
            Method::POST,
            "/Groups",
            Some(json!({ "displayName": name })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let gid = r.json["id"].as_str().unwrap_or_default().to_string();
    let r = ctx
        .get(
            F::Zpa,
            &format!(
                "/Groups?{}",
                q(r#"displayName eq "Ops \"Blue\" Team \\ Night""#)
            ),
        )
        .await;
    assert_eq!(one(&r.json), [gid]);

    // lastModified: only what changed after the seed, combined with `and`.
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200002",
            json!([{"op": "replace", "path": "displayName", "value": "Johnny"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (_, ids) = ctx
        .list_ids(F::Zpa, &q(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#))
        .await;
    assert_eq!(ids, ["200002"]);
    let (_, ids) = ctx
        .list_ids(
            F::Zpa,
            &q(r#"meta.lastModified ge "2026-01-01T00:00:00Z" and userName eq "jane.doe@acme.example""#),
        )
        .await;
    assert_eq!(ids, ["200001"]);
    let (v, _) = ctx
        .list_ids(F::Zpa, &q(r#"meta.lastModified lt "2026-01-01T00:00:01Z""#))
        .await;
    assert_eq!(v["totalResults"], 155);

    for bad in [
        r#"userName co "jane""#,
        r#"userName eq "a" or userName eq "b""#,
        r#"userName eq "open"#,
        r#"title eq "x""#,
    ] {
        let r = ctx.get(F::Zpa, &format!("/Users?{}", q(bad))).await;
        assert_eq!(assert_error(&r, 400), "invalidFilter", "{bad}");
    }
}

fn new_user(user_name: &str, dept: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name,
        "externalId": "okta-1",
        "name": { "givenName": "New", "familyName": "Person" },
        "emails": [{ "value": user_name, "primary": true }],
        "active": true,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": dept },
    })
}

#[tokio::test]
async fn create_duplicate_and_zia_rules() {
    let ctx = start().await;
    let r = ctx
        .call(
            F::Zpa,
            Method::POST,
            "/Users",
            Some(new_user("new.person@acme.example", "Sales")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        r.headers.get("location").and_then(|v| v.to_str().ok()),
        r.json["meta"]["location"].as_str()
    );
    assert_eq!(r.json["displayName"], "New Person");
    assert_eq!(
        ctx.get(F::Zpa, &format!("/Users/{id}")).await.status,
        StatusCode::OK
    );
    let dup = ctx
        .call(
            F::Zpa,
            Method::POST,
            "/Users",
            Some(new_user("NEW.person@acme.example", "Sales")),
        )
        .await;
    assert_eq!(assert_error(&dup, 409), "uniqueness");
    let missing = ctx
        .call(
            F::Zpa,
            Method::POST,
            "/Users",
            Some(json!({ "displayName": "No Name" })),
        )
        .await;
    assert_eq!(assert_error(&missing, 400), "invalidValue");

    // ZIA: the created user is live and draft at once, visible to the native introspection.
    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Users",
            Some(new_user("scim.user@acme.example", "Finance")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap_or_default().to_string();
    let native = ctx
        .http
        .get(format!("{}/__sim/users/{id}?view=live", ctx.sim.base_url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(native.status(), StatusCode::OK);
    let native: Value = native.json().await.unwrap_or(Value::Null);
    assert_eq!(native["department"]["name"], "Finance");
    assert_eq!(native["name"], "New Person");

    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Users",
            Some(new_user("x@unregistered.example", "Sales")),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    assert!(
        r.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("unregistered.example"))
    );
    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Users",
            Some(new_user("y@acme.example", "Astrology")),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    assert!(
        r.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Astrology"))
    );
    let long = format!("{}@acme.example", "a".repeat(120));
    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Users",
            Some(new_user(&long, "Sales")),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Users",
            Some(new_user("jane.doe@ACME.example", "Sales")),
        )
        .await;
    assert_eq!(assert_error(&r, 409), "uniqueness");
    // Admin accounts are protected.
    let r = ctx.call(F::Zia, Method::DELETE, "/Users/70001", None).await;
    assert_eq!(assert_error(&r, 400), "mutability");
}

#[tokio::test]
async fn put_replaces_and_delete() {
    let ctx = start().await;
    let mut body = new_user("john.smith@acme.example", "Engineering");
    body["displayName"] = json!("John Q. Smith");
    body["groups"] = json!([{ "value": "300004" }]);
    let r = ctx
        .call(F::Zpa, Method::PUT, "/Users/200002", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["displayName"], "John Q. Smith");
    assert_eq!(r.json["externalId"], "okta-1");
    assert_eq!(r.json["groups"], json!([]), "groups on User are read-only");
    let r = ctx
        .call(F::Zpa, Method::DELETE, "/Users/200002", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = ctx
        .call(F::Zpa, Method::DELETE, "/Users/200002", None)
        .await;
    assert_error(&r, 404);
    let r = ctx
        .call(
            F::Zpa,
            Method::PUT,
            "/Users/200002",
            Some(new_user("a@acme.example", "IT")),
        )
        .await;
    assert_error(&r, 404);
}

#[tokio::test]
async fn active_false_per_flavour() {
    let ctx = start().await;
    // ZPA keeps the user and says "false" (a string); Azure-style op and value spelling.
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200003",
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["active"], json!("false"));
    let r = ctx.get(F::Zpa, "/Users/200003").await;
    assert_eq!(r.json["active"], json!("false"));
    let dump = ctx
        .http
        .get(format!("{}/__sim/scim/zpa/users", ctx.sim.base_url()))
        .send()
        .await
        .expect("sent");
    let dump: Value = dump.json().await.unwrap_or(Value::Null);
    assert!(dump.as_array().is_some_and(|a| {
        a.iter()
            .any(|u| u["id"] == "200003" && u["active"] == "false")
    }));

    // ZIA deletes it: 204, then gone from SCIM and from the native store.
    let r = ctx
        .patch(
            F::Zia,
            "/Users/70005",
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_error(&ctx.get(F::Zia, "/Users/70005").await, 404);
    for view in ["live", "draft"] {
        let native = ctx
            .http
            .get(format!(
                "{}/__sim/users/70005?view={view}",
                ctx.sim.base_url()
            ))
            .send()
            .await
            .expect("sent");
        assert_eq!(native.status(), StatusCode::NOT_FOUND, "{view}");
    }
}

#[tokio::test]
async fn zia_inactive_can_be_kept() {
    let ctx = start_with(ScimOptions {
        rate_limit_per_sec: None,
        zia_inactive_deletes: false,
        ..ScimOptions::default()
    })
    .await;
    let mut body = new_user("temp.contractor@acme.example", "Operations");
    body["active"] = json!(false);
    let r = ctx
        .call(F::Zia, Method::PUT, "/Users/70005", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["active"], json!(false));
    assert_eq!(
        ctx.get(F::Zia, "/Users/70005").await.json["active"],
        json!(false)
    );
}

#[tokio::test]
async fn patch_user_paths() {
    let ctx = start().await;
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200001",
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Janet"},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Legal"},
                {"op": "add", "path": "externalId", "value": "aad-9"},
                {"op": "replace", "value": {"displayName": "Janet Doe"}}
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["name"]["givenName"], "Janet");
    assert_eq!(r.json["displayName"], "Janet Doe");
    assert_eq!(r.json["externalId"], "aad-9");
    assert_eq!(
        r.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Legal"
    );
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200001",
            json!([{"op": "replace", "path": "nickName", "value": "J"}]),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidPath");
    let r = ctx
        .patch(F::Zpa, "/Users/200001", json!([{"op": "remove"}]))
        .await;
    assert_eq!(assert_error(&r, 400), "noTarget");
    // Atomic: the first op must not stick when the second fails.
    let r = ctx
        .patch(
            F::Zia,
            "/Users/70002",
            json!([
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "department", "value": "Nowhere"}
            ]),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    assert_eq!(
        ctx.get(F::Zia, "/Users/70002").await.json["displayName"],
        "Jane Doe"
    );
}

#[tokio::test]
async fn group_membership_patch_and_limit() {
    let ctx = start().await;
    // ZIA: add then remove a member, seen by the native store.
    let r = ctx
        .patch(
            F::Zia,
            "/Groups/88013",
            json!([{"op": "add", "path": "members", "value": [{"value": "70003"}]}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.json["members"].as_array().is_some_and(|m| {
        m.iter()
            .any(|m| m["value"] == "70003" && m["display"] == "John Smith")
    }));
    let native: Value = ctx
        .http
        .get(format!(
            "{}/__sim/users/70003?view=live",
            ctx.sim.base_url()
        ))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or(Value::Null);
    assert!(
        native["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["id"] == 88013))
    );
    let r = ctx
        .patch(
            F::Zia,
            "/Groups/88013",
            json!([{"op": "remove", "path": "members[value eq \"70003\"]"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["members"], json!([]));
    // Unknown member: 400 and nothing applied (the valid add before it is dropped too).
    let r = ctx
        .patch(
            F::Zia,
            "/Groups/88013",
            json!([
                {"op": "add", "path": "members", "value": [{"value": "70003"}]},
                {"op": "add", "path": "members", "value": [{"value": "99999999"}]}
            ]),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    assert_eq!(
        ctx.get(F::Zia, "/Groups/88013").await.json["members"],
        json!([])
    );
    // Azure-style remove with a value list.
    let r = ctx
        .patch(
            F::Zpa,
            "/Groups/300001",
            json!([{"op": "remove", "path": "members", "value": [{"value": "200001"}]}]),
        )
        .await;
    assert_eq!(r.json["members"], json!([]), "{}", r.text);

    // ZIA groups can be created and deleted through SCIM too; the native store follows.
    let r = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "SCIM Pushed", "members": [{"value": "70002"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["id"], "88016");
    let jane = |ctx: &Ctx| {
        ctx.http
            .get(format!(
                "{}/__sim/users/70002?view=live",
                ctx.sim.base_url()
            ))
            .send()
    };
    let native: Value = jane(&ctx)
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or(Value::Null);
    assert!(
        native["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|g| g["id"] == 88016))
    );
    let dup = ctx
        .call(
            F::Zia,
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "scim pushed"})),
        )
        .await;
    assert_eq!(assert_error(&dup, 409), "uniqueness");
    let r = ctx
        .call(F::Zia, Method::DELETE, "/Groups/88016", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let native: Value = jane(&ctx)
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or(Value::Null);
    assert!(
        native["groups"]
            .as_array()
            .is_some_and(|g| g.iter().all(|g| g["id"] != 88016))
    );
    assert_error(
        &ctx.call(F::Zia, Method::DELETE, "/Groups/88016", None)
            .await,
        404,
    );

    // 128 groups per user: ZPA user 200006 joins 128 new groups, the 129th is refused.
    for i in 0..128 {
        let r = ctx
            .call(
                F::Zpa,
                Method::POST,
                "/Groups",
                Some(json!({"displayName": format!("G{i}"), "members": [{"value": "200006"}]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.text);
    }
    let r = ctx
        .patch(
            F::Zpa,
            "/Groups/300004",
            json!([{"op": "add", "path": "members", "value": [{"value": "200006"}]}]),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
    assert!(r.json["detail"].as_str().is_some_and(|d| d.contains("128")));
    let r = ctx.get(F::Zpa, "/Users/200006").await;
    assert_eq!(r.json["groups"].as_array().map(Vec::len), Some(128));
}

#[tokio::test]
async fn auth_and_discovery() {
    let ctx = start().await;
    let url = format!("{}{}/Users", ctx.sim.base_url(), ZPA_SCIM_BASE_PATH);
    let r = ctx.send(Method::GET, url.clone(), None, None).await;
    assert_error(&r, 401);
    assert_eq!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_error(
        &ctx.send(Method::GET, url.clone(), Some("wrong"), None)
            .await,
        401,
    );
    // Each flavour only takes its own token.
    assert_error(
        &ctx.send(Method::GET, url, Some(ZIA_SCIM_DEMO_TOKEN), None)
            .await,
        401,
    );
    for f in [F::Zia, F::Zpa] {
        let url = format!("{}{}/ServiceProviderConfig", ctx.sim.base_url(), f.base());
        let r = ctx.send(Method::GET, url, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["patch"]["supported"], true);
        assert_eq!(r.json["filter"]["maxResults"], 100);
        assert_eq!(
            r.json["authenticationSchemes"][0]["type"],
            "oauthbearertoken"
        );
        for path in ["/Schemas", "/ResourceTypes"] {
            let url = format!("{}{}{path}", ctx.sim.base_url(), f.base());
            let r = ctx.send(Method::GET, url, None, None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            assert!(r.json["totalResults"].as_u64().is_some_and(|n| n >= 2));
        }
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let ctx = start_with(ScimOptions::default()).await;
    let mut limited = None;
    for _ in 0..20 {
        let r = ctx.get(F::Zia, "/Users?count=1").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a burst of 20 is limited");
    assert_error(&r, 429);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    // The other flavour has its own budget.
    assert_eq!(
        ctx.get(F::Zpa, "/Users?count=1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn patch_can_be_switched_off() {
    let ctx = start_with(ScimOptions {
        rate_limit_per_sec: None,
        zpa_patch_supported: false,
        ..ScimOptions::default()
    })
    .await;
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200001",
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_error(&r, 501);
    assert_eq!(r.json["detail"], "PATCH not supported");
    let url = format!(
        "{}{}/ServiceProviderConfig",
        ctx.sim.base_url(),
        ZPA_SCIM_BASE_PATH
    );
    let r = ctx.send(Method::GET, url, None, None).await;
    assert_eq!(r.json["patch"]["supported"], false);
}

#[tokio::test]
async fn faults_and_request_log() {
    let ctx = start().await;
    let faults = json!([
        {"route": format!("GET {ZPA_SCIM_BASE_PATH}/Users"), "status": 502, "body_text": "<html>Bad Gateway</html>"},
        {"route": format!("PATCH {ZPA_SCIM_BASE_PATH}/Groups/{{id}}"), "status": 429, "retry_after_header": "2"}
    ]);
    let r = ctx
        .http
        .post(format!("{}/__sim/faults", ctx.sim.base_url()))
        .json(&faults)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let r = ctx.get(F::Zpa, "/Users").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.text, "<html>Bad Gateway</html>");
    assert!(
        r.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let r = ctx
        .patch(
            F::Zpa,
            "/Groups/300001",
            json!([{"op": "replace", "path": "displayName", "value": "X"}]),
        )
        .await;
    assert_error(&r, 429);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    // body_text works on the native ZIA API's faults as well.
    let fault = json!({"route": "GET /api/v1/users", "status": 503, "body_text": "upstream down"});
    ctx.http
        .post(format!("{}/__sim/faults", ctx.sim.base_url()))
        .json(&fault)
        .send()
        .await
        .expect("sent");
    let r = ctx
        .send(
            Method::GET,
            format!("{}/api/v1/users", ctx.sim.base_url()),
            None,
            None,
        )
        .await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (503, "upstream down"));
    // Used up: the next ones are handled.
    assert_eq!(ctx.get(F::Zpa, "/Users").await.status, StatusCode::OK);

    let log: Value = ctx
        .http
        .get(format!("{}/__sim/requests", ctx.sim.base_url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or(Value::Null);
    assert_eq!(
        log["by_route"][format!("GET {ZPA_SCIM_BASE_PATH}/Users")],
        2
    );
    assert_eq!(
        log["by_route"][format!("PATCH {ZPA_SCIM_BASE_PATH}/Groups/{{id}}")],
        1
    );
}

#[tokio::test]
async fn malformed_input_is_a_scim_error() {
    let ctx = start().await;
    let url = |p: &str| format!("{}{}{p}", ctx.sim.base_url(), ZPA_SCIM_BASE_PATH);
    for (method, path, body) in [
        (Method::POST, "/Users", "{not json"),
        (Method::PATCH, "/Users/200001", "[1,2"),
        (Method::POST, "/Users", ""),
        (Method::PUT, "/Groups/300001", "\"just a string\""),
        (Method::POST, "/Users/.search", "{"),
    ] {
        let r = ctx
            .send(
                method.clone(),
                url(path),
                Some(ZPA_SCIM_DEMO_TOKEN),
                Some(body.into()),
            )
            .await;
        assert_eq!(
            assert_error(&r, 400),
            "invalidSyntax",
            "{method} {path} {body}"
        );
    }
    let r = ctx
        .http
        .post(url("/Users"))
        .header("Authorization", format!("Bearer {ZPA_SCIM_DEMO_TOKEN}"))
        .header("Content-Type", "text/xml")
        .body("<user/>")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&ctx.get(F::Zpa, "/Nope").await, 404);
    assert_error(&ctx.call(F::Zpa, Method::DELETE, "/Users", None).await, 405);
    let r = ctx
        .patch(
            F::Zpa,
            "/Users/200001",
            json!([{"op": "replace", "path": "active", "value": 7}]),
        )
        .await;
    assert_eq!(assert_error(&r, 400), "invalidValue");
}

#[tokio::test]
async fn bulk_with_bulk_id_references() {
    let ctx = start().await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": new_user("bulk.one@acme.example", "IT")},
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Bulk Group", "members": [{"value": "bulkId:u1"}]}},
            {"method": "PATCH", "path": "/Users/bulkId:u1",
             "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Bulk One"}]}},
            {"method": "DELETE", "path": "/Users/nope"},
            {"method": "DELETE", "path": "/Groups/bulkId:g1"}
        ]
    });
    let r = ctx.call(F::Zpa, Method::POST, "/Bulk", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ops = r.json["Operations"].as_array().cloned().unwrap_or_default();
    let statuses: Vec<&str> = ops.iter().filter_map(|o| o["status"].as_str()).collect();
    assert_eq!(
        statuses,
        ["201", "201", "200", "404"],
        "stops after failOnErrors"
    );
    assert_eq!(ops[3]["response"]["status"], "404");
    let (_, ids) = ctx
        .list_ids(F::Zpa, &q(r#"userName eq "bulk.one@acme.example""#))
        .await;
    let u = ctx.get(F::Zpa, &format!("/Users/{}", ids[0])).await;
    assert_eq!(u.json["displayName"], "Bulk One");
    assert_eq!(u.json["groups"][0]["display"], "Bulk Group");
}
