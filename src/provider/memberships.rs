//! Membership changes for backends that keep members on the group (SCIM, ZIdentity): one
//! request per group, so a change to several groups can stop part-way.

use std::future::Future;

use crate::model::GroupRef;

use super::ProviderError;

/// Applies `(group, adding)` steps in order with `change`. A failure before anything was
/// `done` is returned as it is (nothing changed); after, it is [`ProviderError::Partial`],
/// naming what was done and what failed, so the writer reads the account back and reports it
/// as it stands rather than as failed.
pub(crate) async fn change_in_turn<'g, F, Fut>(
    steps: &[(&'g GroupRef, bool)],
    done: &mut Vec<String>,
    mut change: F,
) -> Result<(), ProviderError>
where
    F: FnMut(&'g GroupRef, bool) -> Fut,
    Fut: Future<Output = Result<(), ProviderError>>,
{
    for &(g, adding) in steps {
        if let Err(e) = change(g, adding).await {
            if done.is_empty() {
                return Err(e);
            }
            return Err(ProviderError::Partial {
                message: format!(
                    "{} done, then {} group '{}' failed: {e}",
                    done.join(", "),
                    if adding { "adding to" } else { "removing from" },
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> GroupRef {
        GroupRef {
            id: format!("id-{name}"),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn a_failure_is_partial_only_after_something_was_done() {
        let (a, b) = (group("A"), group("B"));
        let fail_on_b = |g: &GroupRef, _adding: bool| {
            let failed = g.name == "B";
            async move {
                if failed {
                    Err(ProviderError::Transport {
                        message: "reset".into(),
                    })
                } else {
                    Ok(())
                }
            }
        };
        let mut done = Vec::new();
        let e = change_in_turn(&[(&b, true)], &mut done, fail_on_b)
            .await
            .expect_err("fails");
        assert!(matches!(e, ProviderError::Transport { .. }), "{e:?}");
        let e = change_in_turn(&[(&a, true), (&b, false)], &mut done, fail_on_b)
            .await
            .expect_err("fails");
        match e {
            ProviderError::Partial { message } => assert_eq!(
                message,
                "added to 'A' done, then removing from group 'B' failed: connection failed: reset"
            ),
            other => panic!("expected partial, got {other:?}"),
        }
    }
}
