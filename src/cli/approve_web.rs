//! `approve --web`: a local approval page, the third way a person confirms a destructive plan
//! (besides the MCP client's own confirmation dialog and `approve` at a terminal).
//!
//! Like `approve`, it is a separate process that a *person* starts: an agent that holds only MCP
//! tools cannot reach it, and an agent must never start it. A browser is not a terminal, so the
//! protections differ from the CLI's TTY check:
//! - it listens on loopback only, so nothing off this machine can reach it;
//! - every request must carry a per-process random secret (printed once, inside the URL),
//!   compared in constant time, so another local process or a web page that finds the port
//!   gets a 403 and no plan data;
//! - the Host header must name the loopback address it listens on (or `localhost`), so a
//!   DNS-rebinding page cannot talk to it under a foreign name; a foreign Origin is refused;
//! - approving means retyping the plan id, as at the terminal, so a stray click approves nothing;
//! - with named approvers (`[approvers]`), the form also takes the approver's name and secret,
//!   checked like `approve --as NAME` (Argon2id, constant time); the page's own secret alone
//!   then approves nothing;
//! - tenant-originated text is HTML-escaped and a strict Content-Security-Policy forbids scripts,
//!   frames and foreign form targets, so a user name carrying markup is shown as text.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;
use zscaler_lifecycle_mcp::guard::plan::Plan;
use zscaler_lifecycle_mcp::guard::rfc3339;
use zscaler_lifecycle_mcp::guard::store::Approver;
use zscaler_lifecycle_mcp::secret::Secret;

/// The channel name in the journal: which way the person approved.
pub const CHANNEL: &str = "approve-web";

/// Scripts, images, frames, fonts: none. Inline styles only; forms post only back to this server.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

/// What `approve --web` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct WebArgs {
    /// Where to listen; must be a loopback address.
    pub bind: SocketAddr,
    /// Exit after the first approval (scripts and tests).
    pub once: bool,
}

/// The server's state, shared by every request.
struct Web {
    state: super::approve::ApprovalState,
    /// Hex of 32 random bytes; every request must present it.
    secret: String,
    /// Host header values that name this server: its address and `localhost`, with the port.
    hosts: Vec<String>,
    /// The OS account that started the page (its real uid, looked up).
    os_account: String,
    once: bool,
    stop: CancellationToken,
}

/// Starts the page and serves it until Ctrl-C, SIGTERM or (with `--once`) the first approval.
pub async fn run(config: Option<&Path>, args: WebArgs) -> anyhow::Result<ExitCode> {
    if !args.bind.ip().is_loopback() {
        anyhow::bail!(
            "approve --web listens on loopback only (127.0.0.1 or [::1]) so that nothing off this machine can approve; refusing {}",
            args.bind
        );
    }
    let state = super::approve::open_state(config)?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("listening on {}", args.bind))?;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    let secret = new_secret();
    let stop = CancellationToken::new();
    let web = Arc::new(Web {
        state,
        secret: secret.clone(),
        hosts: allowed_hosts(addr),
        os_account: super::approve::os_account(),
        once: args.once,
        stop: stop.clone(),
    });
    let url = format!("http://{addr}/?k={secret}");
    // The URL alone on stdout, so a person's script (or a test) can read it; words on stderr.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")
            .and_then(|_| out.flush())
            .context("printing the URL")?;
    }
    eprintln!(
        "Approval page: open {url} in your browser to review and approve pending plans.\n\
         Anyone holding this URL can approve: keep it to yourself. Never let an agent run this command. {}",
        if args.once {
            "It stops after one approval."
        } else {
            "Ctrl-C stops it."
        }
    );
    let signal = stop.clone();
    tokio::spawn(async move {
        super::serve::wait_for_stop_signal().await;
        signal.cancel();
    });
    axum::serve(listener, router(web))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .context("serving the approval page")?;
    Ok(ExitCode::SUCCESS)
}

fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/approve", post(approve))
        .layer(middleware::from_fn_with_state(
            web.clone(),
            same_origin_only,
        ))
        .layer(middleware::map_response(security_headers))
        .with_state(web)
}

