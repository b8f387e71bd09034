//! `deactivate` with `users`: several accounts of one connection in one plan, deleted on native
//! ZIA with bulkDelete, over the real binary with rmcp's client against the simulator.

mod common;

use common::{Env, Human};
use serde_json::{Value, json};

async fn requests(env: &Env) -> Value {
    env.sim().get("/__sim/requests").await
}

async fn present(env: &Env, emails: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for e in emails {
        if env.sim().user(e, "draft").await.is_some() {
            out.push((*e).to_string());
        }
    }
    out
}

const THREE: [&str; 3] = [
    "jane.doe@acme.example",
    "john.smith@acme.example",
    "temp.contractor@acme.example",
];

#[tokio::test]
async fn a_batch_is_one_plan_one_confirmation_and_one_bulk_delete() {
    let env = Env::with_sim_policy("max_targets_per_call = 5").await;
    let client = env.connect(Human::Accepts).await;
    let contractor_id = env
        .sim()
        .user("temp.contractor@acme.example", "draft")
        .await
        .expect("contractor")["id"]
        .to_string();
    let done = client
        .ok(
            "deactivate",
            json!({"users": ["jane.doe@acme.example", "JOHN.SMITH@acme.example", contractor_id]}),
        )
        .await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["verification"], "verified");
    assert_eq!(done["staged"], true);
    let outcomes = done["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes
            .iter()
            .all(|o| o["outcome"] == "executed" && o["verification"] == "verified"),
        "{done}"
    );
    let changes = done["plan"]["changes"].to_string();
    assert!(changes.contains("bulkDelete"), "{changes}");
    for e in THREE {
        assert!(changes.contains(e), "plan names {e}: {changes}");
    }
    assert_eq!(
        client.asked.lock().expect("lock").len(),
        1,
        "one confirmation for the whole batch"
    );
    assert!(present(&env, &THREE).await.is_empty(), "all three deleted");
    assert!(
        env.sim().user("jdoe@acme.example", "draft").await.is_some(),
        "a look-alike not in the batch is untouched"
    );

    let log = requests(&env).await;
    assert_eq!(
        log["by_route"]["POST /api/v1/users/bulkDelete"], 1,
        "one bulk request: {log}"
    );
    assert!(
        log["by_route"].get("DELETE /api/v1/users/{id}").is_none(),
        "no one-by-one DELETE (limited to 4 an hour): {log}"
    );

    let journal = std::fs::read_to_string(env.journal()).expect("journal");
    let executed = journal
        .lines()
        .filter(|l| l.contains("\"outcome\":\"executed\"") && l.contains("\"batch\":3"))
        .count();
    assert_eq!(executed, 3, "one journal record per account");
    let verify = env.run(&["journal", "verify"]).await;
    assert!(verify.status.success());

    // The deletions are staged like any other ZIA change, and listed for activation.
    let pending = client.ok("pending_changes", json!({})).await.to_string();
    for e in THREE {
        assert!(pending.contains(e), "{pending}");
    }
    client.close().await;
}

#[tokio::test]
async fn a_batch_with_any_bad_entry_plans_nothing() {
    let env = Env::with_sim_policy("max_targets_per_call = 5\nmax_deletions_per_hour = 3").await;
    let client = env.connect(Human::Accepts).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"users": ["jane.doe@acme.example", "nobody@acme.example"]}),
            "nobody@acme.example",
        ),
        (
            json!({"users": ["jane.doe@acme.example", "BreakGlass@ACME.example"]}),
            "protected",
        ),
        (
            json!({"users": ["jane.doe@acme.example", "svc-scanner@acme.example"]}),
            "protected",
        ),
        (
            json!({"users": ["jane.doe@acme.example", "JANE.DOE@acme.example"]}),
            "twice",
        ),
        (
            json!({"users": ["jane.doe@acme.example"], "user": "john.smith@acme.example"}),
            "not both",
        ),
        (
            json!({"users": ["jane.doe@acme.example"], "connection": "all"}),
            "connection \"all\"",
        ),
        (
            json!({"users": ["jane.doe@acme.example", " "]}),
            "empty entry",
        ),
        (
            json!({"users": ["a@acme.example", "b@acme.example", "c@acme.example",
                              "d@acme.example", "e@acme.example", "f@acme.example"]}),
            "max_targets_per_call",
        ),
        (
            json!({"users": ["jane.doe@acme.example", "john.smith@acme.example",
                              "temp.contractor@acme.example", "jdoe@acme.example"]}),
            "max_deletions_per_hour",
        ),
        (
            json!({"users": ["jane.doe@acme.example"], "mode": "disable"}),
            "no disabled state",
        ),
    ];
    for (args, expect) in cases {
        let msg = client.err("deactivate", args.clone()).await;
        assert!(msg.contains(expect), "{args}: {msg}");
    }
    assert!(
        client.asked.lock().expect("lock").is_empty(),
        "no human was asked about a batch that cannot run"
    );
    assert_eq!(present(&env, &THREE).await.len(), 3, "nothing was deleted");
    let log = requests(&env).await;
    assert!(
        log["by_route"]
            .get("POST /api/v1/users/bulkDelete")
            .is_none(),
        "{log}"
    );
    client.close().await;
}

