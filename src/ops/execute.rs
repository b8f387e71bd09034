//! The one way from a tool to a tenant write.
//!
//! A tool sees its connection as a [`Tenant`]: every read of the backend, and no write. Writes
//! exist only on [`Writer`], which holds, for every write path that exists or is added later:
//! - `read_only` refuses;
//! - protection is decided on the **resolved** objects — the account as the tenant returned it
//!   (every identity it carries) and each group by its tenant id and name — so no spelling of
//!   an account or group gets past;
//! - deletions are reserved from the shared, persistent hourly budget before anything is sent;
//! - an intent record (with the full "before" state) is journaled and fsynced first: no
//!   journal, no write;
//! - the outcome is what the tenant shows afterwards: a lost or unreadable answer is read back,
//!   and only then reported and journaled as executed, not applied, or unknown.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::guard::caps::Reservation;
use crate::guard::plan::Plan;
use crate::guard::policy::quote;
use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
    UserUpdate, normalize_email,
};
use crate::provider::{Capabilities, Provider, ProviderError};

use super::write::{ConfirmationInfo, Verification};
use super::{App, Caller, Connection, ToolError, provider_error, record};

/// A connection's backend as tools see it: reads only.
#[derive(Clone)]
pub struct Tenant {
    inner: Arc<dyn Provider>,
}

impl Tenant {
    /// Wraps a backend; the only place that holds its write methods is this module.
    pub fn new(inner: Arc<dyn Provider>) -> Self {
        Self { inner }
    }

    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    /// Drops the connection's directory cache (see [`Provider::forget_cached`]).
    pub fn forget_cached(&self) {
        self.inner.forget_cached()
    }

    pub async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError> {
        self.inner.list_users(filter, page).await
    }

    pub async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        self.inner.get_user(id).await
    }

    pub async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        self.inner.find_users_by_email(email).await
    }

    /// Every account that answers to `key` by id or by any identity attribute.
    pub async fn find_users(&self, key: &str) -> Result<Vec<User>, ProviderError> {
        self.inner.find_users(key).await
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        self.inner.list_groups().await
    }

    pub async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        self.inner.list_departments().await
    }

    pub async fn activation_status(&self) -> Result<ActivationState, ProviderError> {
        self.inner.activation_status().await
    }

    pub async fn probe(&self) -> Result<String, ProviderError> {
        self.inner.probe().await
    }

    pub fn take_notices(&self) -> Vec<String> {
        self.inner.take_notices()
    }
}

/// What a write did, as the tenant shows it afterwards.
#[derive(Debug, Clone)]
pub(super) struct Written<T> {
    pub verification: Verification,
    /// The state read back (`None` when gone, or when it could not be read).
    pub after: Option<T>,
    /// The tenant's answer was lost and reading back could not tell whether it applied.
    pub unknown: bool,
    /// Things the person must hear (a lost answer settled by read-back, a journal failure).
    pub notices: Vec<String>,
}

impl<T> Written<T> {
    fn new(verification: Verification, after: Option<T>) -> Self {
        Self {
            verification,
            after,
            unknown: false,
            notices: Vec::new(),
        }
    }
}

/// Everything a write is done under: stamped on its journal records.
pub(super) struct Writer<'a> {
    pub app: &'a App,
    pub caller: &'a Caller,
    pub conn: &'a Connection,
    pub tool: &'a str,
    pub plan: Option<&'a Plan>,
    pub confirmation: &'a ConfirmationInfo,
}

/// A write whose outcome could not be read back, for [`Writer::uncertain`].
struct Uncertain<'a> {
    intent: &'a str,
    /// The tenant's answer itself was lost (else it answered, and only the read-back failed).
    lost: bool,
    why: String,
    /// Extra fields of the outcome record.
    fields: serde_json::Value,
    /// The activation ledger's line.
    summary: String,
    /// What may have happened, in words.
    what: String,
}

/// A change to one existing account, for [`Writer::settle_change`].
struct Change<'a> {
    intent: &'a str,
    before: &'a User,
    /// The tenant's answer itself was lost.
    lost: bool,
    /// The outcome record's `mode`, where the tool has several.
    mode: Option<&'static str>,
    /// The activation ledger's line.
    summary: String,
    /// What may have happened, in words.
    what: String,
}

