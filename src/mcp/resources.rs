//! MCP resources: the full findings of audit_orphans runs (`audit://ID.csv`) and the changes and
//! outcomes of reconcile runs (`reconcile://ID.csv`), each bound to the caller that ran them,
//! and the templates that describe their URIs.

use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};

use crate::ops::App;
use crate::orphans::report::{RECONCILE_SCHEME, ReportError, ReportStore};

/// The URI template of audit reports; `id` comes from an audit_orphans result.
pub const AUDIT_TEMPLATE: &str = "audit://{id}.csv";
/// The URI template of reconcile reports; `id` comes from a reconcile result's `report`.
pub const RECONCILE_TEMPLATE: &str = "reconcile://{id}.csv";

/// The caller's newest audit and reconcile reports; another caller's are never listed.
pub fn list(app: &App, principal: &str) -> ListResourcesResult {
    let audits = ReportStore::for_owner(&app.state_dir, principal)
        .list()
        .into_iter()
        .map(|r| {
            Resource::new(r.uri, format!("audit_orphans report {}", r.id))
                .with_description("Every finding of an audit_orphans run, as CSV")
                .with_mime_type("text/csv")
                .with_size(r.size)
        });
    let reconciles = ReportStore::reconcile_for_owner(&app.state_dir, principal)
        .list()
        .into_iter()
        .map(|r| {
            Resource::new(r.uri, format!("reconcile report {}", r.id))
                .with_description(
                    "Every change of a reconcile plan, or every outcome of its run, as CSV",
                )
                .with_mime_type("text/csv")
                .with_size(r.size)
        });
    ListResourcesResult::with_all_items(audits.chain(reconciles).collect())
}

/// The kinds of resource this server serves, as URI templates.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(AUDIT_TEMPLATE, "audit_report")
            .with_title("Audit report")
            .with_description(
                "Every finding of an audit_orphans run you started, as CSV (rule, severity, kind, \
                 id, label, evidence, suggested_call); the id is in the run's `report` field.",
            )
            .with_mime_type("text/csv"),
        ResourceTemplate::new(RECONCILE_TEMPLATE, "reconcile_report")
            .with_title("Reconcile report")
            .with_description(
                "Every change of a reconcile plan, or every outcome once it ran, as CSV \
                 (connection, kind, email, user_id, change, outcome, detail); the id is in the \
                 result's `report` field.",
            )
            .with_mime_type("text/csv"),
    ])
}

/// Reads one of the caller's reports. A report that does not exist, or belongs to another
/// caller, is not found (the same answer, so ids are not confirmed), with the URI in `data`.
pub fn read(app: &App, principal: &str, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let store = if uri.starts_with(RECONCILE_SCHEME) {
        ReportStore::reconcile_for_owner(&app.state_dir, principal)
    } else {
        ReportStore::for_owner(&app.state_dir, principal)
    };
    match store.read(uri) {
        Ok(text) => Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, uri.to_string()).with_mime_type("text/csv"),
        ])),
        Err(ReportError::NotFound(msg)) => Err(ErrorData::resource_not_found(
            msg,
            Some(serde_json::json!({ "uri": uri })),
        )),
        Err(e) => Err(ErrorData::internal_error(
            e.to_string(),
            Some(serde_json::json!({ "uri": uri })),
        )),
    }
}