#[tokio::test]
async fn a_batch_approved_out_of_band_runs_once_and_only_as_planned() {
    let env = Env::with_sim_policy("max_targets_per_call = 5").await;
    let client = env.connect(Human::Absent).await;
    let args = json!({"users": ["jane.doe@acme.example", "john.smith@acme.example"]});
    let first = client.ok("deactivate", args.clone()).await;
    assert_eq!(first["status"], "awaiting_approval", "{first}");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    assert_eq!(present(&env, &THREE[..2]).await.len(), 2);

    // The plan cannot be spent on a different batch.
    let other = client
        .err(
            "deactivate",
            json!({"users": ["jane.doe@acme.example", "temp.contractor@acme.example"], "plan_id": plan_id}),
        )
        .await;
    assert!(other.contains("was made for"), "{other}");

    let approved = env.approve(&plan_id, &plan_id).await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stdout)
    );
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    let done = client.ok("deactivate", with_plan.clone()).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["channel"], "approve-cli");
    assert!(present(&env, &THREE[..2]).await.is_empty());
    assert!(
        env.sim()
            .user("temp.contractor@acme.example", "draft")
            .await
            .is_some()
    );
    let replay = client.err("deactivate", with_plan).await;
    assert!(replay.contains("already used"), "{replay}");
    client.close().await;
}

#[tokio::test]
async fn a_batch_on_scim_disables_each_account_and_reports_each_outcome() {
    let env = Env::with_sim_and_zpa().await;
    let client = env.connect(Human::Accepts).await;
    let zpa = env.zpa_users().await;
    let emails: Vec<String> = zpa
        .iter()
        .filter(|u| u["active"] == "true" || u["active"] == true)
        .filter_map(|u| u["userName"].as_str().map(str::to_string))
        .filter(|e| {
            e.ends_with("@acme.example") && !e.starts_with("breakglass") && !e.starts_with("svc-")
        })
        .take(2)
        .collect();
    assert_eq!(emails.len(), 2, "two active ZPA users: {zpa:?}");
    let r = client
        .ok(
            "deactivate",
            json!({"users": emails, "connection": "zpa-test"}),
        )
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    assert_eq!(r["staged"], false, "SCIM applies at once");
    let outcomes = r["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .all(|o| o["outcome"] == "executed" && o["verification"] == "verified"),
        "{r}"
    );
    let after = env.zpa_users().await;
    for e in &emails {
        let u = after
            .iter()
            .find(|u| u["userName"].as_str() == Some(e.as_str()))
            .expect("account kept");
        assert!(u["active"] == "false" || u["active"] == false, "{u}");
    }
    // Native ZIA was not touched.
    let log = requests(&env).await;
    assert!(
        log["by_route"]
            .get("POST /api/v1/users/bulkDelete")
            .is_none(),
        "{log}"
    );
    client.close().await;
}

#[tokio::test]
async fn a_batch_in_token_mode_runs_once_with_its_token() {
    let env =
        Env::with_sim_policy("max_targets_per_call = 5\n\n[policy.token_mode]\nenabled = true\n")
            .await;
    let client = env.connect(Human::Absent).await;
    let args = json!({"users": ["jane.doe@acme.example", "john.smith@acme.example"]});
    let first = client.ok("deactivate", args.clone()).await;
    let echo = first["plan_id_with_token"]
        .as_str()
        .expect("token issued")
        .to_string();
    assert_eq!(present(&env, &THREE[..2]).await.len(), 2, "nothing yet");
    let mut with_token = args.clone();
    with_token["plan_id"] = json!(echo);
    let done = client.ok("deactivate", with_token.clone()).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["channel"], "token");
    assert!(present(&env, &THREE[..2]).await.is_empty());
    let replay = client.err("deactivate", with_token).await;
    assert!(replay.contains("already used"), "{replay}");
    client.close().await;
}
