//! `completion/complete`: suggestions for prompt arguments and resource-template arguments,
//! from the configuration and the tenant's directory — connection names, group names,
//! department names, emails by prefix, the caller's audit report ids.
//!
//! Cheap by construction: one tenant read per request at most (a prefix search for emails,
//! one listing for groups or departments, kept for a minute per connection), never a scan.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rmcp::ErrorData;
use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference};

use crate::model::{PageRequest, UserFilter};
use crate::ops::App;
use crate::orphans::report::ReportStore;

/// Suggestions returned at most (the protocol allows 100; a person reads far fewer).
const MAX: usize = 20;
/// How long group and department names are reused before the tenant is read again.
const NAMES_TTL: Duration = Duration::from_secs(60);

/// What a completion argument stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Connection,
    /// A connection name, or `all` (deactivate everywhere).
    ConnectionOrAll,
    Email,
    /// A comma-separated list of group names: the last item is completed.
    GroupList,
    Department,
    ReportId,
}

/// The argument kinds of each prompt, and of the audit report template.
fn kind(reference: &Reference, argument: &str) -> Result<Option<Kind>, ErrorData> {
    match reference {
        Reference::Prompt(p) => {
            let kind = match (p.name.as_str(), argument) {
                ("offboard_user" | "mover", "user") | ("onboard_user", "email") => {
                    Some(Kind::Email)
                }
                ("offboard_user", "connection") => Some(Kind::ConnectionOrAll),
                ("onboard_user" | "mover" | "access_review", "connection") => {
                    Some(Kind::Connection)
                }
                ("onboard_user" | "mover", "department") => Some(Kind::Department),
                ("onboard_user" | "mover", "groups") => Some(Kind::GroupList),
                ("offboard_user" | "onboard_user" | "mover" | "access_review", _) => None,
                (name, _) => {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "no prompt named '{name}'; prompts: offboard_user, onboard_user, mover, access_review"
                        ),
                        None,
                    ));
                }
            };
            Ok(kind)
        }
        Reference::Resource(r) => {
            if r.uri == super::resources::AUDIT_TEMPLATE {
                Ok((argument == "id").then_some(Kind::ReportId))
            } else {
                Err(ErrorData::invalid_params(
                    format!(
                        "no resource template '{}'; templates: {}",
                        r.uri,
                        super::resources::AUDIT_TEMPLATE
                    ),
                    None,
                ))
            }
        }
        other => Err(ErrorData::invalid_params(
            format!("completion for {} is not supported", other.reference_type()),
            None,
        )),
    }
}

/// Names read from a tenant, by (connection, departments rather than groups), with when.
type NameCache = HashMap<(String, bool), (Instant, Vec<String>)>;

/// Group and department names per (connection, kind), read at most once a minute.
#[derive(Default)]
pub struct Completer {
    names: Mutex<NameCache>,
}

impl Completer {
    /// Answers one `completion/complete` for `principal`.
    pub async fn complete(
        &self,
        app: &App,
        principal: &str,
        request: &CompleteRequestParams,
    ) -> Result<CompleteResult, ErrorData> {
        let typed = request.argument.value.as_str();
        let context = |name: &str| {
            request
                .context
                .as_ref()
                .and_then(|c| c.arguments.as_ref())
                .and_then(|a| a.get(name))
                .map(String::as_str)
                .filter(|v| !v.trim().is_empty())
        };
        let values = match kind(&request.r#ref, &request.argument.name)? {
            None => Vec::new(),
            Some(Kind::Connection) => connections(app, false),
            Some(Kind::ConnectionOrAll) => connections(app, true),
            Some(Kind::ReportId) => ReportStore::for_owner(&app.state_dir, principal)
                .list()
                .into_iter()
                .map(|r| r.id)
                .collect(),
            Some(Kind::Email) => {
                // Suggest only once something is typed: an empty prefix would list the tenant.
                if typed.trim().is_empty() {
                    Vec::new()
                } else {
                    self.emails(app, context("connection"), typed).await
                }
            }
            Some(Kind::GroupList) => {
                let (done, last) = match typed.rsplit_once(',') {
                    Some((done, last)) => (format!("{done}, "), last.trim_start()),
                    None => (String::new(), typed.trim_start()),
                };
                let picked: Vec<String> = done
                    .split(',')
                    .map(|g| g.trim().to_lowercase())
                    .filter(|g| !g.is_empty())
                    .collect();
                let matches = matching(self.names(app, context("connection"), false).await, last);
                let values: Vec<String> = matches
                    .into_iter()
                    .filter(|g| !picked.contains(&g.to_lowercase()))
                    .map(|g| format!("{done}{g}"))
                    .collect();
                return result(values);
            }
            Some(Kind::Department) => self.names(app, context("connection"), true).await,
        };
        result(matching(values, typed))
    }

