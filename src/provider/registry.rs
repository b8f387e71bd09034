//! Every backend the product speaks, in one table.
//!
//! A backend is one module under `src/provider/` that implements [`super::Provider`] and says,
//! in one [`Backend`] value, everything the rest of the product needs to know of it: the `kind`
//! a connection table names, the rules its table must meet, how it is built from that table,
//! the block `init` writes for it, and one line for people and agents. Adding a backend is that
//! module plus one line in [`BACKENDS`]: the config parser, its JSON Schema, `setup`, `init`
//! and the server instructions read this table, and the tools ask a connection for its
//! [`super::Capabilities`], never for its kind.

use std::sync::{Arc, LazyLock};

use serde_json::Value;

use super::Provider;
use crate::config::ConnectionConfig;

/// Every backend, in the order `init` writes their blocks and the docs list them.
pub static BACKENDS: &[&Backend] = &[
    &super::zia::config::BACKEND,
    &super::scim::config::ZIA_SCIM,
    &super::scim::config::ZPA_SCIM,
    &super::zidentity::config::BACKEND,
];

/// Builds a connection's provider from its table.
pub type BuildFn = fn(&ConnectionConfig, &Context<'_>) -> Result<Arc<dyn Provider>, BuildError>;

/// Reads a variable of the environment (or of a test's map).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The connection table some environment variables describe, as TOML text.
pub type FromEnvFn = fn(Lookup<'_>) -> Option<String>;

/// One backend, as the rest of the product sees it before a connection exists.
pub struct Backend {
    /// What `kind = "..."` names in a `[connections.NAME]` table.
    pub kind: &'static str,
    /// Its name for people and agents (the server instructions), e.g. "ZIA SCIM".
    pub title: &'static str,
    /// Its writes wait for `activate_changes` (its providers' [`super::Capabilities`]
    /// `staged_changes`), as the server instructions tell agents.
    pub stages_writes: bool,
    /// What the kind is, for the config's JSON Schema.
    pub about: &'static str,
    /// The rules a table of this kind must meet that serde cannot express (which keys it needs,
    /// which it refuses), each at the key it is about; the config checker adds the line.
    pub check: fn(&ConnectionConfig, &mut Vec<KeyProblem>),
    /// The same rules for editors: `if kind is this then …` clauses of the connection schema.
    pub schema: fn() -> Vec<Value>,
    /// Builds the connection's provider. No network: logins and tokens wait for first use.
    pub build: BuildFn,
    /// The connection table the official SDKs' environment variables describe, as TOML text,
    /// when there is no config file (how an MCP bundle passes settings); `None` when they
    /// describe none.
    pub from_env: Option<FromEnvFn>,
    /// The commented blocks `init --kind NAME` writes.
    pub templates: &'static [Template],
}

/// A rule a connection table breaks, at one of its keys (`kind`, `cloud`, `token` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    pub key: &'static str,
    pub message: String,
}

impl KeyProblem {
    pub fn at(key: &'static str, message: impl Into<String>) -> Self {
        Self {
            key,
            message: message.into(),
        }
    }
}

/// Why a connection could not be built: a key of its table (the caller adds the key's line),
/// or the connection as a whole.
#[derive(Debug)]
pub enum BuildError {
    At(KeyProblem),
    Whole(String),
}

impl BuildError {
    pub fn at(key: &'static str, message: impl Into<String>) -> Self {
        Self::At(KeyProblem::at(key, message))
    }
}

impl From<super::ProviderError> for BuildError {
    fn from(e: super::ProviderError) -> Self {
        Self::Whole(e.to_string())
    }
}

/// What building a connection may use besides its own table.
pub struct Context<'a> {
    /// The Redis that replicas share (`[state] backend = "redis"`): rate budgets and write
    /// locks per tenant.
    pub shared: Option<&'a crate::state::RedisState>,
    /// `[state] replicas`: how many replicas serve the same tenants.
    pub replicas: u32,
    /// The environment, for defaults the official SDKs read (`ZSCALER_VANITY_DOMAIN` …).
    pub env: Lookup<'a>,
}

/// A commented connection block for `init --kind NAME`; `Config::parse` accepts it as written.
pub struct Template {
    /// The `--kind` value.
    pub name: &'static str,
    /// What the block is for, in `init --help`.
    pub help: &'static str,
    /// The TOML text, ending with a blank line.
    pub text: &'static str,
    /// The environment variables its secrets are read from.
    pub env: &'static [&'static str],
}

/// The backend a connection kind names.
pub fn get(kind: &str) -> Option<&'static Backend> {
    BACKENDS.iter().copied().find(|b| b.kind == kind)
}

/// Every kind name, in table order.
pub fn kinds() -> &'static [&'static str] {
    static KINDS: LazyLock<Vec<&'static str>> =
        LazyLock::new(|| BACKENDS.iter().map(|b| b.kind).collect());
    &KINDS
}

/// Every `init` block, in table order.
pub fn templates() -> impl Iterator<Item = &'static Template> {
    BACKENDS.iter().flat_map(|b| b.templates.iter())
}

/// The titles of the backends that `which` picks, for the server instructions.
pub fn titles(which: impl Fn(&Backend) -> bool) -> String {
    let t: Vec<&str> = BACKENDS
        .iter()
        .filter(|b| which(b))
        .map(|b| b.title)
        .collect();
    t.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `init` block builds (secrets given as values), without a network call, into a
    /// provider whose capabilities agree with what its backend tells agents.
    #[test]
    fn every_template_builds_and_stages_as_its_backend_says() {
        for b in BACKENDS {
            for t in b.templates {
                let text = env_to_value(t.text);
                let cfg = crate::config::Config::parse(&text, std::path::Path::new("t.toml"))
                    .unwrap_or_else(|e| panic!("{}: {e}\n{text}", t.name));
                let env = |_: &str| None;
                let cx = Context {
                    shared: None,
                    replicas: 1,
                    env: &env,
                };
                for c in cfg.connections.values() {
                    assert_eq!(c.kind.name(), b.kind);
                    let p = (b.build)(c, &cx).unwrap_or_else(|e| panic!("{}: {e:?}", t.name));
                    let caps = p.capabilities();
                    assert_eq!(caps.staged_changes, b.stages_writes, "{}", t.name);
                    assert!(caps.page_size > 0, "{}", t.name);
                }
            }
        }
    }

    /// `{ env = "NAME" }` becomes `{ value = "x" }`: the test needs no process environment.
    fn env_to_value(text: &str) -> String {
        text.lines()
            .map(|l| match (l.find("{ env = \""), l.find("\" }")) {
                (Some(a), Some(z)) if a < z => {
                    format!("{}{{ value = \"x\" }}{}", &l[..a], &l[z + 3..])
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn kinds_and_template_names_are_unique() {
        let mut kinds = kinds().to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), BACKENDS.len());
        let mut names: Vec<&str> = templates().map(|t| t.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
        for b in BACKENDS {
            assert!(!b.templates.is_empty(), "{} has an init block", b.kind);
            assert!(get(b.kind).is_some_and(|g| std::ptr::eq(g, *b)));
        }
    }
}