/// 32 random bytes, hex: unguessable, and safe in a URL and an HTML attribute.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The Host values a browser sends when it really is talking to this server.
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    vec![addr.to_string(), format!("localhost:{}", addr.port())]
}

/// Every response, refusals included: no scripts, no framing, never cached, and no Referer to
/// any other origin (the URL carries the secret).
///
/// The referrer policy is `same-origin`, not `no-referrer`: under `no-referrer` browsers send
/// `Origin: null` with the form's POST (Fetch standard; Chromium does), which would make the
/// Origin check refuse every real approval, or, if `null` were accepted, useless. `same-origin`
/// still never sends the URL anywhere but back to this server.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// DNS rebinding and cross-site requests: the Host must name this server, and an Origin, when
/// the browser sends one, must be this server's own.
async fn same_origin_only(State(web): State<Arc<Web>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host_ok = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| web.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
    if !host_ok {
        return refusal(
            StatusCode::FORBIDDEN,
            "This page answers only on its own loopback address.",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = origin.to_str().ok().is_some_and(|o| {
            web.hosts
                .iter()
                .any(|h| o.eq_ignore_ascii_case(&format!("http://{h}")))
        });
        if !same {
            return refusal(
                StatusCode::FORBIDDEN,
                "Requests from other sites are refused.",
            );
        }
    }
    next.run(req).await
}

/// Constant time, so the secret cannot be found byte by byte from response timings.
fn secret_ok(web: &Web, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(web.secret.as_bytes())))
}

