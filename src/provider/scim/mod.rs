//! A SCIM 2.0 (RFC 7643/7644) provider, with the two Zscaler flavours: ZIA SCIM and ZPA SCIM.
//!
//! Nothing here relies on Zscaler beyond what the flavour switches: the base URL is taken
//! verbatim from configuration (the admin portal's "SCIM endpoint"), paging follows the RFC's
//! 1-based `startIndex`/`count` with the `totalResults` stop rule, memberships change through
//! `PatchOp` on the group (or a read-modify-write `PUT` for servers without PATCH, found through
//! `/ServiceProviderConfig` or a 501 answer), and responses are read leniently (see `wire`).
//!
//! SCIM applies changes at once: there is no staging and nothing to activate. On ZIA SCIM,
//! `active: false` may delete the account, so deactivation there counts as destructive.

mod client;
pub mod filter;
mod wire;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use crate::model::{
    ActivationState, Department, Group, GroupRef, NewUser, Page, PageRequest, User, UserFilter,
};
use crate::provider::{Capabilities, Provider, ProviderError, ProviderKind};
use crate::secret::Secret;
use client::ScimClient;

/// Most resources per page: Zscaler's SCIM servers cap `count` at 100.
const PAGE: usize = 100;

/// Which Zscaler product's SCIM server this is; changes only the destructive-ness of disable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimFlavor {
    /// ZIA SCIM (`https://scim.<cloud>.net/<orgId>/<idpId>/scim`); `active:false` may delete.
    Zia,
    /// ZPA SCIM (`https://scim1.private.zscaler.com/scim/1/<idpId>/v2`).
    Zpa,
}

/// How group memberships and `active` are changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PatchMode {
    /// Ask `/ServiceProviderConfig`; if it does not say, try PATCH and fall back to PUT on 501.
    Auto,
    /// Always RFC 7644 `PatchOp`.
    Patch,
    /// Always read-modify-write with `PUT`.
    Put,
}

/// Settings of one SCIM connection.
pub struct ScimConfig {
    pub flavor: ScimFlavor,
    /// The SCIM base URL exactly as the admin portal shows it.
    pub base_url: String,
    pub token: Secret,
    pub timeout: Duration,
    /// Requests per second; Zscaler documents 5. `None` turns pacing off.
    pub requests_per_second: Option<u32>,
    pub patch: PatchMode,
}

/// The PATCH decision, once made: 0 = not yet known, 1 = PATCH, 2 = PUT.
const PATCH_UNKNOWN: u8 = 0;
const PATCH_YES: u8 = 1;
const PATCH_NO: u8 = 2;

/// A SCIM 2.0 endpoint.
pub struct ScimProvider {
    flavor: ScimFlavor,
    client: ScimClient,
    patch: AtomicU8,
}

/// Cursor of a user listing: the next `startIndex` and how many of that page were consumed.
fn encode_cursor(start: usize, offset: usize) -> String {
    format!("scim1.{start}.{offset}")
}

fn decode_cursor(cursor: Option<&str>) -> Result<(usize, usize), ProviderError> {
    let Some(c) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok((1, 0));
    };
    let bad = || ProviderError::Invalid {
        message: format!(
            "cursor {c:?} is not one this server issued; pass next_cursor exactly as returned, or omit it to start over"
        ),
    };
    let parts: Vec<&str> = c.split('.').collect();
    match parts.as_slice() {
        ["scim1", start, offset] => {
            let start: usize = start.parse().ok().filter(|s| *s >= 1).ok_or_else(bad)?;
            let offset: usize = offset.parse().map_err(|_| bad())?;
            Ok((start, offset))
        }
        _ => Err(bad()),
    }
}

/// Path segment for an id: SCIM ids are opaque, so anything that is not a plain segment
/// character is percent-encoded rather than trusted.
fn seg(id: &str) -> Result<String, ProviderError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(ProviderError::Invalid {
            message: "empty id".into(),
        });
    }
    Ok(id
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect())
}

fn expect_body(v: Option<Value>, what: &str) -> Result<Value, ProviderError> {
    v.ok_or_else(|| ProviderError::Decode {
        message: format!("{what}: the server answered with an empty body"),
    })
}

impl ScimProvider {
    /// No network here: discovery happens on first use.
    pub fn new(cfg: ScimConfig) -> Result<Self, ProviderError> {
        let patch = match cfg.patch {
            PatchMode::Auto => PATCH_UNKNOWN,
            PatchMode::Patch => PATCH_YES,
            PatchMode::Put => PATCH_NO,
        };
        Ok(Self {
            flavor: cfg.flavor,
            client: ScimClient::new(
                &cfg.base_url,
                cfg.token,
                cfg.timeout,
                cfg.requests_per_second,
            )?,
            patch: AtomicU8::new(patch),
        })
    }

