//! Movers end to end: update_user through the real binary against a simulator process, each
//! change checked on the simulator itself — a department and group move on native ZIA and on
//! ZPA SCIM, which changes need a human and which do not, and every refusal leaving the tenant
//! as it was.

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

fn plan_id(r: &Value) -> String {
    r["plan"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no plan in {r}"))
        .to_string()
}

fn with(args: &Value, plan_id: &str) -> Value {
    let mut a = args.clone();
    a["plan_id"] = json!(plan_id);
    a
}

/// The group names of a user as the simulator holds it, sorted.
fn names(groups: &Value) -> Vec<String> {
    let mut n: Vec<String> = groups
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|g| {
                    g["name"]
                        .as_str()
                        .or_else(|| g["display"].as_str())
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    n.sort();
    n
}

/// Every journal record of `tool` with this outcome.
fn journaled(env: &Env, tool: &str, outcome: &str) -> Vec<Value> {
    std::fs::read_to_string(env.journal())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["tool"] == tool && r["outcome"] == outcome)
        .collect()
}

#[tokio::test]
async fn a_mover_on_native_zia_changes_department_and_groups_in_one_confirmed_write() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Accepts).await;
    let r = client
        .ok(
            "update_user",
            json!({"user": "jane.doe@acme.example", "department": "Finance", "groups": ["All Staff", "Finance"]}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["verification"], "verified", "{r}");
    assert_eq!(r["confirmation"]["channel"], "elicitation", "{r}");
    assert_eq!(r["staged"], true, "{r}");
    let asked = client.asked.lock().expect("lock").join("\n");
    assert!(
        asked.contains(r#"Move from department "Sales" to "Finance""#)
            && asked.contains(r#"Add to "Finance""#)
            && asked.contains(r#"Remove from "Sales""#)
            && asked.contains(r#"Keep "All Staff""#),
        "the human saw the diff: {asked}"
    );
    let jane = sim
        .user("jane.doe@acme.example", "draft")
        .await
        .expect("still there");
    assert_eq!(jane["department"]["name"], "Finance", "{jane}");
    assert_eq!(names(&jane["groups"]), ["All Staff", "Finance"], "{jane}");
    assert_eq!(jane["name"], "Jane Doe", "kept: {jane}");
    // Staged, not live, until activation.
    let live = sim
        .user("jane.doe@acme.example", "live")
        .await
        .expect("live");
    assert_eq!(live["department"]["name"], "Sales", "{live}");
    let requests = sim.get("/__sim/requests").await;
    assert_eq!(
        requests["by_route"]["PUT /api/v1/users/{id}"], 1,
        "one PUT: {requests}"
    );
    let outcome = journaled(&env, "update_user", "executed");
    assert_eq!(outcome.len(), 1, "{outcome:?}");
    assert_eq!(outcome[0]["before"]["department"]["name"], "Sales");
    assert_eq!(outcome[0]["after"]["department"]["name"], "Finance");
    assert_eq!(journaled(&env, "update_user", "intent").len(), 1);
    // The same call again changes nothing.
    let again = client
        .ok(
            "update_user",
            json!({"user": "jane.doe@acme.example", "department": "finance", "groups": ["all staff", "FINANCE"]}),
        )
        .await;
    assert_eq!(again["status"], "no_change", "{again}");
    client.close().await;
}

#[tokio::test]
async fn a_mover_on_zpa_scim_waits_for_approval_then_is_verified_on_the_tenant() {
    let env = Env::with_sim_and_zpa().await;
    let client = env.connect(Human::Absent).await;
    let args = json!({
        "connection": "zpa-test", "user": "jane.doe@acme.example",
        "department": "Finance", "groups": ["All Staff", "Contractors"],
    });
    let first = client.ok("update_user", args.clone()).await;
    assert_eq!(first["status"], "awaiting_approval", "{first}");
    let changes: String = first["plan"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        changes.contains(r#"Add to "Contractors""#)
            && changes.contains(r#"Remove from "Engineering""#),
        "{changes}"
    );
    let jane = |users: Vec<Value>| {
        users
            .into_iter()
            .find(|u| u["userName"] == "jane.doe@acme.example")
            .expect("jane")
    };
    let untouched = jane(env.zpa_users().await);
    assert_eq!(
        untouched["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Sales",
        "nothing changed before approval: {untouched}"
    );
    let id = plan_id(&first);
    assert!(env.approve(&id, &id).await.status.success());
    let done = client.ok("update_user", with(&args, &id)).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["verification"], "verified", "{done}");
    assert_eq!(done["staged"], false, "SCIM applies at once: {done}");
    let moved = jane(env.zpa_users().await);
    assert_eq!(
        moved["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Finance",
        "{moved}"
    );
    assert_eq!(
        names(&moved["groups"]),
        ["All Staff", "Contractors"],
        "{moved}"
    );
    // The plan was used once.
    let replay = client.err("update_user", with(&args, &id)).await;
    assert!(
        replay.contains("already") || replay.contains("used"),
        "{replay}"
    );
    client.close().await;
}

#[tokio::test]
async fn a_rename_alone_needs_no_confirmation_but_a_department_change_does() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Absent).await;
    let renamed = client
        .ok(
            "update_user",
            json!({"user": "john.smith@acme.example", "name": "John Q. Smith", "comments": "prefers John Q."}),
        )
        .await;
    assert_eq!(renamed["status"], "executed", "{renamed}");
    assert_eq!(
        renamed["confirmation"]["channel"], "not-required",
        "{renamed}"
    );
    assert!(renamed.get("plan").is_none(), "{renamed}");
    let john = sim
        .user("john.smith@acme.example", "draft")
        .await
        .expect("john");
    assert_eq!(john["name"], "John Q. Smith", "{john}");
    assert_eq!(john["comments"], "prefers John Q.", "{john}");
    // Adding a group alone follows confirm_tools (empty here): no confirmation either.
    let added = client
        .ok(
            "update_user",
            json!({"user": "john.smith@acme.example", "groups": ["All Staff", "Engineering", "Legal"]}),
        )
        .await;
    assert_eq!(added["status"], "executed", "{added}");

    let before = sim.get("/__sim/users?view=draft").await;
    let moved = client
        .ok(
            "update_user",
            json!({"user": "john.smith@acme.example", "department": "Legal"}),
        )
        .await;
    assert_eq!(moved["status"], "awaiting_approval", "{moved}");
    assert_eq!(
        sim.get("/__sim/users?view=draft").await,
        before,
        "nothing changed without a human"
    );
    // A group removal needs one too.
    let removed = client
        .ok(
            "update_user",
            json!({"user": "john.smith@acme.example", "groups": ["All Staff", "Engineering"]}),
        )
        .await;
    assert_eq!(removed["status"], "awaiting_approval", "{removed}");
    assert_eq!(sim.get("/__sim/users?view=draft").await, before);
    client.close().await;

    // A deployment that lists update_user in confirm_tools confirms a rename too.
    let strict = Env::with_sim_policy("confirm_tools = [\"update_user\"]").await;
    let client = strict.connect(Human::Absent).await;
    let r = client
        .ok(
            "update_user",
            json!({"user": "john.smith@acme.example", "name": "Johnny"}),
        )
        .await;
    assert_eq!(r["status"], "awaiting_approval", "{r}");
    client.close().await;
}

#[tokio::test]
async fn protected_accounts_and_groups_and_unknown_departments_are_refused_with_nothing_changed() {
    let env = Env::with_sim().await;
    let sim = env.sim();
    let client = env.connect(Human::Accepts).await;
    let before = sim.get("/__sim/users?view=draft").await;

    let e = client
        .err(
            "update_user",
            json!({"user": "breakglass@acme.example", "name": "Not So Glassy"}),
        )
        .await;
    assert!(e.contains("protected account"), "{e}");
    let e = client
        .err(
            "update_user",
            json!({"user": "svc-scanner@acme.example", "department": "Sales"}),
        )
        .await;
    assert!(e.contains("protected account"), "{e}");
    // Joining a protected group, by name or by id.
    let e = client
        .err(
            "update_user",
            json!({"user": "jane.doe@acme.example", "groups": ["All Staff", "Sales", "Admins"]}),
        )
        .await;
    assert!(e.contains("protected"), "{e}");
    let groups = client.ok("list_groups", json!({})).await;
    let admins = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "Admins")
        .expect("Admins")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let e = client
        .err(
            "update_user",
            json!({"user": "jane.doe@acme.example", "groups": ["All Staff", "Sales", admins]}),
        )
        .await;
    assert!(e.contains("protected"), "{e}");

    let e = client
        .err(
            "update_user",
            json!({"user": "jane.doe@acme.example", "department": "Astrology"}),
        )
        .await;
    assert!(
        e.contains(r#"department "Astrology" not found"#)
            && e.contains(r#""Finance""#)
            && e.contains(r#""Sales""#),
        "lists the departments: {e}"
    );
    let e = client
        .err(
            "update_user",
            json!({"user": "jane.doe@acme.example", "groups": ["All Staff", "Nope"]}),
        )
        .await;
    assert!(
        e.contains(r#""Nope" not found"#) && e.contains("list_groups"),
        "{e}"
    );
    let e = client
        .err("update_user", json!({"user": "jane.doe@acme.example"}))
        .await;
    assert!(e.contains("nothing to change"), "{e}");
    let e = client
        .err(
            "update_user",
            json!({"user": "jane.doe@acme.example", "groups": []}),
        )
        .await;
    assert!(e.contains("at least one group"), "{e}");
    assert!(client.asked.lock().expect("lock").is_empty(), "never asked");
    assert_eq!(sim.get("/__sim/users?view=draft").await, before);
    client.close().await;
}

#[tokio::test]
async fn a_protected_group_cannot_be_left_through_the_exact_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = common::SimProc::start().await;
    let config = format!(
        "[connections.zia-test]\nkind = \"zia\"\nbase_url = \"{}\"\n\n[connections.zpa-test]\nkind = \"zpa-scim\"\nbase_url = \"{}\"\n\n[policy]\nprotected_groups = [\"Contractors\"]\n",
        sim.url, sim.zpa_scim_url
    );
    let env = Env::with_config(dir, sim, &config);
    let client = env.connect(Human::Accepts).await;
    let before = env.sim().get("/__sim/users?view=draft").await;
    let zpa_before = env.zpa_users().await;
    // Old Vendor is in the protected group: an exact set without it would remove it.
    let e = client
        .err(
            "update_user",
            json!({"connection": "zia-test", "user": "old.vendor@vendor-mail.example", "groups": ["All Staff"]}),
        )
        .await;
    assert!(
        e.contains(r#""Contractors""#) && e.contains("protected"),
        "{e}"
    );
    // SCIM keeps no comments: refused before any plan.
    let e = client
        .err(
            "update_user",
            json!({"connection": "zpa-test", "user": "jane.doe@acme.example", "comments": "x"}),
        )
        .await;
    assert!(e.contains("no comments"), "{e}");
    assert!(client.asked.lock().expect("lock").is_empty(), "never asked");
    assert_eq!(env.sim().get("/__sim/users?view=draft").await, before);
    assert_eq!(env.zpa_users().await, zpa_before);
    client.close().await;
}
