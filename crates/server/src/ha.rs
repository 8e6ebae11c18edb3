//! The server's side of HA and the expunge task (which live in `domain::ha`): it submits
//! the jobs they ask for ([`domain::core::OwnJob`]) as the CloudStack commands a job is
//! stored as, so that a resumed job is rebound like any other.

use std::sync::{Arc, OnceLock, Weak};

use api::RawParams;
use domain::core::{Core, OwnJob};
use futures_util::future::BoxFuture;

use crate::context::OpContext;
use crate::error::AppResult;
use crate::jobs::JobPlan;
use crate::state::{AppState, State};

/// [`domain::core::OwnJobs`] of this server: set to the server's state once it exists
/// (the state holds the core, which holds this, so the link back is weak).
#[derive(Clone, Default)]
pub struct OwnJobs {
    pub state: Arc<OnceLock<Weak<AppState>>>,
}

impl domain::core::OwnJobs for OwnJobs {
    fn submit<'a>(
        &'a self,
        _core: &'a Arc<Core>,
        vm: &'a db::VmRow,
        job: OwnJob,
    ) -> BoxFuture<'a, domain::DomainResult<Option<model::JobId>>> {
        Box::pin(async move {
            let Some(st) = self.state.get().and_then(Weak::upgrade) else {
                return Err(domain::DomainError::Internal(
                    "the server is stopping; no job submitted".into(),
                ));
            };
            let command = match job {
                OwnJob::StartVm => "startVirtualMachine",
                OwnJob::ExpungeVm => "expungeVirtualMachine",
            };
            submit_for_owner(&st, vm, command, job.describe())
                .await
                .map_err(crate::error::AppError::into_domain)
        })
    }
}

/// Submits an async VM command (`id` = the VM) as the VM's owner, for the server's own
/// background work (HA restarts, the expunge thread). `None` when the owner is gone.
pub async fn submit_for_owner(
    st: &State,
    vm: &db::VmRow,
    command: &str,
    what: &str,
) -> AppResult<Option<model::JobId>> {
    submit_for_owner_with(st, vm, command, what, &[]).await
}

/// [`submit_for_owner`] with more parameters (`expunge=true`…).
pub async fn submit_for_owner_with(
    st: &State,
    vm: &db::VmRow,
    command: &str,
    what: &str,
    extra: &[(&str, &str)],
) -> AppResult<Option<model::JobId>> {
    let user = {
        let mut c = st.store.read().await?;
        db::user_get(&mut c, vm.user_id).await?
    };
    let Some(user) = user else {
        tracing::warn!(vm = %vm.id, command, "the VM's user is gone; nothing submitted");
        return Ok(None);
    };
    let ctx = OpContext::new(user, false);
    let id = vm.id.to_string();
    let raw = RawParams::from_pairs(
        [("command", command), ("id", id.as_str())]
            .into_iter()
            .chain(extra.iter().copied()),
    );
    let spec = st
        .registry
        .get(command)
        .ok_or_else(|| crate::error::AppError::Internal(format!("no command {command}")))?;
    let args = spec.bind(&raw, u64::MAX)?;
    let plan = JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(id),
        returns_id: false,
        description: format!("{what} of VM {}", vm.instance_name),
    };
    Ok(Some(
        crate::jobs::submit(st, &ctx, &args, &raw, &plan).await?,
    ))
}
