//! Several replicas sharing state through Redis: real binaries, a real simulator, real Redis.
//!
//! These tests need a Redis server and find it through `ZSCALER_LIFECYCLE_MCP_TEST_REDIS`
//! (e.g. `redis://127.0.0.1:6390`); without it they print a notice and pass without running.
//! `.ci/run` installs and starts redis-server and sets the variable, so in CI they always run.
//! Every test uses its own key prefix, so they can share one Redis and run in parallel. The
//! "Redis goes away" test starts (and kills) a redis-server of its own on a free port.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zscaler_lifecycle_mcp::guard::GuardError;
use zscaler_lifecycle_mcp::guard::ledger::Ledger;
use zscaler_lifecycle_mcp::guard::plan::Plan;
use zscaler_lifecycle_mcp::guard::store::{Approver, PlanStore};
use zscaler_lifecycle_mcp::secret::Secret;
use zscaler_lifecycle_mcp::state::RedisState;
use zscaler_lifecycle_mcp::state::lock::{LockError, TenantLock};
use zscaler_lifecycle_mcp::state::rate::{Rate, SharedBudget};

const REDIS_ENV: &str = "ZSCALER_LIFECYCLE_MCP_TEST_REDIS";

fn redis_url(test: &str) -> Option<String> {
    match std::env::var(REDIS_ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => {
            println!(
                "SKIPPED {test}: set {REDIS_ENV}=redis://127.0.0.1:PORT (a running redis-server) to run the replica tests"
            );
            None
        }
    }
}

/// A key prefix no other test (or earlier run) uses.
fn fresh_prefix() -> String {
    let n: u64 = rand::random();
    format!("zlm-test-{n:016x}:")
}

fn redis(url: &str, prefix: &str) -> RedisState {
    RedisState::new(&Secret::new(url), prefix, Duration::from_secs(2)).expect("redis url")
}

/// A replica: its own state directory and config, the given simulator and `[state]` table.
fn replica(sim: &SimProc, state: &str, with_sim: Option<SimProc>) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let q = |s: &str| Value::from(s).to_string();
    std::fs::write(
        &config,
        format!(
            r#"
[connections.zia-test]
kind = "zia"
base_url = {url}
username = {{ value = {user} }}
password = {{ value = {pass} }}
api_key = {{ value = {key} }}
registered_domains = ["acme.example", "acme-labs.example"]

[policy]
protected_accounts = ["breakglass@*", "svc-*"]
protected_groups = ["Admins"]

[state]
{state}
"#,
            url = q(&sim.url),
            user = q(&sim.username),
            pass = q(&sim.password),
            key = q(&sim.api_key),
        ),
    )
    .expect("write config");
    Env {
        dir,
        config: Some(config),
        sim: with_sim,
    }
}

fn redis_state_table(prefix: &str) -> String {
    // The URL comes from the environment, as a deployment with a password would do it.
    format!(
        "backend = \"redis\"\nurl = {{ env = \"{REDIS_ENV}\" }}\nkey_prefix = \"{prefix}\"\ntimeout_ms = 1000\n"
    )
}

