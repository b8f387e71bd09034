//! A rate budget shared by every replica: GCRA in a Lua script, so checking and taking a slot
//! is one atomic step on the Redis server, timed by the server's clock (replicas' clocks may
//! disagree).
//!
//! Each weight has two limits checked together (a burst rate and an hourly ceiling); a slot is
//! taken from both or from neither, so a refused request never uses up hourly budget.

use std::time::Duration;

use super::{RedisState, StateError};

/// One limit: `count` requests per `per`, all of which may come in a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// Milliseconds between slots (GCRA's emission interval).
    fn interval_ms(self) -> u64 {
        (self.per.as_millis() as u64 / u64::from(self.count.max(1))).max(1)
    }
}

/// KEYS: the burst and hourly keys. ARGV: interval and burst size of each.
/// Returns 0 when a slot was taken, else the milliseconds until one is free.
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local allow_at = tat + interval - interval * burst
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = tat + interval
end
if wait > 0 then return wait end
for i = 1, 2 do
  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', string.format('%d', tats[i] - now))
end
return 0
"#;

/// The budget of one tenant, shared through Redis.
#[derive(Debug, Clone)]
pub struct SharedBudget {
    state: RedisState,
    tenant: String,
}

impl SharedBudget {
    /// `tenant` identifies the tenant across replicas (its API base URL).
    pub fn new(state: RedisState, tenant: &str) -> Self {
        Self {
            state,
            tenant: tenant.trim_end_matches('/').to_ascii_lowercase(),
        }
    }

    /// Takes one slot of `weight` if both limits allow it now (`Ok(None)`), else says how long
    /// until one is free and takes nothing.
    pub async fn try_take(
        &self,
        weight: &str,
        burst: Rate,
        hourly: Rate,
    ) -> Result<Option<Duration>, StateError> {
        let mut conn = self.state.conn().await?;
        let base = self
            .state
            .key(&format!("zia:{}:rate:{weight}", self.tenant));
        let wait_ms: u64 = redis::Script::new(GCRA)
            .key(format!("{base}:burst"))
            .key(format!("{base}:hour"))
            .arg(burst.interval_ms())
            .arg(burst.count.max(1))
            .arg(hourly.interval_ms())
            .arg(hourly.count.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.state.error(&e))?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