/// What the read-back after a lost answer showed.
enum Settled<T> {
    /// The change is there.
    Applied(T),
    /// The target is as it was before: the write did not happen.
    NotApplied,
    /// Neither could be told.
    Unknown(String),
}

const LOST: &str = "the tenant's answer to the write was lost";

impl Writer<'_> {
    fn provider(&self) -> &dyn Provider {
        self.conn.provider.inner.as_ref()
    }

    fn plan_id(&self) -> Option<&str> {
        self.plan.map(|p| p.id.as_str())
    }

    /// Refuses in read_only mode and any write to a protected account or group.
    fn allowed(&self, user: Option<&User>, groups: &[&GroupRef]) -> Result<(), ToolError> {
        let policy = &self.app.policy;
        policy.check_write(self.tool).map_err(ToolError::refused)?;
        if let Some(u) = user {
            policy.check_user(u).map_err(ToolError::refused)?;
        }
        for g in groups {
            policy.check_group_ref(g).map_err(ToolError::refused)?;
        }
        Ok(())
    }

    /// Records the intent before the tenant hears of it; refuses when it cannot.
    fn intent(&self, op: &str, fields: serde_json::Value) -> Result<String, ToolError> {
        let mut body = json!({
            "outcome": "intent", "op": op, "plan_id": self.plan_id(),
            "confirmation": self.confirmation,
        });
        if let (Some(m), serde_json::Value::Object(extra)) = (body.as_object_mut(), fields) {
            m.extend(extra);
        }
        record::ahead(self.app, self.caller, self.tool, &self.conn.name, body)
    }

    /// Journals what happened after the tenant was asked; a failure becomes a notice.
    fn outcome(&self, intent: &str, fields: serde_json::Value, notices: &mut Vec<String>) {
        let mut body =
            json!({"intent": intent, "plan_id": self.plan_id(), "confirmation": self.confirmation});
        if let (Some(m), serde_json::Value::Object(extra)) = (body.as_object_mut(), fields) {
            m.extend(extra);
        }
        if let Some(n) = record::after(self.app, self.caller, self.tool, &self.conn.name, body) {
            notices.push(n);
        }
    }

    /// Journals a write the tenant refused (or that read-back showed did not happen) and turns
    /// it into the tool's error.
    fn failed(
        &self,
        intent: &str,
        what: &str,
        e: ProviderError,
        before: Option<&User>,
    ) -> ToolError {
        let err = provider_error(&self.conn.name, what, e);
        let mut notices = Vec::new();
        self.outcome(
            intent,
            json!({"outcome": "failed", "before": before, "error": err.message, "error_kind": err.kind}),
            &mut notices,
        );
        match notices.pop() {
            Some(n) => {
                let message = format!("{err} ({n})");
                err.with_message(message)
            }
            None => err,
        }
    }

    fn not_applied(&self, intent: &str, what: &str, before: Option<&User>) -> ToolError {
        self.failed(
            intent,
            what,
            ProviderError::Api {
                status: 0,
                code: None,
                message: format!("{LOST}, and reading the tenant back shows it did not happen; nothing changed — call again"),
            },
            before,
        )
    }

    /// Staged writes go into the activation ledger: certain ones as they are, uncertain ones
    /// marked so, because a write that may have happened may also wait for activation.
    fn ledger(&self, summary: String, unknown: bool, notices: &mut Vec<String>) {
        if self.conn.provider.capabilities().staged_changes {
            let summary = if unknown {
                format!("possibly (answer lost): {summary}")
            } else {
                summary
            };
            notices.extend(self.app.ledger.record(&self.conn.name, self.tool, summary));
        }
    }

    fn reserve(&self, count: usize) -> Result<Reservation, ToolError> {
        self.app
            .deletions
            .reserve(&self.conn.name, count)
            .map_err(ToolError::from)
    }

    /// Creates an account, verified by reading it back.
    pub async fn create_user(&self, new: &NewUser) -> Result<Written<User>, ToolError> {
        let groups: Vec<&GroupRef> = new.groups.iter().collect();
        self.allowed(None, &groups)?;
        self.app
            .policy
            .check_new_account(&new.email, &new.name)
            .map_err(ToolError::refused)?;
        let intent = self.intent(
            "create_user",
            json!({"new": {
                "name": new.name, "email": new.email, "department": new.department,
                "groups": new.groups, "comments": new.comments,
            }}),
        )?;
        let mut notices = Vec::new();
        let (settled, lost) = match self.provider().create_user(new).await {
            Ok(created) => match self.provider().get_user(&created.id).await {
                Ok(u) => (Settled::Applied(u), false),
                Err(e) => {
                    // Created for certain: the account is what the tenant answered, unverified.
                    notices.push(format!(
                        "User {} was created as id {}, but reading it back failed ({e}); call get_user to verify it.",
                        quote(&new.email),
                        created.id
                    ));
                    self.ledger(
                        format!("created user {} ({})", new.email, created.id),
                        false,
                        &mut notices,
                    );
                    self.outcome(
                        &intent,
                        json!({"outcome": "executed", "verification": Verification::Unknown, "after": created}),
                        &mut notices,
                    );
                    let mut w = Written::new(Verification::Unknown, Some(created));
                    w.notices = notices;
                    return Ok(w);
                }
            },
            Err(ProviderError::OutcomeUnknown { message }) => {
                match self.provider().find_users_by_email(&new.email).await {
                    Ok(found) => match found.into_iter().next() {
                        Some(u) => (Settled::Applied(u), true),
                        None => (Settled::NotApplied, true),
                    },
                    Err(e) => (
                        Settled::Unknown(format!(
                            "{LOST} ({message}) and reading back failed: {e}"
                        )),
                        true,
                    ),
                }
            }
            Err(e) => return Err(self.failed(&intent, "create_user", e, None)),
        };
        match settled {
            Settled::Applied(u) => {
                let mut want: Vec<&str> = new.groups.iter().map(|g| g.id.as_str()).collect();
                let mut got: Vec<&str> = u.groups.iter().map(|g| g.id.as_str()).collect();
                want.sort_unstable();
                got.sort_unstable();
                let ok = normalize_email(&u.email) == normalize_email(&new.email)
                    && u.name == new.name
                    && u.department.as_ref().map(|d| &d.id)
                        == new.department.as_ref().map(|d| &d.id)
                    && want == got;
                let verification = Verification::matched(ok);
                if lost {
                    notices.push(format!(
                        "The tenant's answer was lost; reading back shows user {} was created.",
                        quote(&new.email)
                    ));
                }
                self.ledger(
                    format!("created user {} ({})", new.email, u.id),
                    false,
                    &mut notices,
                );
                self.outcome(
                    &intent,
                    json!({"outcome": "executed", "verification": verification, "after": u}),
                    &mut notices,
                );
                let mut w = Written::new(verification, Some(u));
                w.notices = notices;
                Ok(w)
            }
            Settled::NotApplied => Err(self.not_applied(&intent, "create_user", None)),
            Settled::Unknown(why) => Ok(self.uncertain(
                Uncertain {
                    intent: &intent,
                    lost: true,
                    why,
                    fields: json!({}),
                    summary: format!("created user {}", new.email),
                    what: format!("the creation of user {}", quote(&new.email)),
                },
                notices,
            )),
        }
    }

    /// Adds and removes memberships of one resolved account, keeping every other attribute.
    pub async fn change_groups(
        &self,
        before: &User,
        add: &[GroupRef],
        remove: &[GroupRef],
        summary: String,
    ) -> Result<Written<User>, ToolError> {
        let groups: Vec<&GroupRef> = add.iter().chain(remove).collect();
        self.allowed(Some(before), &groups)?;
        let intent = self.intent(
            "change_groups",
            json!({"user": before.id, "before": before, "add": add, "remove": remove}),
        )?;
        let sent = self.provider().change_groups(&before.id, add, remove).await;
        let lost = match sent {
            Ok(_) => None,
            Err(ProviderError::OutcomeUnknown { message }) => Some(message),
            Err(e) => return Err(self.failed(&intent, self.tool, e, Some(before))),
        };
        let has = |u: &User, g: &GroupRef| u.groups.iter().any(|m| m.id == g.id);
        let settled = self
            .read_back(before, lost.as_deref(), |u| {
                (!add.is_empty() || !remove.is_empty())
                    && add.iter().all(|g| has(before, g) == has(u, g))
                    && remove.iter().all(|g| has(before, g) == has(u, g))
            })
            .await;
        let verified = |u: &User| {
            let kept = before
                .groups
                .iter()
                .filter(|g| !remove.iter().any(|r| r.id == g.id))
                .all(|g| has(u, g));
            kept && add.iter().all(|g| has(u, g)) && !remove.iter().any(|g| has(u, g))
        };
        self.settle_change(
            Change {
                intent: &intent,
                before,
                lost: lost.is_some(),
                mode: None,
                summary,
                what: format!("the change to {}", quote(&before.email)),
            },
            settled,
            verified,
            Vec::new(),
        )
    }

    /// Changes one resolved account (a mover): its name, department, comments and memberships
    /// in one backend call, every other attribute and membership kept. A change that stopped
    /// part-way is read back and reported as it stands (a mismatch, with what was done).
    pub async fn update_user(
        &self,
        before: &User,
        update: &UserUpdate,
        summary: String,
    ) -> Result<Written<User>, ToolError> {
        let groups: Vec<&GroupRef> = update
            .add_groups
            .iter()
            .chain(&update.remove_groups)
            .collect();
        self.allowed(Some(before), &groups)?;
        let intent = self.intent(
            "update_user",
            json!({"user": before.id, "before": before, "update": update}),
        )?;
        let mut notices = Vec::new();
        let lost = match self.provider().update_user(&before.id, update).await {
            Ok(_) => None,
            Err(ProviderError::OutcomeUnknown { message }) => Some(message),
            Err(ProviderError::Partial { message }) => {
                notices.push(format!(
                    "Only part of the change to {} was made: {message}. The state read back is shown; call update_user again to finish it.",
                    quote(&before.email)
                ));
                None
            }
            Err(e) => return Err(self.failed(&intent, self.tool, e, Some(before))),
        };
        let settled = self
            .read_back(before, lost.as_deref(), |u| {
                crate::guard::plan::user_fingerprint(u)
                    == crate::guard::plan::user_fingerprint(before)
                    && u.comments == before.comments
            })
            .await;
        let verified = |u: &User| {
            let kept = before
                .groups
                .iter()
                .filter(|g| !update.remove_groups.iter().any(|r| r.id == g.id))
                .all(|g| u.groups.iter().any(|m| m.id == g.id));
            kept && update.shown_by(u)
        };
        self.settle_change(
            Change {
                intent: &intent,
                before,
                lost: lost.is_some(),
                mode: None,
                summary,
                what: format!("the change to {}", quote(&before.email)),
            },
            settled,
            verified,
            notices,
        )
    }

    /// Undoes a disable: sets one resolved account active and adds it back to `add` (the groups
    /// it had that it lacks now), every other attribute kept. Verified when the account reads
    /// back active and in every one of them.
    pub async fn reactivate(
        &self,
        before: &User,
        add: &[GroupRef],
        summary: String,
    ) -> Result<Written<User>, ToolError> {
        let groups: Vec<&GroupRef> = add.iter().collect();
        self.allowed(Some(before), &groups)?;
        let intent = self.intent(
            "restore",
            json!({"user": before.id, "before": before, "add_groups": add}),
        )?;
        let mut notices = Vec::new();
        let mut lost = None;
        if before.active == Some(false) {
            match self.provider().set_active(&before.id, true).await {
                Ok(_) => {}
                Err(ProviderError::OutcomeUnknown { message }) => lost = Some(message),
                Err(e) => return Err(self.failed(&intent, self.tool, e, Some(before))),
            }
        }
        if !add.is_empty() {
            let update = UserUpdate {
                add_groups: add.to_vec(),
                ..UserUpdate::default()
            };
            match self.provider().update_user(&before.id, &update).await {
                Ok(_) => {}
                Err(ProviderError::OutcomeUnknown { message }) => lost = Some(message),
                Err(e) => notices.push(format!(
                    "{} was set active, but adding its groups back failed ({e}); the state read back is shown — call restore_user again to finish.",
                    quote(&before.email)
                )),
            }
        }
        let settled = self
            .read_back(before, lost.as_deref(), |u| {
                crate::guard::plan::user_fingerprint(u)
                    == crate::guard::plan::user_fingerprint(before)
            })
            .await;
        let verified = |u: &User| {
            u.active != Some(false) && add.iter().all(|g| u.groups.iter().any(|m| m.id == g.id))
        };
        self.settle_change(
            Change {
                intent: &intent,
                before,
                lost: lost.is_some(),
                mode: Some("restore"),
                summary,
                what: format!("the restore of {}", quote(&before.email)),
            },
            settled,
            verified,
            notices,
        )
    }

    /// Deletes one resolved account (or, with `disable`, sets it inactive), counted against the
    /// deletion cap when it removes the account.
    pub async fn take_away(
        &self,
        before: &User,
        disable: bool,
        counts_as_deletion: bool,
        summary: String,
    ) -> Result<Written<User>, ToolError> {
        self.allowed(Some(before), &[])?;
        let mut reservation = if counts_as_deletion {
            Some(self.reserve(1)?)
        } else {
            None
        };
        let op = if disable { "disable" } else { "delete" };
        let intent = match self.intent(op, json!({"user": before.id, "before": before})) {
            Ok(i) => i,
            Err(e) => {
                self.release(reservation.as_mut(), 1);
                return Err(e);
            }
        };
        let sent = if disable {
            self.provider()
                .set_active(&before.id, false)
                .await
                .map(|_| ())
        } else {
            self.provider().delete_user(&before.id).await
        };
        let lost = match sent {
            Ok(()) => None,
            Err(ProviderError::OutcomeUnknown { message }) => Some(message),
            Err(e) => {
                self.release(reservation.as_mut(), 1);
                return Err(self.failed(&intent, "deactivate", e, Some(before)));
            }
        };
        let settled = match self.provider().get_user(&before.id).await {
            Err(ProviderError::NotFound { .. }) => Settled::Applied(None),
            Ok(u) if disable && u.active == Some(false) => Settled::Applied(Some(u)),
            Ok(u)
                if lost.is_some()
                    && crate::guard::plan::user_fingerprint(&u)
                        == crate::guard::plan::user_fingerprint(before) =>
            {
                Settled::NotApplied
            }
            Ok(u) => Settled::Applied(Some(u)),
            Err(e) => Settled::Unknown(match &lost {
                Some(m) => format!("{LOST} ({m}) and reading back failed: {e}"),
                None => format!("the tenant accepted it, but reading the account back failed: {e}"),
            }),
        };
        let mut notices = Vec::new();
        match settled {
            Settled::Applied(after) => {
                let verification = Verification::matched(match &after {
                    None => true,
                    Some(u) => disable && u.active == Some(false),
                });
                if verification == Verification::Mismatch && !disable {
                    // Still there after a delete: it was not deleted, so it does not count.
                    self.release(reservation.as_mut(), 1);
                }
                if lost.is_some() {
                    notices.push(format!(
                        "The tenant's answer was lost; reading {} back shows the change was made.",
                        quote(&before.email)
                    ));
                }
                self.ledger(summary, false, &mut notices);
                self.outcome(
                    &intent,
                    json!({"outcome": "executed", "mode": op, "verification": verification, "before": before, "after": after}),
                    &mut notices,
                );
                let mut w = Written::new(verification, after);
                w.notices = notices;
                Ok(w)
            }
            Settled::NotApplied => {
                self.release(reservation.as_mut(), 1);
                Err(self.not_applied(&intent, "deactivate", Some(before)))
            }
            Settled::Unknown(why) => Ok(self.uncertain(
                Uncertain {
                    intent: &intent,
                    lost: lost.is_some(),
                    why,
                    fields: json!({"mode": op, "before": before}),
                    summary,
                    what: format!("the {op} of {}", quote(&before.email)),
                },
                notices,
            )),
        }
    }

    /// Reads one changed account back: the change is there, or — where the tenant's answer was
    /// lost and the account reads as it was (`unchanged`) — it did not happen, or neither can
    /// be told.
    async fn read_back(
        &self,
        before: &User,
        lost: Option<&str>,
        unchanged: impl Fn(&User) -> bool,
    ) -> Settled<User> {
        match self.provider().get_user(&before.id).await {
            Ok(u) if lost.is_some() && unchanged(&u) => Settled::NotApplied,
            Ok(u) => Settled::Applied(u),
            Err(e) => Settled::Unknown(match lost {
                Some(m) => format!("{LOST} ({m}) and reading back failed: {e}"),
                None => format!("the tenant accepted the change, but reading it back failed: {e}"),
            }),
        }
    }

    /// Ends a change to one existing account as its read-back showed it: executed (verified
    /// when `verified` holds of the account read back, else a mismatch), not applied, or
    /// unknown — journaled and in the ledger whichever it is.
    fn settle_change(
        &self,
        change: Change<'_>,
        settled: Settled<User>,
        verified: impl Fn(&User) -> bool,
        mut notices: Vec<String>,
    ) -> Result<Written<User>, ToolError> {
        let Change {
            intent,
            before,
            lost,
            mode,
            summary,
            what,
        } = change;
        let with_mode = |mut fields: serde_json::Value| {
            if let (Some(m), Some(mode)) = (fields.as_object_mut(), mode) {
                m.insert("mode".into(), json!(mode));
            }
            fields
        };
        match settled {
            Settled::Applied(u) => {
                let verification = Verification::matched(verified(&u));
                if lost {
                    notices.push(format!(
                        "The tenant's answer was lost; reading {} back shows the change was made.",
                        quote(&before.email)
                    ));
                }
                self.ledger(summary, false, &mut notices);
                self.outcome(
                    intent,
                    with_mode(json!({"outcome": "executed", "verification": verification, "before": before, "after": u})),
                    &mut notices,
                );
                let mut w = Written::new(verification, Some(u));
                w.notices = notices;
                Ok(w)
            }
            Settled::NotApplied => Err(self.not_applied(intent, self.tool, Some(before))),
            Settled::Unknown(why) => Ok(self.uncertain(
                Uncertain {
                    intent,
                    lost,
                    why,
                    fields: with_mode(json!({"before": before})),
                    summary,
                    what,
                },
                notices,
            )),
        }
    }

    /// A write whose effect reading back could not establish: staged as possible, journaled as
    /// `unknown` when the tenant's answer was lost (else as executed, unverified), and told.
    fn uncertain<T>(&self, u: Uncertain<'_>, mut notices: Vec<String>) -> Written<T> {
        let Uncertain {
            intent,
            lost,
            why,
            fields,
            summary,
            what,
        } = u;
        self.ledger(summary, lost, &mut notices);
        let mut body = json!({
            "outcome": if lost { "unknown" } else { "executed" },
            "verification": Verification::Unknown, "error": why,
        });
        if let (Some(m), serde_json::Value::Object(extra)) = (body.as_object_mut(), fields) {
            m.extend(extra);
        }
        self.outcome(intent, body, &mut notices);
        if lost {
            notices.push(format!(
                "Whether {what} happened is unknown: {why}. Read the state (get_user) before trying again."
            ));
        }
        let mut w = Written::new(Verification::Unknown, None);
        w.unknown = lost;
        w.notices = notices;
        w
    }

    fn release(&self, reservation: Option<&mut Reservation>, count: usize) {
        if let Some(r) = reservation {
            self.app.deletions.release(r, count);
        }
    }

    /// Deletes several resolved accounts with the backend's bulk call. The caller reads back
    /// which are gone and hands that to [`Writer::settle_bulk`].
    pub async fn delete_many(&self, users: &[User]) -> Result<BulkSent, ToolError> {
        for u in users {
            self.allowed(Some(u), &[])?;
        }
        let mut reservation = self.reserve(users.len())?;
        let intent = match self.intent("delete_users", json!({"users": users})) {
            Ok(i) => i,
            Err(e) => {
                self.app.deletions.release(&mut reservation, users.len());
                return Err(e);
            }
        };
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        let error = self
            .provider()
            .delete_users(&ids)
            .await
            .err()
            .map(|e| provider_error(&self.conn.name, "deleting users", e));
        Ok(BulkSent {
            intent,
            reservation,
            error,
        })
    }

    /// Journals each account's outcome after a bulk delete, from what the read-back showed
    /// (`present`: the ids still there, or why the tenant could not be read), and gives back
    /// the budget of every account still present.
    pub fn settle_bulk(
        &self,
        mut sent: BulkSent,
        users: &[User],
        present: Result<&BTreeSet<String>, &ToolError>,
    ) -> Vec<BulkOutcome> {
        let mut out = Vec::new();
        let mut notices = Vec::new();
        let still = users
            .iter()
            .filter(|u| present.is_ok_and(|p| p.contains(&u.id)))
            .count();
        self.app.deletions.release(&mut sent.reservation, still);
        for u in users {
            let (outcome, verification) = match present {
                Ok(p) if !p.contains(&u.id) => ("executed", Verification::Verified),
                Ok(_) => ("failed", Verification::Mismatch),
                Err(_) => ("unknown", Verification::Unknown),
            };
            if outcome != "failed" {
                self.ledger(
                    format!("delete user {} ({})", u.email, u.id),
                    outcome == "unknown",
                    &mut notices,
                );
            }
            self.outcome(
                &sent.intent,
                json!({
                    "outcome": outcome, "mode": "delete", "verification": verification,
                    "before": u, "after": null, "batch": users.len(),
                    "error": sent.error.as_ref().map(|e| &e.message),
                    "error_kind": sent.error.as_ref().map(|e| e.kind),
                    "read_back_error": present.err().map(|e| &e.message),
                }),
                &mut notices,
            );
            out.push(BulkOutcome {
                outcome,
                verification,
            });
        }
        if let Some(n) = notices.into_iter().next() {
            tracing::warn!("{n}");
        }
        out
    }

    /// Activates the tenant's staged changes, verified by reading the status back.
    pub async fn activate(
        &self,
        staged: &serde_json::Value,
    ) -> Result<Written<ActivationState>, ToolError> {
        self.allowed(None, &[])?;
        let intent = self.intent("activate", json!({"activating": staged}))?;
        let lost = match self.provider().activate().await {
            Ok(_) => None,
            Err(ProviderError::OutcomeUnknown { message }) => Some(message),
            Err(e) => return Err(self.failed(&intent, "activate_changes", e, None)),
        };
        let mut notices = Vec::new();
        match self.provider().activation_status().await {
            Ok(ActivationState::Pending) if lost.is_some() => {
                Err(self.not_applied(&intent, "activate_changes", None))
            }
            Ok(status) => {
                let verification = Verification::matched(status != ActivationState::Pending);
                self.app.ledger.clear(&self.conn.name);
                self.outcome(
                    &intent,
                    json!({"outcome": "executed", "verification": verification, "activated": staged}),
                    &mut notices,
                );
                let mut w = Written::new(verification, Some(status));
                w.notices = notices;
                Ok(w)
            }
            Err(e) => {
                let why = format!("reading the activation status back failed: {e}");
                if lost.is_none() {
                    self.app.ledger.clear(&self.conn.name);
                }
                self.outcome(
                    &intent,
                    json!({"outcome": if lost.is_some() { "unknown" } else { "executed" }, "verification": Verification::Unknown, "error": why}),
                    &mut notices,
                );
                let mut w = Written::new(Verification::Unknown, None);
                w.unknown = lost.is_some();
                w.notices = notices;
                Ok(w)
            }
        }
    }
}

/// A bulk delete that was sent; settle it with [`Writer::settle_bulk`].
#[must_use]
pub(super) struct BulkSent {
    intent: String,
    reservation: Reservation,
    /// The bulk call's own error, if it reported one (read-back decides each account).
    pub error: Option<ToolError>,
}

/// One account's outcome in a bulk delete.
#[derive(Debug, Clone, Copy)]
pub(super) struct BulkOutcome {
    /// `executed`, `failed` or `unknown`.
    pub outcome: &'static str,
    pub verification: Verification,
}