    async fn emails(&self, app: &App, connection: Option<&str>, prefix: &str) -> Vec<String> {
        let Some(conn) = pick(app, connection) else {
            return Vec::new();
        };
        let filter = UserFilter {
            email_prefix: Some(prefix.trim().to_string()),
            ..UserFilter::default()
        };
        let page = PageRequest {
            cursor: None,
            limit: MAX,
        };
        match conn.provider.list_users(&filter, &page).await {
            Ok(page) => page.items.into_iter().map(|u| u.email).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "no email completions");
                Vec::new()
            }
        }
    }

    /// Group (or department) names of a connection, from the cache when fresh.
    async fn names(&self, app: &App, connection: Option<&str>, departments: bool) -> Vec<String> {
        let Some(conn) = pick(app, connection) else {
            return Vec::new();
        };
        let key = (conn.name.clone(), departments);
        if let Some((at, names)) = self.cache().get(&key)
            && at.elapsed() < NAMES_TTL
        {
            return names.clone();
        }
        let read = if departments {
            conn.provider
                .list_departments()
                .await
                .map(|d| d.into_iter().map(|d| d.name).collect::<Vec<_>>())
        } else {
            conn.provider
                .list_groups()
                .await
                .map(|g| g.into_iter().map(|g| g.name).collect::<Vec<_>>())
        };
        match read {
            Ok(mut names) => {
                names.sort_by_key(|n| n.to_lowercase());
                names.dedup();
                self.cache().insert(key, (Instant::now(), names.clone()));
                names
            }
            Err(e) => {
                tracing::debug!(error = %e, "no name completions");
                Vec::new()
            }
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, NameCache> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The connection a completion is about: the one already chosen, else the first configured.
fn pick<'a>(app: &'a App, connection: Option<&str>) -> Option<&'a crate::ops::Connection> {
    app.connection(connection)
        .ok()
        .or_else(|| app.connections.values().next())
}

fn connections(app: &App, with_all: bool) -> Vec<String> {
    let mut names: Vec<String> = app.connections.keys().cloned().collect();
    if with_all && names.len() > 1 {
        names.push("all".into());
    }
    names
}

/// The values starting with `typed` (case-insensitive), then those containing it.
fn matching(values: Vec<String>, typed: &str) -> Vec<String> {
    let t = typed.trim().to_lowercase();
    let (mut starts, contains): (Vec<String>, Vec<String>) = values
        .into_iter()
        .filter(|v| v.to_lowercase().contains(&t))
        .partition(|v| v.to_lowercase().starts_with(&t));
    starts.extend(contains);
    starts
}

fn result(values: Vec<String>) -> Result<CompleteResult, ErrorData> {
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX).collect();
    let info = CompletionInfo::with_pagination(
        shown,
        Some(u32::try_from(total).unwrap_or(u32::MAX)),
        total > MAX,
    )
    .map_err(|e| ErrorData::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_come_first_and_case_does_not_matter() {
        let v = vec![
            "Sales EMEA".to_string(),
            "Engineering".to_string(),
            "Pre-Sales".to_string(),
        ];
        assert_eq!(matching(v.clone(), "sal"), ["Sales EMEA", "Pre-Sales"]);
        assert_eq!(matching(v, "").len(), 3);
    }

    #[test]
    fn unknown_prompts_and_templates_are_invalid_params() {
        let e = kind(&Reference::for_prompt("nope"), "x").expect_err("unknown");
        assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        let e = kind(&Reference::for_resource("file:///{x}"), "x").expect_err("unknown");
        assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert_eq!(
            kind(&Reference::for_prompt("onboard_user"), "name").expect("known"),
            None
        );
        assert_eq!(
            kind(&Reference::for_resource("audit://{id}.csv"), "id").expect("known"),
            Some(Kind::ReportId)
        );
    }
}
