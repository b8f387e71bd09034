//! `zscaler-lifecycle-mcp`: the command line. Thin: parse, set up logging, dispatch.

mod cli;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// MCP server for the Zscaler user lifecycle (ZIA), with a human guardrail on every destructive
/// change. With no config it serves an embedded demo tenant.
#[derive(Debug, Parser)]
#[command(
    name = "zscaler-lifecycle-mcp",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("ZLM_GIT_COMMIT"), ")"),
    about,
    long_about = None
)]
struct Cli {
    /// Log format on stderr: human-readable text, or one JSON object per line for log pipelines.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Config file (TOML). Without one, `serve` and `call` use the embedded demo tenant.
    #[arg(long, global = true, env = "ZSCALER_LIFECYCLE_MCP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdio (what desktop and IDE clients launch) or Streamable HTTP (remote).
    ///
    /// Example: zscaler-lifecycle-mcp serve --config ~/.config/zscaler-lifecycle-mcp.toml
    /// Example: ZSCALER_LIFECYCLE_MCP_TOKENS=ops:$(openssl rand -hex 24) zscaler-lifecycle-mcp serve --transport http
    Serve {
        /// `stdio` or `http` (Streamable HTTP at /mcp, health at /healthz and /readyz).
        #[arg(long, default_value = "stdio", value_parser = ["stdio", "http"])]
        transport: String,
        /// HTTP listen address. A non-loopback address requires bearer tokens.
        #[arg(long, default_value = "127.0.0.1:8765")]
        bind: std::net::SocketAddr,
        /// HTTP: no sessions, one JSON answer per request (for replicas behind a load balancer).
        #[arg(long)]
        stateless: bool,
        /// HTTP: file of `name:token` lines; also read from ZSCALER_LIFECYCLE_MCP_TOKENS.
        #[arg(long)]
        tokens_file: Option<PathBuf>,
        /// HTTP: accepted Host header besides the loopback names, which are always accepted
        /// (repeatable).
        #[arg(long)]
        allowed_host: Vec<String>,
        /// HTTP: accepted browser Origin (repeatable; default http://localhost:* and http://127.0.0.1:*).
        #[arg(long)]
        allowed_origin: Vec<String>,
        /// HTTP: requests per second per caller (token), bursts up to twice that; beyond, 429.
        #[arg(long, default_value_t = 20)]
        per_caller_rps: u32,
        /// HTTP: stateful sessions held at most (Streamable HTTP and legacy SSE together);
        /// beyond, a new session gets 503. Default: sized for this machine's memory and open-file
        /// limit.
        #[arg(long)]
        max_sessions: Option<usize>,
        /// HTTP: a session with no request in flight for this many seconds is closed.
        #[arg(long, default_value_t = 300)]
        session_idle_timeout_secs: u64,
    },
    /// Call one tool from the terminal and print its result as JSON.
    ///
    /// Example: zscaler-lifecycle-mcp call list_users --args '{"name_prefix":"jane"}'
    /// Example: zscaler-lifecycle-mcp call audit_orphans --args '{"source_of_record":"hr"}' --html audit.html
    Call {
        /// Tool name (list_users, get_user, deactivate, …).
        tool: String,
        /// Tool arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// audit_orphans and reconcile: write the full report (every finding; every change and its outcome) to this CSV file.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// audit_orphans only: write a self-contained HTML report (summary, chart, every finding).
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Approve a pending plan as a human, at a terminal. Without an id, lists pending plans
    /// and the approvals each still needs. With --web, serves a local approval page instead.
    /// With [approvers] configured, approve as a named approver with --as NAME (your secret is
    /// asked without echo). Never let an agent run this.
    ///
    /// Example: zscaler-lifecycle-mcp approve p-1a2b3c4d
    /// Example: zscaler-lifecycle-mcp approve p-1a2b3c4d --as jane
    /// Example: zscaler-lifecycle-mcp approve --web
    Approve {
        /// The plan id a tool returned (p-xxxxxxxx).
        #[arg(conflicts_with = "web")]
        plan_id: Option<String>,
        /// Approve as this named approver ([approvers.NAME] in the config).
        #[arg(
            long = "as",
            value_name = "NAME",
            requires = "plan_id",
            conflicts_with = "web"
        )]
        as_name: Option<String>,
        /// With --as: read your secret from this file instead of typing it.
        #[arg(long, value_name = "FILE", requires = "as_name")]
        secret_file: Option<PathBuf>,
        /// Serve an approval page on loopback and print its secret URL (http://127.0.0.1:PORT/?k=…).
        #[arg(long)]
        web: bool,
        /// With --web: loopback address to listen on (port 0 picks a free one).
        #[arg(long, requires = "web", default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
        /// With --web: exit after the first approval.
        #[arg(long, requires = "web")]
        once: bool,
    },
    /// Named approvers: print the hash of an approver's secret for the config.
    Approvers {
        #[command(subcommand)]
        action: ApproversAction,
    },
    /// Run the ZIA tenant simulator on 127.0.0.1 and print its URL and demo credentials.
    ///
    /// Example: zscaler-lifecycle-mcp sim --bind 127.0.0.1:9000
    Sim {
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
        /// Admin session idle timeout in seconds (a real tenant allows 5–20 minutes).
        #[arg(long, default_value_t = 300)]
        session_idle_timeout_secs: u64,
        /// Data set: demo (fixed), large (100,000 users) or orphans (demo plus drift cases).
        #[arg(long, default_value = "demo")]
        scenario: zscaler_lifecycle_mcp::sim::Scenario,
        /// Seed of the scenario's generated data; the same seed gives the same tenant.
        #[arg(long, default_value_t = zscaler_lifecycle_mcp::sim::DEFAULT_SEED)]
        seed: u64,
        /// Enforce the documented ZIA rate limits (GET 2/s, POST/PUT 1/s, DELETE 1/min, …).
        #[arg(long)]
        limits: bool,
        /// Enforce the documented limits multiplied by N (e.g. 20: POST/PUT 20/s and 8000/h),
        /// to exercise pacing quickly; implies --limits.
        #[arg(long, value_name = "N")]
        limits_scale: Option<u32>,
        /// Report the remaining budget in x-ratelimit-limit/-remaining/-reset headers on every
        /// answer (as OneAPI does) instead of only a Retry-After on 429s; implies --limits.
        #[arg(long)]
        rate_headers: bool,
        /// Write the scenario's HR export (CSV work_email,status,end_date,aliases,external_id,manager) here; orphans only.
        #[arg(long)]
        hr_export: Option<PathBuf>,
        /// Keep the tenant in this JSON file: loaded on start if present, saved after writes.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Check the configuration and log in to every connection (changes nothing; secrets are
    /// never printed).
    ///
    /// Example: zscaler-lifecycle-mcp check --config ~/.config/zscaler-lifecycle-mcp.toml
    Check,
    /// Write a commented config file (secrets as env references, never values).
    ///
    /// Example: zscaler-lifecycle-mcp init --kind oneapi --kind zpa-scim --output ~/.config/zscaler-lifecycle-mcp.toml
    Init {
        /// Where to write it; stdout when omitted.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Connection kinds to include (repeatable); native ZIA when omitted.
        #[arg(long = "kind", value_enum)]
        kinds: Vec<cli::init::InitKind>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print shell completions.
    ///
    /// Example: zscaler-lifecycle-mcp completions bash > /etc/bash_completion.d/zscaler-lifecycle-mcp
    Completions { shell: clap_complete::Shell },
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Work with the audit journal.
    Journal {
        #[command(subcommand)]
        action: JournalAction,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print the JSON Schema of the config file, for editors and CI (taplo, VS Code "Even
    /// Better TOML": `#:schema ./config.schema.json` at the top of the file).
    ///
    /// Example: zscaler-lifecycle-mcp config schema > config.schema.json
    Schema,
}

#[derive(Debug, Subcommand)]
enum ApproversAction {
    /// Ask for a secret twice without echo and print the line for `[approvers.NAME]`: with
    /// `--as NAME`, `public_key = "ed25519:..."` (recommended: approvals are then signed with a
    /// key only the secret derives); without, `secret_hash = "$argon2id$..."`. The secret
    /// itself is never stored or printed.
    ///
    /// Example: zscaler-lifecycle-mcp approvers hash --as jane
    Hash {
        /// Read the secret from this file instead of the terminal.
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// The approver's name: print their public key instead of a hash.
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum JournalAction {
    /// Check every chain: links, MACs (journal key), segments, repairs and heads. Detects
    /// edited, removed, reordered or re-chained records, a cut tail, an emptied or missing
    /// file, and a head that does not match. Exit 0: intact; 2: broken.
    ///
    /// Example: zscaler-lifecycle-mcp journal verify
    Verify {
        /// One chain file (its head beside it); default: every chain in the state directory.
        #[arg(long)]
        file: Option<PathBuf>,
        /// For an archived copy without its head: check links and MACs only (a cut tail cannot
        /// show).
        #[arg(long, requires = "file")]
        no_head: bool,
    },
}

/// The log filter when RUST_LOG is not set: `call` on a terminal shows warnings only (the
/// person wants the result); text logs keep rmcp's own INFO lines (whole peer-info dumps) out;
/// JSON logs are unchanged (info).
fn default_log_filter(cli: &Cli) -> &'static str {
    let stderr_tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if cli.log_format == "json" {
        "info"
    } else if matches!(cli.command, Command::Call { .. }) && stderr_tty {
        "warn"
    } else {
        "info,rmcp=warn"
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr: on stdio, stdout is the protocol channel.
    // Plan tokens and secrets are redacted from every line (libraries dump whole messages).
    // A tool call's events also reach its MCP client when it asked for them.
    zscaler_lifecycle_mcp::logs::init(cli.log_format == "json", default_log_filter(&cli));
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(
                *shell,
                &mut cmd,
                "zscaler-lifecycle-mcp",
                &mut std::io::stdout(),
            );
            return std::process::ExitCode::SUCCESS;
        }
        Command::Config {
            action: ConfigAction::Schema,
        } => {
            let schema = zscaler_lifecycle_mcp::config::Config::json_schema();
            return match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    println!("{text}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Approvers {
            action: ApproversAction::Hash { secret_file, name },
        } => {
            return match cli::approve::hash(secret_file.as_deref(), name.as_deref()) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Init {
            output,
            force,
            kinds,
        } => {
            return match cli::init::run(output.as_deref(), *force, kinds) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let config = cli.config;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                transport,
                bind,
                stateless,
                tokens_file,
                allowed_host,
                allowed_origin,
                per_caller_rps,
                max_sessions,
                session_idle_timeout_secs,
            } => {
                if transport == "http" {
                    let http = cli::serve::HttpArgs {
                        bind,
                        stateless,
                        tokens_file,
                        allowed_hosts: allowed_host,
                        allowed_origins: allowed_origin,
                        per_caller_rps,
                        max_sessions,
                        session_idle: std::time::Duration::from_secs(
                            session_idle_timeout_secs.max(1),
                        ),
                    };
                    cli::serve::run_http(config.as_deref(), http).await
                } else {
                    cli::serve::run(config.as_deref()).await
                }
            }
            Command::Call {
                tool,
                args,
                csv,
                html,
            } => {
                let reports = cli::call::Reports {
                    csv: csv.clone(),
                    html: html.clone(),
                };
                cli::call::run(config.as_deref(), &tool, &args, &reports).await
            }
            Command::Check => cli::check::run(config.as_deref()).await,
            Command::Approve {
                plan_id,
                as_name,
                secret_file,
                web,
                bind,
                once,
            } => {
                if web {
                    let args = cli::approve_web::WebArgs { bind, once };
                    cli::approve_web::run(config.as_deref(), args).await
                } else {
                    let args = cli::approve::CliArgs {
                        plan_id: plan_id.as_deref(),
                        as_name: as_name.as_deref(),
                        secret_file: secret_file.as_deref(),
                    };
                    cli::approve::run(config.as_deref(), &args)
                }
            }
            Command::Sim {
                bind,
                session_idle_timeout_secs,
                scenario,
                seed,
                limits,
                limits_scale,
                rate_headers,
                hr_export,
                state,
            } => {
                cli::sim::run(cli::sim::SimArgs {
                    bind,
                    idle_secs: session_idle_timeout_secs,
                    scenario,
                    seed,
                    limits,
                    limits_scale,
                    rate_headers,
                    hr_export,
                    state,
                })
                .await
            }
            Command::Journal {
                action: JournalAction::Verify { file, no_head },
            } => cli::journal::verify(config.as_deref(), file.as_deref(), no_head),
            Command::Init { .. }
            | Command::Completions { .. }
            | Command::Config { .. }
            | Command::Approvers { .. } => Ok(std::process::ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
