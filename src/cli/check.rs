//! `check`: is the configuration complete, and does every connection log in?

use std::path::Path;
use std::process::ExitCode;

pub async fn run(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Loading resolves every secret reference and says which one is missing.
    let running = super::start(config).await?;
    let mut failed = 0;
    for (name, conn) in &running.app.connections {
        // A read that logs in and touches the API without changing anything.
        match conn.provider.probe().await {
            Ok(what) => println!("ok    {name}: {what}"),
            Err(e) => {
                failed += 1;
                println!("FAIL  {name}: {e}");
            }
        }
        for notice in conn.provider.take_notices() {
            println!("note  {name}: {notice}");
        }
    }
    println!(
        "state directory: {} (plans, approvals, journal)",
        running.app.state_dir.display()
    );
    if let Some(sim) = running.demo_sim {
        sim.shutdown().await;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