fn plan(id: &str) -> Plan {
    let now = zscaler_lifecycle_mcp::guard::now_secs();
    Plan {
        id: id.into(),
        tool: "deactivate".into(),
        connection: "zia-test".into(),
        arguments: json!({"user": "a@acme.example"}),
        input: String::new(),
        caller: "local".into(),
        changes: vec!["Delete a".into()],
        targets: vec![],
        created_at: now,
        expires_at: now + 300,
        approvals_required: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_approved_via_one_replica_runs_once_via_another() {
    let Some(_url) = redis_url("plan_approved_via_one_replica_runs_once_via_another") else {
        return;
    };
    let prefix = fresh_prefix();
    let sim = SimProc::start().await;
    let state = redis_state_table(&prefix);
    let b = replica(&sim, &state, None);
    let a = replica(&sim, &state, None);
    let user = "john.smith@acme.example";
    let args = json!({ "user": user });

    let client_a = a.connect(Human::Absent).await;
    let first = client_a.ok("deactivate", args.clone()).await;
    assert_eq!(first["status"], "awaiting_approval", "{first}");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();
    assert!(
        !a.state_dir().join("plans").exists(),
        "with Redis, plans are not written to the state directory"
    );

    // `approve` through B's config (another state directory) sees and approves A's plan.
    let listed = b.run(&["approve"]).await;
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&plan_id),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    let approved = b.approve(&plan_id, &plan_id).await;
    assert!(
        approved.status.success(),
        "approve failed: {}{}",
        String::from_utf8_lossy(&approved.stdout),
        String::from_utf8_lossy(&approved.stderr)
    );

    let client_b = b.connect(Human::Absent).await;
    let mut with_plan = args.clone();
    with_plan["plan_id"] = json!(plan_id);
    let done = client_b.ok("deactivate", with_plan.clone()).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert_eq!(done["confirmation"]["approver"], os_account());
    assert!(sim.user(user, "draft").await.is_none(), "deleted once");

    // Replays through either replica are refused.
    for (name, client) in [("A", &client_a), ("B", &client_b)] {
        let replay = client.err("deactivate", with_plan.clone()).await;
        assert!(
            replay.contains("already used"),
            "replay via {name}: {replay}"
        );
    }
    client_a.close().await;
    client_b.close().await;

    // Each replica keeps its own journal chain, stamped with its replica id; both verify.
    for env in [&a, &b] {
        let chains: Vec<_> = std::fs::read_dir(env.state_dir())
            .expect("state dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("journal-") && n.ends_with(".jsonl"))
            .collect();
        assert_eq!(chains.len(), 1, "{chains:?}");
        let text = std::fs::read_to_string(env.state_dir().join(&chains[0])).expect("chain");
        let replica_id = chains[0]
            .trim_start_matches("journal-")
            .trim_end_matches(".jsonl");
        for line in text.lines() {
            let rec: Value = serde_json::from_str(line).expect("record");
            assert_eq!(rec["replica"], replica_id, "{line}");
        }
        let verify = env.run(&["journal", "verify"]).await;
        let out = String::from_utf8_lossy(&verify.stdout);
        assert!(
            verify.status.success() && out.contains("chain intact"),
            "{out}"
        );
    }
    let a_text = std::fs::read_to_string(
        std::fs::read_dir(a.state_dir())
            .expect("dir")
            .filter_map(|e| e.ok())
            .find(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n.starts_with("journal-") && n.ends_with(".jsonl")
            })
            .expect("A's chain")
            .path(),
    )
    .expect("read");
    assert!(a_text.contains("awaiting_approval"), "{a_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_on_redis_are_shared_signed_and_consumed_exactly_once() {
    let Some(url) = redis_url("plans_on_redis_are_shared_signed_and_consumed_exactly_once") else {
        return;
    };
    let prefix = fresh_prefix();
    let one = PlanStore::open_redis(redis(&url, &prefix)).expect("open");
    let two = PlanStore::open_redis(redis(&url, &prefix)).expect("open");
    assert_eq!(
        one.derived_key("x"),
        two.derived_key("x"),
        "every replica signs with the one key created by SET NX"
    );
    let id = PlanStore::new_id();
    let p = plan(&id);
    one.save(&p).expect("save");
    assert!(matches!(
        two.approvals_for(&p),
        Err(GuardError::NotApproved { .. })
    ));
    assert_eq!(two.pending().len(), 1);
    two.approve(&id, &Approver::os_account("alice", "approve-cli"))
        .expect("approve via the other store");
    assert_eq!(
        one.approvals_for(&p).expect("approved")[0].approver,
        "alice"
    );

    // Eight racing consumers across two stores: exactly one wins.
    let stores = std::sync::Arc::new([one, two]);
    let mut handles = Vec::new();
    for i in 0..8 {
        let stores = stores.clone();
        let id = id.clone();
        handles.push(std::thread::spawn(move || {
            stores[i % 2].consume(&id).is_ok()
        }));
    }
    let wins = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .filter(|ok| *ok)
        .count();
    assert_eq!(wins, 1);
    assert!(matches!(
        stores[0].load_live(&id),
        Err(GuardError::AlreadyUsed { .. })
    ));
    assert!(stores[1].pending().is_empty());

    // A plan signed with another key (another deployment's prefix) is refused.
    let other_prefix = fresh_prefix();
    let other = PlanStore::open_redis(redis(&url, &other_prefix)).expect("open");
    let id2 = PlanStore::new_id();
    other.save(&plan(&id2)).expect("save");
    let r = redis(&url, "");
    let copied: Option<String> = r
        .run(|c| {
            redis::cmd("GET")
                .arg(format!("{other_prefix}plan:{id2}:plan"))
                .query(c)
        })
        .expect("get");
    assert!(copied.is_some(), "key layout <prefix>plan:<id>:plan");
    r.run(|c| {
        redis::cmd("SET")
            .arg(format!("{prefix}plan:{id2}:plan"))
            .arg(copied.clone().unwrap_or_default())
            .exec(c)
    })
    .expect("copy");
    assert!(matches!(
        stores[0].load(&id2),
        Err(GuardError::BadSignature { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiter_instances_never_grant_past_the_shared_budget() {
    // The simulator on this branch enforces no rate limits, so this checks the Redis-side
    // limiter directly: two independent instances (two connections, as two replicas have)
    // pacing the same tenant.
    let Some(url) = redis_url("two_limiter_instances_never_grant_past_the_shared_budget") else {
        return;
    };
    let prefix = fresh_prefix();
    let tenant = "https://zsapi.example.net";
    let a = SharedBudget::new(redis(&url, &prefix), tenant);
    let b = SharedBudget::new(redis(&url, &prefix), tenant);
    let per_min = Rate {
        count: 1,
        per: Duration::from_secs(60),
    };
    let hourly = Rate {
        count: 4,
        per: Duration::from_secs(3600),
    };

    // DELETE budget (1/min, 4/h): twenty concurrent attempts, exactly one grant.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let l = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            l.try_take("delete", per_min, hourly).await.expect("redis")
        }));
    }
    let mut granted = 0;
    for t in tasks {
        match t.await.expect("task") {
            None => granted += 1,
            Some(wait) => assert!(wait > Duration::from_secs(50), "{wait:?}"),
        }
    }
    assert_eq!(granted, 1, "zero over-budget grants across instances");

    // POST/PUT budget (1/s): both instances pace as fast as allowed for 2.5 s; together they
    // get what one process would (grants at 0, 1 and 2 s), never twice that.
    let per_sec = Rate {
        count: 1,
        per: Duration::from_secs(1),
    };
    let writes = Rate {
        count: 400,
        per: Duration::from_secs(3600),
    };
    let started = Instant::now();
    let run = |l: SharedBudget| async move {
        let mut times = Vec::new();
        while started.elapsed() < Duration::from_millis(2500) {
            match l.try_take("write", per_sec, writes).await.expect("redis") {
                None => times.push(started.elapsed()),
                Some(w) => tokio::time::sleep(w.min(Duration::from_millis(100))).await,
            }
        }
        times
    };
    let (ta, tb) = tokio::join!(run(a.clone()), run(b.clone()));
    let mut all: Vec<Duration> = ta.into_iter().chain(tb).collect();
    all.sort();
    assert!((2..=3).contains(&all.len()), "{all:?}");
    for pair in all.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(900),
            "grants closer than the 1/s budget allows: {all:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_write_lock_has_one_owner_and_safe_release() {
    let Some(url) = redis_url("tenant_write_lock_has_one_owner_and_safe_release") else {
        return;
    };
    let prefix = fresh_prefix();
    let tenant = "https://zsapi.example.net";
    let short = TenantLock::new(redis(&url, &prefix), tenant, Duration::from_millis(300));
    let other = TenantLock::new(redis(&url, &prefix), tenant, Duration::from_secs(30));

    let held = short.acquire(Duration::ZERO).await.expect("free lock");
    assert!(matches!(
        other.acquire(Duration::from_millis(100)).await,
        Err(LockError::Busy { .. })
    ));
    // The holder's TTL lapses; the other replica takes it; the stale release must not free it.
    let taken = other
        .acquire(Duration::from_secs(2))
        .await
        .expect("after TTL");
    held.release().await;
    assert!(
        matches!(
            short.acquire(Duration::from_millis(100)).await,
            Err(LockError::Busy { .. })
        ),
        "compare-and-delete kept the new owner's lock"
    );
    taken.release().await;
    short
        .acquire(Duration::from_millis(100))
        .await
        .expect("released")
        .release()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_ledger_is_shared_between_replicas() {
    let Some(url) = redis_url("activation_ledger_is_shared_between_replicas") else {
        return;
    };
    let prefix = fresh_prefix();
    let a = Ledger::shared(redis(&url, &prefix));
    let b = Ledger::shared(redis(&url, &prefix));
    for (l, conn, tool, what) in [
        (&a, "zia-test", "deactivate", "Deleted a@acme.example"),
        (&b, "zia-test", "add_to_groups", "Added b to Sales"),
        (&b, "other", "deactivate", "Deleted c"),
    ] {
        assert_eq!(l.record(conn, tool, what.into()), None, "recorded in Redis");
    }
    let seen: Vec<String> = a
        .pending("zia-test")
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert_eq!(seen, ["Deleted a@acme.example", "Added b to Sales"]);
    // Activation through B clears what A staged too: activation is tenant-wide.
    b.clear("zia-test");
    assert!(a.pending("zia-test").is_empty());
    assert_eq!(a.pending("other").len(), 1);
}

/// A redis-server of this test's own, on a free port, so the test can kill it.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH (install the redis-server package)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnRedis { child, port }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gone_refuses_writes_clearly_and_reads_keep_working() {
    if redis_url("redis_gone_refuses_writes_clearly_and_reads_keep_working").is_none() {
        return;
    }
    let mut own = OwnRedis::start();
    let sim = SimProc::start().await;
    let state = format!(
        "backend = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\nkey_prefix = \"{}\"\ntimeout_ms = 500\n",
        own.port,
        fresh_prefix()
    );
    let env = replica(&sim, &state, None);
    let client = env.connect(Human::Absent).await;
    let user = "john.smith@acme.example";
    let first = client.ok("deactivate", json!({ "user": user })).await;
    assert_eq!(first["status"], "awaiting_approval");
    let plan_id = first["plan"]["id"].as_str().expect("plan id").to_string();

    own.kill();
    let expected = format!("state backend redis at 127.0.0.1:{} unreachable", own.port);

    // Executing the plan, and proposing a new one, are both refused, naming Redis.
    let refused = client
        .err("deactivate", json!({ "user": user, "plan_id": plan_id }))
        .await;
    assert!(
        refused.contains(&expected) && refused.contains("writes are refused"),
        "{refused}"
    );
    let refused = client
        .err("deactivate", json!({ "user": "jane.doe@acme.example" }))
        .await;
    assert!(refused.contains(&expected), "{refused}");

    // Nothing half-done on the tenant.
    assert!(sim.user(user, "draft").await.is_some());
    assert!(sim.user("jane.doe@acme.example", "draft").await.is_some());
    assert_eq!(sim.status().await, "ACTIVE", "nothing staged");

    // Reads of the tenant do not need Redis.
    let users = client.ok("list_users", json!({})).await;
    assert!(
        users.to_string().contains("jane.doe@acme.example"),
        "{users}"
    );
    client.close().await;
}

/// Redis restarted empty under two running replicas (FLUSHALL), then only its signing key
/// lost (as an eviction would): no restart, new plans work at once through either replica, and
/// a plan signed with the lost key is refused as such, never as "tampered with".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_survive_a_flushed_state_store_without_a_restart() {
    if redis_url("replicas_survive_a_flushed_state_store_without_a_restart").is_none() {
        return;
    }
    // Its own Redis: FLUSHALL on the shared one would wipe the other tests' keys.
    let own = OwnRedis::start();
    let sim = SimProc::start().await;
    let prefix = fresh_prefix();
    let url = format!("redis://127.0.0.1:{}", own.port);
    let state = format!(
        "backend = \"redis\"\nurl = \"{url}\"\nkey_prefix = \"{prefix}\"\ntimeout_ms = 1000\n"
    );
    let a = replica(&sim, &state, None);
    let b = replica(&sim, &state, None);
    let client_a = a.connect(Human::Absent).await;
    let client_b = b.connect(Human::Absent).await;
    let plan = |r: &Value| r["plan"]["id"].as_str().expect("plan id").to_string();
    let args = |user: &str, plan_id: Option<&str>| match plan_id {
        Some(id) => json!({ "user": user, "plan_id": id }),
        None => json!({ "user": user }),
    };
    let (john, jane) = ("john.smith@acme.example", "jane.doe@acme.example");
    let before = plan(&client_a.ok("deactivate", args(john, None)).await);
    let direct = redis(&url, "");

    direct
        .run(|c| redis::cmd("FLUSHALL").exec(c))
        .expect("FLUSHALL");
    // The plan went with the store: said plainly.
    let gone = client_a.err("deactivate", args(john, Some(&before))).await;
    assert!(
        gone.contains("not found") && !gone.contains("tampered"),
        "{gone}"
    );
    // A new plan through A, approved by a fresh `approve`, executes through B, which still
    // held the old key in memory.
    let p1 = plan(&client_a.ok("deactivate", args(john, None)).await);
    let approved = b.approve(&p1, &p1).await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stdout)
    );
    let done = client_b.ok("deactivate", args(john, Some(&p1))).await;
    assert_eq!(done["status"], "executed", "{done}");
    assert!(sim.user(john, "draft").await.is_none());

    // Only the key lost: a plan signed with it is refused as such, by a replica and by a
    // fresh `approve` that never held that key.
    let p2 = plan(&client_b.ok("deactivate", args(jane, None)).await);
    direct
        .run(|c| redis::cmd("DEL").arg(format!("{prefix}plan-key")).exec(c))
        .expect("DEL");
    let lost = client_a.err("deactivate", args(jane, Some(&p2))).await;
    assert!(
        lost.contains(&format!(
            "plan {p2} was signed with a key the state store no longer has"
        )) && lost.contains("without plan_id"),
        "{lost}"
    );
    let listed = b.run(&["approve", &p2]).await;
    let said = String::from_utf8_lossy(&listed.stderr);
    assert!(
        !listed.status.success() && said.contains("no longer has"),
        "{said}"
    );
    assert!(sim.user(jane, "draft").await.is_some(), "nothing ran");
    // And new plans work at once, the other way round (a membership change: deletions are
    // paced at one a minute).
    let change = json!({ "user": jane, "groups": ["Sales"] });
    let p3 = plan(&client_b.ok("remove_from_group", change.clone()).await);
    let approved = a.approve(&p3, &p3).await;
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stdout)
    );
    let mut with_plan = change;
    with_plan["plan_id"] = json!(p3);
    let done = client_a.ok("remove_from_group", with_plan).await;
    assert_eq!(done["status"], "executed", "{done}");
    client_a.close().await;
    client_b.close().await;
}

