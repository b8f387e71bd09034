//! Long tool calls as tasks: the MCP tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`),
//! served with rmcp's protocol types and dispatch (`tasks/get`, `tasks/update`, `tasks/cancel`,
//! `notifications/tasks`, the capability and its error codes).
//!
//! A read tool (audit_orphans on a large tenant, get_user by email on 100,000 users) called by a
//! client that declared the extension runs inline for up to [`INLINE`]; if it has not finished
//! by then, the call answers with a task and the work goes on. The task belongs to the caller
//! that started it (its principal): another caller's `tasks/get` or `tasks/cancel` gets the
//! same "unknown task" (-32602) as a made-up id.
//!
//! Task records live where the plan store lives: in memory for one process, in Redis when
//! replicas share state (`[state] backend = "redis"`), so a task started through one replica
//! can be polled and cancelled through any. rmcp's own `TaskManager` keeps tasks in process
//! memory only, which a stateless replica set cannot use; the record format is rmcp's
//! [`DetailedTask`]. Cancellation is cooperative: the replica running the task watches for a
//! cancel request (a Redis key) and cancels the work, which stops at its next step.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, DetailedTask, JsonObject, ServerNotification, Task, TaskPayload, TaskStatus,
    TaskStatusNotification, TaskStatusNotificationParams,
};
use rmcp::service::RoleServer;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::state::RedisState;

/// How long a call runs inline before it becomes a task.
pub const INLINE: Duration = Duration::from_secs(1);
/// How long a task is kept from its creation (an audit of a large, rate-limited tenant takes
/// minutes, not hours).
pub const TTL: Duration = Duration::from_secs(3600);
/// How long a finished task stays readable.
const KEEP_FINISHED: Duration = Duration::from_secs(600);
/// Suggested polling interval.
pub const POLL_INTERVAL_MS: u64 = 1000;
/// How often the replica running a task looks for a cancel request made through another.
const CANCEL_POLL: Duration = Duration::from_millis(300);

/// The read-only tools that may become tasks. Writes do not (their confirmation must happen
/// while the caller waits), except those of [`TASK_WHEN_APPROVED`] carrying an approved plan.
pub const TASK_TOOLS: [&str; 5] = [
    "audit_orphans",
    "get_user",
    "list_users",
    "list_groups",
    "pending_changes",
];

/// Writes that may become tasks, only when called with a plan that has every approval it needs
/// (nothing left to ask): reconcile, whose run is paced by the tenant's limits.
pub const TASK_WHEN_APPROVED: [&str; 1] = [crate::ops::catalog::RECONCILE];

/// A stored task: rmcp's wire shape plus who owns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    owner: String,
    task: DetailedTask,
    /// Unix milliseconds after which the record is gone.
    expires_at: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn unknown(id: &str) -> ErrorData {
    // One answer for a task that never existed, has expired, or is another caller's.
    ErrorData::invalid_params(
        format!(
            "unknown task: {id} (tasks are kept for an hour, and only their creator sees them)"
        ),
        Some(serde_json::json!({ "taskId": id })),
    )
}

fn store_error(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(format!("task store: {e}"), None)
}

enum Backend {
    Memory(Mutex<HashMap<String, Record>>),
    Redis(RedisState),
}

/// Where tasks are kept, and the cancellation handles of those running in this process.
pub struct TaskStore {
    backend: Backend,
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl TaskStore {
    /// Tasks in Redis when replicas share it, else in this process.
    pub fn new(shared: Option<RedisState>) -> Arc<Self> {
        Arc::new(Self {
            backend: match shared {
                Some(r) => Backend::Redis(r),
                None => Backend::Memory(Mutex::new(HashMap::new())),
            },
            running: Mutex::new(HashMap::new()),
        })
    }

    fn running(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(r: &RedisState, id: &str) -> String {
        r.key(&format!("task:{id}"))
    }

    fn cancel_key(r: &RedisState, id: &str) -> String {
        r.key(&format!("task:{id}:cancel"))
    }

    async fn load(&self, id: &str) -> Result<Option<Record>, ErrorData> {
        match &self.backend {
            Backend::Memory(m) => {
                let mut map = m.lock().unwrap_or_else(|p| p.into_inner());
                let now = now_ms();
                map.retain(|_, r| r.expires_at > now);
                Ok(map.get(id).cloned())
            }
            Backend::Redis(r) => {
                let mut conn = r.conn().await.map_err(store_error)?;
                let text: Option<String> = redis::cmd("GET")
                    .arg(Self::key(r, id))
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| store_error(r.error(&e)))?;
                Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
            }
        }
    }

    async fn save(&self, record: &Record) -> Result<(), ErrorData> {
        let id = record.task.task.task_id.clone();
        match &self.backend {
            Backend::Memory(m) => {
                m.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id, record.clone());
                Ok(())
            }
            Backend::Redis(r) => {
                let text = serde_json::to_string(record).map_err(store_error)?;
                let ttl = record.expires_at.saturating_sub(now_ms()).max(1);
                let mut conn = r.conn().await.map_err(store_error)?;
                redis::cmd("SET")
                    .arg(Self::key(r, &id))
                    .arg(text)
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(|e| store_error(r.error(&e)))
            }
        }
    }

