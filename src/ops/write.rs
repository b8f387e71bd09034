//! The write tools, one module per family, all behind [`super::gate`] and
//! [`super::execute::Writer`]: this module is their public face for the MCP layer and `call`.

pub use super::activate::{ActivateChangesArgs, activate_changes};
pub use super::create::{CreateUserArgs, create_user};
pub use super::deactivate::{DeactivateArgs, DeactivateMode, deactivate};
pub use super::membership::{AddToGroupArgs, RemoveFromGroupArgs, add_to_group, remove_from_group};
pub use super::restore::{RestoreUserArgs, restore_user};
pub use super::result::{
    ConfirmationInfo, ConnectionOutcome, Verification, WriteResult, WriteStatus,
};
pub use super::update::{UpdateUserArgs, update_user};