/// Two replicas writing to one tenant at the same time, the simulator enforcing the documented
/// ZIA limits: the shared budget keeps their combined pace under the limit, so the tenant sends
/// no 429 at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_through_two_replicas_meet_no_429() {
    let Some(url) = redis_url("concurrent_writes_through_two_replicas_meet_no_429") else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = zscaler_lifecycle_mcp::sim::Sim::start(zscaler_lifecycle_mcp::sim::SimOptions {
        zia_limits: Some(zscaler_lifecycle_mcp::sim::ZiaLimits::documented()),
        ..Default::default()
    })
    .await
    .expect("sim");
    let prefix = fresh_prefix();
    let replica = |state: RedisState| {
        let c = sim.credentials().clone();
        zscaler_lifecycle_mcp::provider::zia::ZiaProvider::new(
            zscaler_lifecycle_mcp::provider::zia::ZiaConfig {
                base_url: sim.base_url(),
                auth: zscaler_lifecycle_mcp::provider::zia::ZiaAuth::Session {
                    username: c.username,
                    password: Secret::new(c.password),
                    api_key: Secret::new(c.api_key),
                },
                timeout: Duration::from_secs(10),
                rate_limits: Some(zscaler_lifecycle_mcp::provider::zia::RateBudget::documented()),
                session_timeout: zscaler_lifecycle_mcp::provider::zia::DEFAULT_SESSION_TIMEOUT,
            },
        )
        .expect("provider")
        .with_shared_state(state, &sim.base_url())
    };
    let a = replica(redis(&url, &prefix));
    let b = replica(redis(&url, &prefix));
    use zscaler_lifecycle_mcp::model::GroupRef;
    use zscaler_lifecycle_mcp::provider::Provider;
    let sales = || GroupRef {
        id: "88003".into(),
        name: "Sales".into(),
    };
    let (ra, rb) = tokio::join!(
        async {
            for id in ["70010", "70011"] {
                a.change_groups(id, &[sales()], &[]).await?;
            }
            Ok::<(), zscaler_lifecycle_mcp::provider::ProviderError>(())
        },
        async {
            for id in ["70012", "70013"] {
                b.change_groups(id, &[sales()], &[]).await?;
            }
            Ok::<(), zscaler_lifecycle_mcp::provider::ProviderError>(())
        }
    );
    ra.expect("replica A writes");
    rb.expect("replica B writes");
    let log: Value = reqwest::get(format!("{}/__sim/requests", sim.base_url()))
        .await
        .expect("sim")
        .json()
        .await
        .expect("json");
    assert!(log["by_status"].get("429").is_none(), "no 429: {log}");
    assert_eq!(log["by_route"]["PUT /api/v1/users/{id}"], 4, "{log}");
}

