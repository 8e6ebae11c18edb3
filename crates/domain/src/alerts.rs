//! Raising alerts (CloudStack's AlertManager types, by ordinal and name). An alert that cannot
//! be recorded is logged: raising one never fails the work that noticed the problem.

use uuid::Uuid;

use crate::core::Core;

/// The alert types Canopy raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// A host unreachable (Alert) or declared Down.
    Host,
    /// A VM running somewhere the database does not place it.
    UserVm,
    /// A management server that stopped heartbeating.
    ManagementServer,
}

impl AlertKind {
    pub fn ordinal(self) -> i64 {
        match self {
            Self::Host => 7,
            Self::UserVm => 8,
            Self::ManagementServer => 14,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "ALERT.COMPUTE.HOST",
            Self::UserVm => "ALERT.USERVM",
            Self::ManagementServer => "ALERT.MANAGEMENT",
        }
    }
}

/// Records an alert: `place` is (zone, pod, cluster) where it applies.
pub async fn raise(
    st: &Core,
    kind: AlertKind,
    subject: &str,
    place: (Option<Uuid>, Option<Uuid>, Option<Uuid>),
) {
    let done = async {
        let mut tx = st.store.begin().await?;
        db::alert_insert(&mut tx, kind.ordinal(), kind.name(), subject, place).await?;
        tx.commit().await?;
        Ok::<_, crate::error::DomainError>(())
    };
    if let Err(e) = done.await {
        tracing::error!(alert = kind.name(), subject, error = %e, "an alert could not be recorded");
    }
}