    /// The caller's task, or "unknown task".
    async fn owned(&self, owner: &str, id: &str) -> Result<Record, ErrorData> {
        match self.load(id).await? {
            Some(r) if r.owner == owner => Ok(r),
            _ => Err(unknown(id)),
        }
    }

    /// `tasks/get`.
    pub async fn get(&self, owner: &str, id: &str) -> Result<DetailedTask, ErrorData> {
        Ok(self.owned(owner, id).await?.task)
    }

    /// `tasks/update`: these tasks never ask for input, so there is nothing to deliver; the
    /// task must still be the caller's.
    pub async fn update(&self, owner: &str, id: &str) -> Result<(), ErrorData> {
        self.owned(owner, id).await.map(|_| ())
    }

    /// `tasks/cancel`: asks the work to stop (it settles as `cancelled` at its next step); a
    /// finished task is acknowledged as it is.
    pub async fn cancel(&self, owner: &str, id: &str) -> Result<(), ErrorData> {
        let record = self.owned(owner, id).await?;
        if record.task.status().is_terminal() {
            return Ok(());
        }
        if let Some(token) = self.running().get(id) {
            token.cancel();
        }
        if let Backend::Redis(r) = &self.backend {
            let mut conn = r.conn().await.map_err(store_error)?;
            let ttl = record.expires_at.saturating_sub(now_ms()).max(1);
            redis::cmd("SET")
                .arg(Self::cancel_key(r, id))
                .arg(1)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| store_error(r.error(&e)))?;
        }
        tracing::info!(task = id, "task cancellation requested");
        Ok(())
    }

    /// Makes a task of work already running under `cancel`; it is readable before this returns.
    pub async fn create(
        self: &Arc<Self>,
        owner: &str,
        cancel: CancellationToken,
        notifier: Option<rmcp::Peer<RoleServer>>,
    ) -> Result<(Task, TaskHandle), ErrorData> {
        let id = {
            use rand::Rng;
            format!("t-{}", hex::encode(rand::rng().random::<[u8; 16]>()))
        };
        let now = rmcp::task_manager::current_timestamp();
        let task = Task::new(id.clone(), TaskStatus::Working, now.clone(), now)
            .with_ttl_ms(TTL.as_millis() as u64)
            .with_poll_interval_ms(POLL_INTERVAL_MS)
            .with_status_message("running");
        let record = Record {
            owner: owner.to_string(),
            task: DetailedTask::new(task.clone(), TaskPayload::Working),
            expires_at: now_ms() + TTL.as_millis() as u64,
        };
        self.save(&record).await?;
        self.running().insert(id.clone(), cancel.clone());
        if let Backend::Redis(r) = &self.backend {
            watch_remote_cancel(r.clone(), id.clone(), cancel.clone());
        }
        tracing::info!(task = %id, "the call became a task");
        let handle = TaskHandle {
            store: self.clone(),
            record: Arc::new(tokio::sync::Mutex::new(record)),
            notifier,
        };
        Ok((task, handle))
    }

    /// Marks every task still running in this process failed (the process is stopping).
    pub async fn abandon_running(&self) {
        let ids: Vec<String> = self.running().keys().cloned().collect();
        for id in ids {
            if let Ok(Some(mut record)) = self.load(&id).await
                && !record.task.status().is_terminal()
            {
                record.task = DetailedTask::new(
                    record.task.task.clone(),
                    TaskPayload::Failed {
                        error: error_object(&ErrorData::internal_error(
                            "the server stopped before the task finished; call the tool again",
                            None,
                        )),
                    },
                );
                record.task.task.last_updated_at = rmcp::task_manager::current_timestamp();
                record.expires_at = now_ms() + KEEP_FINISHED.as_millis() as u64;
                let _ = self.save(&record).await;
            }
        }
    }
}

/// Polls Redis for a cancel request made through another replica until the work ends.
fn watch_remote_cancel(r: RedisState, id: String, cancel: CancellationToken) {
    tokio::spawn(async move {
        let key = TaskStore::cancel_key(&r, &id);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(CANCEL_POLL) => {}
            }
            let Ok(mut conn) = r.conn().await else {
                continue;
            };
            let asked: Result<bool, _> =
                redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await;
            if asked.unwrap_or(false) {
                tracing::info!(task = %id, "task cancelled through another replica");
                cancel.cancel();
                return;
            }
        }
    });
}

fn error_object(e: &ErrorData) -> JsonObject {
    match serde_json::to_value(e) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => JsonObject::new(),
    }
}

/// The running side of one task: status messages while it works, the outcome at the end, and
/// `notifications/tasks` to a session client that can take them.
#[derive(Clone)]
pub struct TaskHandle {
    store: Arc<TaskStore>,
    record: Arc<tokio::sync::Mutex<Record>>,
    notifier: Option<rmcp::Peer<RoleServer>>,
}