const HTTP_TOKEN: &str = "replica-test-token-0123456789";
/// Another caller's token.
const OTHER_HTTP_TOKEN: &str = "another-replica-caller-98765";

/// A replica serving stateless Streamable HTTP on a free loopback port; its `/mcp` URL.
async fn http_replica(env: &Env) -> (String, tokio::process::Child) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let bind = format!("127.0.0.1:{port}");
    let child = env
        .command(&[
            "serve",
            "--transport",
            "http",
            "--stateless",
            "--bind",
            &bind,
        ])
        .env(
            "ZSCALER_LIFECYCLE_MCP_TOKENS",
            format!("ops:{HTTP_TOKEN},other:{OTHER_HTTP_TOKEN}"),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn replica");
    let started = Instant::now();
    while std::net::TcpStream::connect(&bind).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replica did not listen"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (format!("http://{bind}/mcp"), child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_on_one_replica_is_polled_and_cancelled_through_another() {
    if redis_url("a_task_started_on_one_replica_is_polled_and_cancelled_through_another").is_none()
    {
        return;
    }
    let prefix = fresh_prefix();
    let sim = SimProc::start().await;
    let state = redis_state_table(&prefix);
    let a = replica(&sim, &state, None);
    let b = replica(&sim, &state, None);
    let (url_a, _ra) = http_replica(&a).await;
    let (url_b, _rb) = http_replica(&b).await;
    let fault = |f: Value| {
        let url = format!("{}/__sim/faults", sim.url);
        async move {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::new()
                .post(url)
                .json(&f)
                .send()
                .await
                .expect("queue a fault")
        }
    };
    let call = json!({"name": "audit_orphans", "arguments": {}});

    // Slow, then done: started through A, its result read through B.
    fault(json!([{"route": "GET /api/v1/users", "latency_ms": 2500, "count": 1}])).await;
    let started = post_modern(&url_a, HTTP_TOKEN, "tools/call", call.clone(), true).await;
    let id = started["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {started}"))
        .to_string();
    let mut done = Value::Null;
    for _ in 0..300 {
        done = post_modern(&url_b, HTTP_TOKEN, "tasks/get", json!({"taskId": id}), true).await;
        assert!(done["error"].is_null(), "replica B knows A's task: {done}");
        if done["result"]["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["result"]["status"], "completed", "{done}");
    assert!(
        done["result"]["result"]["structuredContent"]["users_scanned"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{done}"
    );

    // Stuck, then cancelled through B: A's work stops.
    fault(
        json!([{"route": "GET /api/v1/users", "kind": "timeout", "latency_ms": 60000, "count": 1}]),
    )
    .await;
    let started = post_modern(&url_a, HTTP_TOKEN, "tools/call", call, true).await;
    let id = started["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {started}"))
        .to_string();
    let ack = post_modern(
        &url_b,
        HTTP_TOKEN,
        "tasks/cancel",
        json!({"taskId": id}),
        true,
    )
    .await;
    assert!(ack["error"].is_null(), "{ack}");
    let mut status = String::new();
    for _ in 0..100 {
        let r = post_modern(&url_b, HTTP_TOKEN, "tasks/get", json!({"taskId": id}), true).await;
        status = r["result"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "cancelled", "A stopped the work B cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_on_one_replica_is_served_by_another_for_its_caller_only() {
    if redis_url("a_session_opened_on_one_replica_is_served_by_another_for_its_caller_only")
        .is_none()
    {
        return;
    }
    let prefix = fresh_prefix();
    let sim = SimProc::start().await;
    let state = redis_state_table(&prefix);
    let a = replica(&sim, &state, None);
    let b = replica(&sim, &state, None);
    let (url_a, _ra) = http_replica(&a).await;
    let (url_b, _rb) = http_replica(&b).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let post = |url: &str, token: &str, session: Option<&str>, body: Value| {
        let mut r = http
            .post(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-11-25")
            .json(&body);
        if let Some(s) = session {
            r = r.header("Mcp-Session-Id", s);
        }
        r.send()
    };
    let init = post(
        &url_a,
        HTTP_TOKEN,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await
    .expect("answered");
    assert!(init.status().is_success(), "{}", init.status());
    let sid = init.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    drop(init);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    // Another caller cannot take the session over through the other replica.
    let hijack = post(&url_b, OTHER_HTTP_TOKEN, Some(&sid), list.clone())
        .await
        .expect("answered");
    assert_eq!(
        hijack.status(),
        404,
        "another token must not use this session"
    );
    // Its own caller is served by replica B, which never saw the session.
    let served = post(&url_b, HTTP_TOKEN, Some(&sid), list)
        .await
        .expect("answered");
    assert!(served.status().is_success(), "{}", served.status());
    let text = served.text().await.expect("body");
    assert!(text.contains("audit_orphans"), "{text}");
}

/// The deletion cap is one counter for every replica (and survives a replica's restart): two
/// replicas under a cap of 2 delete two accounts between them, not four.
#[tokio::test]
async fn the_deletion_cap_is_one_counter_for_every_replica() {
    if redis_url("the_deletion_cap_is_one_counter_for_every_replica").is_none() {
        return;
    }
    let sim = SimProc::start().await;
    let prefix = fresh_prefix();
    let a = replica(&sim, &redis_state_table(&prefix), None);
    let b = replica(&sim, &redis_state_table(&prefix), None);
    for env in [&a, &b] {
        let config = env.config.clone().expect("config");
        // Unpaced, so the shared DELETE budget (1 a minute) does not slow the test.
        let text = std::fs::read_to_string(&config)
            .expect("config")
            .replace(
                "protected_groups = [\"Admins\"]",
                "protected_groups = [\"Admins\"]\nmax_deletions_per_hour = 2",
            )
            .replace(
                "registered_domains = [",
                "rate_limits = false\nregistered_domains = [",
            );
        std::fs::write(&config, text).expect("write config");
    }
    let ca = a.connect(Human::Accepts).await;
    let cb = b.connect(Human::Accepts).await;
    let r = ca
        .ok("deactivate", json!({"user": "john.smith@acme.example"}))
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    let r = cb
        .ok("deactivate", json!({"user": "jane.doe@acme.example"}))
        .await;
    assert_eq!(r["status"], "executed", "{r}");
    for c in [&ca, &cb] {
        let msg = c
            .err("deactivate", json!({"user": "jdoe@acme.example"}))
            .await;
        assert!(msg.contains("cap of 2"), "{msg}");
    }
    ca.close().await;
    cb.close().await;
    let restarted = b.connect(Human::Accepts).await;
    let msg = restarted
        .err("deactivate", json!({"user": "jdoe@acme.example"}))
        .await;
    assert!(msg.contains("cap of 2"), "after a restart: {msg}");
    restarted.close().await;
    assert!(sim.user("jdoe@acme.example", "draft").await.is_some());
}

/// A staged change made while Redis was down still reaches the shared ledger: the replica says
/// so in the result, keeps the entry, and pushes it when Redis is back.
#[tokio::test]
async fn a_change_staged_while_redis_is_down_reaches_the_shared_ledger_later() {
    if redis_url("a_change_staged_while_redis_is_down_reaches_the_shared_ledger_later").is_none() {
        return;
    }
    let mut own = OwnRedis::start();
    let url = format!("redis://127.0.0.1:{}", own.port);
    let prefix = fresh_prefix();
    let a = Ledger::shared(redis(&url, &prefix));
    let b = Ledger::shared(redis(&url, &prefix));
    assert_eq!(a.record("zia-test", "deactivate", "first".into()), None);
    own.kill();
    let notice = a
        .record("zia-test", "deactivate", "while down".into())
        .expect("the result says the shared ledger missed it");
    assert!(notice.contains("shared activation ledger"), "{notice}");
    let port = own.port;
    let _back = OwnRedis::start_on(port);
    // Redis came back empty (no persistence): the replica re-adds what it staged while it was
    // down on its next contact.
    let seen: Vec<String> = a
        .pending("zia-test")
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert!(seen.contains(&"while down".to_string()), "{seen:?}");
    let seen_by_b: Vec<String> = b
        .pending("zia-test")
        .into_iter()
        .map(|e| e.summary)
        .collect();
    assert!(
        seen_by_b.contains(&"while down".to_string()),
        "{seen_by_b:?}"
    );
}

/// A state store reset (the ledger and its epoch gone) is told apart from an activation: each
/// replica re-adds what it staged, instead of calling its own changes another
/// administrator's; an activation through another replica still drops them.
#[tokio::test]
async fn a_reset_state_store_gets_each_replicas_staged_changes_back() {
    let Some(url) = redis_url("a_reset_state_store_gets_each_replicas_staged_changes_back") else {
        return;
    };
    let prefix = fresh_prefix();
    let a = Ledger::shared(redis(&url, &prefix));
    let b = Ledger::shared(redis(&url, &prefix));
    assert_eq!(a.record("zia-test", "deactivate", "from a".into()), None);
    assert_eq!(b.record("zia-test", "add_to_group", "from b".into()), None);
    // The reset: every key of this deployment is gone (FLUSHALL, scoped to the test's prefix).
    let r = redis(&url, &prefix);
    r.run(|c| {
        redis::cmd("DEL")
            .arg(r.key("ledger:zia-test"))
            .arg(r.key("ledger-epoch:zia-test"))
            .exec(c)
    })
    .expect("reset");
    let summaries = |l: &Ledger| -> Vec<String> {
        let mut s: Vec<String> = l
            .pending("zia-test")
            .into_iter()
            .map(|e| e.summary)
            .collect();
        s.sort();
        s
    };
    assert_eq!(summaries(&b), ["from b"], "b re-adds its own");
    assert_eq!(summaries(&a), ["from a", "from b"], "a re-adds its own");
    assert_eq!(summaries(&b), ["from a", "from b"]);
    // An activation through b: a's staged change is live, and a does not bring it back.
    b.clear("zia-test");
    assert!(a.pending("zia-test").is_empty());
    assert!(b.pending("zia-test").is_empty());
}