    /// Whether to use PATCH, asking the server once when configured `auto`.
    async fn use_patch(&self) -> bool {
        match self.patch.load(Ordering::SeqCst) {
            PATCH_YES => true,
            PATCH_NO => false,
            _ => {
                let said = match self
                    .client
                    .send(Method::GET, "/ServiceProviderConfig", &[], None)
                    .await
                {
                    Ok(Some(v)) => wire::patch_supported(v),
                    _ => None,
                };
                match said {
                    Some(false) => {
                        self.patch.store(PATCH_NO, Ordering::SeqCst);
                        false
                    }
                    Some(true) => {
                        self.patch.store(PATCH_YES, Ordering::SeqCst);
                        true
                    }
                    // Unknown: try PATCH; a 501 will switch to PUT for good.
                    None => true,
                }
            }
        }
    }

    /// Sends a PatchOp; `Ok(None)` means the server refused PATCH itself and PUT is needed.
    async fn try_patch(
        &self,
        path: &str,
        operations: Value,
    ) -> Result<Option<Option<Value>>, ProviderError> {
        if !self.use_patch().await {
            return Ok(None);
        }
        let body = json!({"schemas": [wire::PATCH_OP], "Operations": operations});
        match self
            .client
            .send(Method::PATCH, path, &[], Some(&body))
            .await
        {
            Ok(v) => {
                self.patch.store(PATCH_YES, Ordering::SeqCst);
                Ok(Some(v))
            }
            Err(ProviderError::Unsupported { what }) => {
                tracing::info!(detail = %what, "SCIM server refused PATCH; using PUT from now on");
                self.patch.store(PATCH_NO, Ordering::SeqCst);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ProviderError> {
        expect_body(
            self.client.send(Method::GET, path, query, None).await?,
            path,
        )
    }

    /// One page of a collection: `(resources, total)`.
    async fn page(
        &self,
        path: &str,
        start: usize,
        extra: &[(&str, String)],
    ) -> Result<(Vec<Value>, Option<usize>), ProviderError> {
        let mut query: Vec<(&str, String)> = vec![
            ("startIndex", start.to_string()),
            ("count", PAGE.to_string()),
        ];
        query.extend(extra.iter().cloned());
        let list = wire::list(self.get_json(path, &query).await?)?;
        let total = list.total();
        Ok((list.resources.unwrap_or_default(), total))
    }

    /// Every resource of a collection, page by page, with the RFC stop rule: stop on an empty
    /// page or once `startIndex` passes `totalResults` (servers may return fewer than `count`).
    async fn all(&self, path: &str, extra: &[(&str, String)]) -> Result<Vec<Value>, ProviderError> {
        let mut out = Vec::new();
        let mut start = 1;
        loop {
            let (batch, total) = self.page(path, start, extra).await?;
            let n = batch.len();
            out.extend(batch);
            start += n;
            if n == 0 || total.is_none_or(|t| start > t) {
                return Ok(out);
            }
        }
    }

    async fn raw_user(&self, id: &str) -> Result<Value, ProviderError> {
        self.get_json(&format!("/Users/{}", seg(id)?), &[]).await
    }

    /// A user with memberships; servers that do not list groups on users are asked per group.
    /// Accounts whose `attrs` equal `key` (one `eq` filter each), de-duplicated, each checked
    /// on our side too: a server that ignores the filter must not make us pick the wrong
    /// person.
    async fn find_by_attributes(
        &self,
        key: &str,
        attrs: &[&str],
    ) -> Result<Vec<User>, ProviderError> {
        let mut out: Vec<User> = Vec::new();
        for attr in attrs {
            let hits = self
                .all("/Users", &[("filter", filter::eq(attr, key))])
                .await?;
            for raw in hits {
                let user = self.user_with_groups(raw).await?;
                if user.answers_to(key) && !out.iter().any(|x| x.id == user.id) {
                    out.push(user);
                }
            }
        }
        Ok(out)
    }

    async fn user_with_groups(&self, raw: Value) -> Result<User, ProviderError> {
        let (mut user, has_groups) = wire::user_with_membership_flag(raw)?;
        if !has_groups {
            let groups = self.all("/Groups", &[]).await?;
            for g in groups {
                let (group, members) = wire::group(g)?;
                if members.contains(&user.id) {
                    user.groups.push(GroupRef {
                        id: group.id,
                        name: group.name,
                    });
                }
            }
        }
        Ok(user)
    }

    /// Adds or removes one member of one group.
    async fn change_member(
        &self,
        group_id: &str,
        user_id: &str,
        add: bool,
    ) -> Result<(), ProviderError> {
        let path = format!("/Groups/{}", seg(group_id)?);
        let op = if add {
            json!([{"op": "add", "path": "members", "value": [{"value": user_id}]}])
        } else {
            json!([{"op": "remove", "path": filter::member_path(user_id)}])
        };
        if self.try_patch(&path, op).await?.is_some() {
            return Ok(());
        }
        // PUT replaces the group: read it, change only the one member, send everything back.
        let mut raw = self.get_json(&path, &[]).await?;
        let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
            message: "SCIM group is not a JSON object".into(),
        })?;
        let key = obj
            .keys()
            .find(|k| k.eq_ignore_ascii_case("members"))
            .cloned()
            .unwrap_or_else(|| "members".into());
        let mut members: Vec<Value> = obj
            .get(&key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let is_user = |m: &Value| {
            m.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
                .map(|(_, v)| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .as_deref()
                == Some(user_id)
        };
        members.retain(|m| !is_user(m));
        if add {
            members.push(json!({"value": user_id}));
        }
        obj.insert(key, Value::Array(members));
        obj.retain(|k, _| !k.eq_ignore_ascii_case("meta"));
        self.client
            .send(Method::PUT, &path, &[], Some(&raw))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Provider for ScimProvider {
    fn kind(&self) -> ProviderKind {
        match self.flavor {
            ScimFlavor::Zia => ProviderKind::ZiaScim,
            ScimFlavor::Zpa => ProviderKind::ZpaScim,
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            staged_changes: false,
            disable: true,
            delete: true,
            create: true,
            departments: false,
            disable_may_delete: self.flavor == ScimFlavor::Zia,
        }
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ProviderError> {
        let (mut start, mut offset) = decode_cursor(page.cursor.as_deref())?;
        let limit = page.limit.max(1);
        let mut items = Vec::new();
        loop {
            let (batch, total) = self.page("/Users", start, &[]).await?;
            let n = batch.len();
            for (i, raw) in batch.into_iter().enumerate().skip(offset) {
                let user = wire::user(raw)?;
                if !filter.matches(&user) {
                    continue;
                }
                if items.len() == limit {
                    return Ok(Page {
                        items,
                        next_cursor: Some(encode_cursor(start, i)),
                    });
                }
                items.push(user);
            }
            start += n;
            offset = 0;
            if n == 0 || total.is_none_or(|t| start > t) {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            if items.len() == limit {
                return Ok(Page {
                    items,
                    next_cursor: Some(encode_cursor(start, 0)),
                });
            }
        }
    }

    async fn get_user(&self, id: &str) -> Result<User, ProviderError> {
        let raw = self.raw_user(id).await?;
        self.user_with_groups(raw).await
    }

    async fn find_users_by_email(&self, email: &str) -> Result<Vec<User>, ProviderError> {
        // Whichever attribute holds the address: userName (usual) or any of the emails.
        self.find_by_attributes(email.trim(), &["userName", "emails.value"])
            .await
    }

    async fn find_users(&self, key: &str) -> Result<Vec<User>, ProviderError> {
        let key = key.trim();
        let mut out = Vec::new();
        if !key.contains('@') {
            match self.get_user(key).await {
                Ok(u) => out.push(u),
                Err(ProviderError::NotFound { .. } | ProviderError::Invalid { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let attrs: &[&str] = if key.contains('@') {
            &["userName", "emails.value", "externalId"]
        } else {
            &["userName", "externalId"]
        };
        for u in self.find_by_attributes(key, attrs).await? {
            if !out.iter().any(|x: &User| x.id == u.id) {
                out.push(u);
            }
        }
        Ok(out)
    }

    async fn list_groups(&self) -> Result<Vec<Group>, ProviderError> {
        // Members are not needed here and can be huge; servers that ignore this send them anyway.
        let raw = self
            .all("/Groups", &[("excludedAttributes", "members".to_string())])
            .await?;
        raw.into_iter()
            .map(|g| wire::group(g).map(|x| x.0))
            .collect()
    }

    async fn list_departments(&self) -> Result<Vec<Department>, ProviderError> {
        Ok(Vec::new())
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, ProviderError> {
        let mut body = json!({
            "schemas": [wire::USER_SCHEMA],
            "userName": user.email,
            "displayName": user.name,
            "name": {"formatted": user.name},
            "emails": [{"value": user.email, "primary": true, "type": "work"}],
            "active": true,
        });
        if let Some(d) = &user.department {
            body["schemas"] = json!([wire::USER_SCHEMA, wire::ENTERPRISE]);
            body[wire::ENTERPRISE] = json!({"department": d.name});
        }
        let created = expect_body(
            self.client
                .send(Method::POST, "/Users", &[], Some(&body))
                .await?,
            "POST /Users",
        )?;
        let created = wire::user(created)?;
        for g in &user.groups {
            if let Err(e) = self.change_member(&g.id, &created.id, true).await {
                return Err(ProviderError::Partial {
                    message: format!(
                        "user {} was created (id {}) but adding them to group '{}' failed: {e}",
                        user.email, created.id, g.name
                    ),
                });
            }
        }
        if user.groups.is_empty() {
            return Ok(created);
        }
        self.get_user(&created.id).await
    }

    async fn change_groups(
        &self,
        user_id: &str,
        add: &[GroupRef],
        remove: &[GroupRef],
    ) -> Result<User, ProviderError> {
        let mut done: Vec<String> = Vec::new();
        let steps = add
            .iter()
            .map(|g| (g, true))
            .chain(remove.iter().map(|g| (g, false)));
        for (g, adding) in steps {
            if let Err(e) = self.change_member(&g.id, user_id, adding).await {
                if done.is_empty() {
                    return Err(e);
                }
                return Err(ProviderError::Partial {
                    message: format!(
                        "{} done, then changing group '{}' failed: {e}",
                        done.join(", "),
                        g.name
                    ),
                });
            }
            done.push(format!(
                "{} '{}'",
                if adding { "added to" } else { "removed from" },
                g.name
            ));
        }
        self.get_user(user_id).await
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), ProviderError> {
        self.client
            .send(
                Method::DELETE,
                &format!("/Users/{}", seg(user_id)?),
                &[],
                None,
            )
            .await?;
        Ok(())
    }

    async fn set_active(&self, user_id: &str, active: bool) -> Result<Option<User>, ProviderError> {
        let path = format!("/Users/{}", seg(user_id)?);
        let op = json!([{"op": "replace", "path": "active", "value": active}]);
        if self.try_patch(&path, op).await?.is_none() {
            let mut raw = self.raw_user(user_id).await?;
            let obj = raw.as_object_mut().ok_or_else(|| ProviderError::Decode {
                message: "SCIM user is not a JSON object".into(),
            })?;
            obj.retain(|k, _| {
                !k.eq_ignore_ascii_case("active")
                    && !k.eq_ignore_ascii_case("meta")
                    && !k.eq_ignore_ascii_case("groups")
            });
            obj.insert("active".into(), Value::Bool(active));
            self.client
                .send(Method::PUT, &path, &[], Some(&raw))
                .await?;
        }
        // Read back rather than trust the answer: ZIA SCIM may have deleted the account.
        match self.get_user(user_id).await {
            Ok(u) => Ok(Some(u)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn activation_status(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }

    async fn probe(&self) -> Result<String, ProviderError> {
        let list = wire::list(
            self.get_json(
                "/Users",
                &[("startIndex", "1".into()), ("count", "1".into())],
            )
            .await?,
        )?;
        let patch = if self.use_patch().await {
            "PatchOp"
        } else {
            "PUT"
        };
        Ok(format!(
            "reachable, bearer token accepted, {} users, memberships via {patch}",
            list.total()
                .map_or_else(|| "unknown number of".to_string(), |n| n.to_string())
        ))
    }

    async fn activate(&self) -> Result<ActivationState, ProviderError> {
        Ok(ActivationState::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        assert_eq!(
            decode_cursor(Some(&encode_cursor(101, 7))).expect("ok"),
            (101, 7)
        );
        assert_eq!(decode_cursor(None).expect("ok"), (1, 0));
        for bad in [
            "zia1.1.0",
            "scim1.0.0",
            "scim1.x.0",
            "scim1.1",
            "scim1.1.1.1",
        ] {
            assert!(decode_cursor(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        assert_eq!(seg("200001").expect("ok"), "200001");
        assert_eq!(seg("a/../b?x").expect("ok"), "a%2F..%2Fb%3Fx");
        assert!(seg("  ").is_err());
    }
}