impl TaskHandle {
    async fn notify(&self, task: DetailedTask) {
        if let Some(peer) = &self.notifier {
            let note = TaskStatusNotification::new(TaskStatusNotificationParams::new(task));
            if let Err(e) = peer
                .send_notification(ServerNotification::TaskStatusNotification(note))
                .await
            {
                tracing::debug!(error = %e, "task status notification not delivered");
            }
        }
    }

    /// A new status message (e.g. audit progress) while the task works.
    pub async fn set_message(&self, message: String) {
        let task = {
            let mut record = self.record.lock().await;
            if record.task.status().is_terminal() {
                return;
            }
            record.task.task.status_message = Some(message);
            record.task.task.last_updated_at = rmcp::task_manager::current_timestamp();
            if let Err(e) = self.store.save(&record).await {
                tracing::warn!(error = %e.message, "task progress not recorded");
            }
            record.task.clone()
        };
        self.notify(task).await;
    }

    /// Records how the work ended: a tool result (errors in it included) is `completed`; work
    /// that stopped with an error after a cancel request `cancelled` (work that finished anyway
    /// is `completed`, as the extension allows); a protocol error `failed`.
    pub async fn finish(&self, outcome: Result<CallToolResponse, ErrorData>, cancel_asked: bool) {
        let stopped = match &outcome {
            Err(_) => true,
            Ok(CallToolResponse::Complete(r)) => r.is_error == Some(true),
            Ok(_) => true,
        };
        let payload = match outcome {
            _ if cancel_asked && stopped => TaskPayload::Cancelled,
            Ok(CallToolResponse::Complete(result)) => TaskPayload::Completed {
                result: match serde_json::to_value(&result) {
                    Ok(serde_json::Value::Object(m)) => m,
                    _ => JsonObject::new(),
                },
            },
            Ok(_) => TaskPayload::Failed {
                error: error_object(&ErrorData::internal_error(
                    "the tool asked for input, which a task cannot give",
                    None,
                )),
            },
            Err(e) => TaskPayload::Failed {
                error: error_object(&e),
            },
        };
        let task = {
            let mut record = self.record.lock().await;
            let mut base = record.task.task.clone();
            base.status_message = match &payload {
                TaskPayload::Cancelled => Some("cancelled".into()),
                TaskPayload::Failed { .. } => Some("failed".into()),
                _ => Some("done".into()),
            };
            base.last_updated_at = rmcp::task_manager::current_timestamp();
            record.task = DetailedTask::new(base, payload);
            record.expires_at = record
                .expires_at
                .max(now_ms() + KEEP_FINISHED.as_millis() as u64);
            if let Err(e) = self.store.save(&record).await {
                tracing::error!(error = %e.message, "task outcome not recorded");
            }
            record.task.clone()
        };
        let id = task.task.task_id.clone();
        if let Some(token) = self.store.running().remove(&id) {
            // Ends the remote-cancel watcher; the work is over.
            token.cancel();
        }
        tracing::info!(task = %id, status = ?task.status(), "task finished");
        self.notify(task).await;
    }
}

/// How a call reports progress: MCP progress notifications while the caller waits, the task's
/// status message once it became a task.
#[derive(Clone, Default)]
pub struct TaskSlot {
    handle: Arc<std::sync::OnceLock<TaskHandle>>,
    escalated: Arc<AtomicBool>,
}

impl TaskSlot {
    /// The call became this task.
    pub fn escalate(&self, handle: TaskHandle) {
        let _ = self.handle.set(handle);
        self.escalated.store(true, Ordering::SeqCst);
    }

    /// The task, once the call became one.
    pub fn task(&self) -> Option<&TaskHandle> {
        if self.escalated.load(Ordering::SeqCst) {
            self.handle.get()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_are_bound_to_their_owner_and_settle() {
        let store = TaskStore::new(None);
        let cancel = CancellationToken::new();
        let (task, handle) = store
            .create("alice", cancel.clone(), None)
            .await
            .expect("created");
        let id = task.task_id.clone();
        assert_eq!(
            store.get("alice", &id).await.expect("own").status(),
            TaskStatus::Working
        );
        let e = store.get("bob", &id).await.expect_err("not bob's");
        assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
        assert!(store.cancel("bob", &id).await.is_err());
        assert!(!cancel.is_cancelled(), "bob cannot cancel alice's task");
        handle.set_message("page 1".into()).await;
        assert_eq!(
            store
                .get("alice", &id)
                .await
                .expect("own")
                .task
                .status_message
                .as_deref(),
            Some("page 1")
        );
        store.cancel("alice", &id).await.expect("cancel");
        assert!(cancel.is_cancelled());
        handle
            .finish(Err(ErrorData::internal_error("stopped", None)), true)
            .await;
        assert_eq!(
            store.get("alice", &id).await.expect("own").status(),
            TaskStatus::Cancelled
        );
        // Cancelling a finished task is acknowledged as it is.
        store.cancel("alice", &id).await.expect("idempotent");
        assert!(store.get("alice", "t-made-up").await.is_err());
    }
}