/// The first value of a field in a query string or form body; later duplicates are ignored.
fn field(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /?k=SECRET`: the pending plans, each with its approval form.
async fn index(State(web): State<Arc<Web>>, uri: Uri) -> Response {
    let k = field(uri.query().unwrap_or("").as_bytes(), "k");
    if !secret_ok(&web, k.as_deref()) {
        return forbidden();
    }
    let plans: Vec<(Plan, String)> = web
        .state
        .store
        .pending()
        .into_iter()
        .map(|p| {
            let progress = super::approve::progress(&web.state.store, &p);
            (p, progress)
        })
        .collect();
    let named = !web.state.approvers.is_empty();
    html(StatusCode::OK, &render_index(&plans, &web.secret, named))
}

/// `POST /approve` (form fields `k`, `plan_id`, `confirm`, and with named approvers
/// `approver` and `secret`): approves a live plan when the person retyped its id (and, with
/// named approvers, gave their name and secret). The page says exactly what happened.
async fn approve(State(web): State<Arc<Web>>, body: Bytes) -> Response {
    if !secret_ok(&web, field(&body, "k").as_deref()) {
        return forbidden();
    }
    let not_approved = |status: StatusCode, text: &str| {
        html(
            status,
            &render_message("Not approved", &escape(text), Some(&web.secret)),
        )
    };
    let plan_id = field(&body, "plan_id").unwrap_or_default();
    let plan_id = plan_id.trim();
    let confirm = field(&body, "confirm").unwrap_or_default();
    if plan_id.is_empty() || confirm.trim() != plan_id {
        return not_approved(
            StatusCode::BAD_REQUEST,
            &format!(
                "The id you typed does not match plan {plan_id}, so it was not approved and nothing will change. Type the plan id exactly as shown to approve it."
            ),
        );
    }
    let plan = match web.state.store.load_live(plan_id) {
        Ok(plan) => plan,
        Err(e) => return not_approved(StatusCode::CONFLICT, &e.to_string()),
    };
    let who = if web.state.approvers.is_empty() {
        Approver::os_account(&web.os_account, CHANNEL)
    } else {
        let name = field(&body, "approver").unwrap_or_default();
        let secret = Secret::new(field(&body, "secret").unwrap_or_default());
        let check = web.clone();
        let name_for_check = name.trim().to_string();
        // Argon2id is slow on purpose: off the async workers.
        let verified = tokio::task::spawn_blocking(move || {
            check.state.approvers.verify(&name_for_check, &secret)
        })
        .await;
        match verified {
            Ok(Ok(v)) => Approver::named(&v, &web.os_account, CHANNEL),
            Ok(Err(e)) => {
                tracing::warn!(plan = %plan.id, approver = %name.trim(), "web approval refused: {e}");
                return not_approved(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "Plan {} was not approved: {e}. Nothing will change. Enter your approver name and your own secret.",
                        plan.id
                    ),
                );
            }
            Err(e) => {
                return not_approved(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!(
                        "Plan {} was not approved: checking the secret failed ({e}).",
                        plan.id
                    ),
                );
            }
        }
    };
    let recorded = {
        let web = web.clone();
        let plan = plan.clone();
        let who = who.clone();
        tokio::task::spawn_blocking(move || {
            super::approve::record_approval(&web.state, &plan, &who)
        })
        .await
    };
    let approval = match recorded {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            tracing::error!(plan = %plan.id, error = %format!("{e:#}"), "recording a web approval failed");
            return not_approved(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}"));
        }
        Err(e) => {
            return not_approved(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("not approved: recording the approval failed ({e})"),
            );
        }
    };
    tracing::info!(plan = %plan.id, approver = %approval.approver, os_account = %web.os_account, "approved via the web page");
    if web.once {
        web.stop.cancel();
    }
    let have = web
        .state
        .store
        .approvals(&plan)
        .map(|l| l.len())
        .unwrap_or(1);
    let by = if approval.is_named() {
        format!(
            "Approved by {} (OS account {}) via web.",
            escape(&approval.approver),
            escape(&web.os_account)
        )
    } else {
        format!("Approved by {} via web.", escape(&approval.approver))
    };
    let next = if (have as u32) < plan.approvals() {
        format!(
            "Plan <code>{}</code> needs {} distinct approvers and has {have}: another approver must approve it before the agent can call <code>{}</code> again (until {} UTC).",
            escape(&plan.id),
            plan.approvals(),
            escape(&plan.tool),
            escape(&rfc3339(plan.expires_at)),
        )
    } else {
        format!(
            "The agent can now call <code>{}</code> again with plan_id <code>{}</code> (until {} UTC).",
            escape(&plan.tool),
            escape(&plan.id),
            escape(&rfc3339(plan.expires_at)),
        )
    };
    let body = format!("<p id=\"result\">{by} {next}</p>");
    let back = if web.once {
        None
    } else {
        Some(web.secret.as_str())
    };
    html(StatusCode::OK, &render_message("Approved", &body, back))
}

fn forbidden() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "Forbidden: this page needs the secret link printed by `approve --web`.",
    )
}

/// A refusal carries no plan data, only a fixed sentence.
fn refusal(status: StatusCode, sentence: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        sentence,
    )
        .into_response()
}

fn html(status: StatusCode, page: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        page.to_string(),
    )
        .into_response()
}

use zscaler_lifecycle_mcp::html::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
section.plan{border:1px solid #bbb;border-radius:6px;padding:0.5rem 1rem;margin:1rem 0}\
code{background:#f2f2f2;padding:0 0.2rem}.note{color:#555}\
button{background:#b00020;color:#fff;border:0;border-radius:4px;padding:0.4rem 1rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} — zscaler-lifecycle-mcp</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// The list of pending plans. Only the secret (hex) and escaped text are interpolated.
fn render_index(plans: &[(Plan, String)], secret: &str, named: bool) -> String {
    let mut body = String::from(
        "<h1>Plans waiting for your approval</h1>\n<p class=\"note\">An AI agent proposed these changes. Approve only what you asked for: read each change, then type the plan id to approve it. Names and emails come from the tenant and are shown in quotes, as data.</p>\n",
    );
    if plans.is_empty() {
        body.push_str(
            "<p id=\"none\">No plans are waiting for approval. Reload this page after the agent proposes one.</p>\n",
        );
    }
    for (plan, progress) in plans {
        body.push_str(&render_plan(plan, progress, secret, named));
    }
    page("Pending plans", &body)
}

fn render_plan(plan: &Plan, progress: &str, secret: &str, named: bool) -> String {
    let id = escape(&plan.id);
    let mut out = format!(
        "<section class=\"plan\" id=\"plan-{id}\">\n<h2>Plan <code class=\"plan-id\">{id}</code>: <code>{}</code> on connection <code>{}</code></h2>\n<ul class=\"changes\">\n",
        escape(&plan.tool),
        escape(&plan.connection)
    );
    for change in &plan.changes {
        out.push_str(&format!("<li>{}</li>\n", escape(change)));
    }
    out.push_str("</ul>\n<p>Targets:</p>\n<ul class=\"targets\">\n");
    for t in &plan.targets {
        out.push_str(&format!(
            "<li>{} {} (id <code>{}</code>)</li>\n",
            escape(&t.kind),
            escape(&t.label),
            escape(&t.id)
        ));
    }
    let who = if named {
        format!(
            "<label>Approver name: <input type=\"text\" name=\"approver\" id=\"approver-{id}\" autocomplete=\"username\" spellcheck=\"false\" required></label> \
             <label>Your approver secret: <input type=\"password\" name=\"secret\" id=\"secret-{id}\" autocomplete=\"current-password\" required></label> "
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "</ul>\n<p class=\"progress\">{}</p>\n<p>Expires {} UTC.</p>\n\
         <form method=\"post\" action=\"/approve\">\
         <input type=\"hidden\" name=\"k\" value=\"{}\">\
         <input type=\"hidden\" name=\"plan_id\" value=\"{id}\">\
         <label>Type the plan id to approve it: <input type=\"text\" name=\"confirm\" id=\"confirm-{id}\" autocomplete=\"off\" spellcheck=\"false\" required></label> \
         {who}<button type=\"submit\" id=\"approve-{id}\">Approve</button></form>\n</section>\n",
        escape(progress),
        escape(&rfc3339(plan.expires_at)),
        escape(secret),
    ));
    out
}

/// A result page. `body_html` must already be escaped; `back` links to the list when the
/// server keeps running.
fn render_message(title: &str, body_html: &str, back: Option<&str>) -> String {
    let mut body = format!("<h1>{}</h1>\n{body_html}\n", escape(title));
    match back {
        Some(secret) => body.push_str(&format!(
            "<p><a href=\"/?k={}\">Back to the pending plans</a></p>\n",
            escape(secret)
        )),
        None => body.push_str(
            "<p class=\"note\">This approval page has stopped; you can close the tab.</p>\n",
        ),
    }
    page(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zscaler_lifecycle_mcp::guard::plan::PlanTarget;

    fn plan(name: &str) -> Plan {
        Plan {
            id: "p-0123abcd".into(),
            tool: "deactivate".into(),
            connection: "zia-test".into(),
            arguments: serde_json::json!({"user": "1"}),
            input: String::new(),
            caller: "local".into(),
            changes: vec![format!("Delete user {name:?} \"x@acme.example\" (id 1)")],
            targets: vec![PlanTarget {
                kind: "user".into(),
                id: "1".into(),
                label: "x@acme.example".into(),
                fingerprint: "f".into(),
            }],
            created_at: 0,
            expires_at: 600,
            approvals_required: 1,
        }
    }

    #[test]
    fn escape_neutralises_markup_and_attribute_breakouts() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn plan_text_from_the_tenant_is_rendered_as_text() {
        let html = render_index(
            &[(
                plan("<script>alert(1)</script> \"><img src=x>"),
                "Approvals: none yet".into(),
            )],
            "ab",
            true,
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("id=\"approve-p-0123abcd\""));
        assert!(html.contains("name=\"k\" value=\"ab\""));
        assert!(html.contains("type=\"password\" name=\"secret\""), "{html}");
    }

    #[test]
    fn hosts_name_the_bound_address_and_localhost() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert_eq!(allowed_hosts(v4), ["127.0.0.1:8080", "localhost:8080"]);
        let v6: SocketAddr = "[::1]:8080".parse().expect("addr");
        assert_eq!(allowed_hosts(v6), ["[::1]:8080", "localhost:8080"]);
    }

    #[test]
    fn secrets_are_32_random_bytes_in_hex() {
        let a = new_secret();
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, new_secret());
    }
}
