//! Events: one row per state-changing command, written in the same transaction as the change.

use db::{NewEvent, Tx};
use model::jobs::{EventLevel, EventState};
use model::EventId;

use crate::context::OpContext;
use crate::error::DomainResult;

/// An event about to be recorded.
pub struct Event {
    row: NewEvent,
}

impl Event {
    /// A completed INFO event by the caller, owned by the caller's account.
    pub fn new(ctx: &OpContext, event_type: &str, description: impl Into<String>) -> Self {
        Self {
            row: NewEvent {
                id: EventId::new(),
                event_type: event_type.to_string(),
                level: EventLevel::Info.as_str(),
                description: description.into(),
                state: EventState::Completed.as_str(),
                // As CloudStack: a request acting in a project records its events as the
                // project's (listEvents projectid=…).
                account_id: ctx
                    .project
                    .as_ref()
                    .map_or(ctx.account_id(), |p| p.account_id),
                domain_id: ctx
                    .project
                    .as_ref()
                    .map_or(ctx.domain_id(), |p| p.domain_id),
                user_id: Some(ctx.user_id()),
                resource_id: None,
                resource_type: None,
                resource_name: None,
                parent_id: None,
            },
        }
    }
    pub fn resource(mut self, id: impl ToString, kind: &str, name: Option<&str>) -> Self {
        self.row.resource_id = Some(id.to_string());
        self.row.resource_type = Some(kind.to_string());
        self.row.resource_name = name.map(str::to_string);
        self
    }
    pub fn state(mut self, s: EventState) -> Self {
        self.row.state = s.as_str();
        self
    }
    pub fn level(mut self, l: EventLevel) -> Self {
        self.row.level = l.as_str();
        self
    }
    pub fn parent(mut self, p: Option<EventId>) -> Self {
        self.row.parent_id = p;
        self
    }
    pub fn id(&self) -> EventId {
        self.row.id
    }
    pub async fn record(self, tx: &mut Tx) -> DomainResult<EventId> {
        db::event_insert(tx, &self.row).await?;
        Ok(self.row.id)
    }
}

/// The event type of a command, where CloudStack defines one.
pub fn event_type(command: &str) -> Option<&'static str> {
    Some(match command {
        "createDomain" => "DOMAIN.CREATE",
        "updateDomain" => "DOMAIN.UPDATE",
        "deleteDomain" => "DOMAIN.DELETE",
        "createAccount" => "ACCOUNT.CREATE",
        "updateAccount" => "ACCOUNT.UPDATE",
        "enableAccount" => "ACCOUNT.ENABLE",
        "disableAccount" | "lockAccount" => "ACCOUNT.DISABLE",
        "deleteAccount" => "ACCOUNT.DELETE",
        "createUser" => "USER.CREATE",
        "updateUser" => "USER.UPDATE",
        "enableUser" => "USER.ENABLE",
        "disableUser" => "USER.DISABLE",
        "lockUser" => "USER.LOCK",
        "deleteUser" => "USER.DELETE",
        "registerUserKeys" => "REGISTER.USER.KEY",
        "updateConfiguration" => "CONFIGURATION.VALUE.EDIT",
        "createPhysicalNetwork" => "PHYSICAL.NETWORK.CREATE",
        "updatePhysicalNetwork" => "PHYSICAL.NETWORK.UPDATE",
        "deletePhysicalNetwork" => "PHYSICAL.NETWORK.DELETE",
        "addTrafficType" => "TRAFFIC.TYPE.CREATE",
        "updateTrafficType" => "TRAFFIC.TYPE.UPDATE",
        "deleteTrafficType" => "TRAFFIC.TYPE.DELETE",
        "updateNetworkServiceProvider" | "configureVirtualRouterElement" => {
            "SERVICE.PROVIDER.UPDATE"
        }
        "reconnectHost" => "HOST.RECONNECT",
        "deleteTemplate" => "TEMPLATE.DELETE",
        "deleteIso" => "ISO.DELETE",
        "enableStorageMaintenance" => "MAINT.PREPARE.PS",
        "cancelStorageMaintenance" => "MAINT.CANCEL.PS",
        "deployVirtualMachine" => "VM.CREATE",
        "startVirtualMachine" => "VM.START",
        "stopVirtualMachine" => "VM.STOP",
        "rebootVirtualMachine" => "VM.REBOOT",
        "destroyVirtualMachine" => "VM.DESTROY",
        "expungeVirtualMachine" => "VM.EXPUNGE",
        "recoverVirtualMachine" => "VM.RECOVER",
        "updateVirtualMachine" => "VM.UPDATE",
        "createVolume" => "VOLUME.CREATE",
        "changeServiceForVirtualMachine" | "scaleVirtualMachine" => "VM.UPGRADE",
        "resetSSHKeyForVirtualMachine" => "VM.RESETSSHKEY",
        "migrateVirtualMachine" => "VM.MIGRATE",
        "migrateVirtualMachineWithVolume" => "VM.MIGRATE",
        "prepareHostForMaintenance" => "MAINT.PREPARE",
        "cancelHostMaintenance" => "MAINT.CANCEL",
        "attachVolume" => "VOLUME.ATTACH",
        "detachVolume" => "VOLUME.DETACH",
        "resizeVolume" => "VOLUME.RESIZE",
        "migrateVolume" => "VOLUME.MIGRATE",
        "deleteVolume" => "VOLUME.DELETE",
        "destroyVolume" => "VOLUME.DESTROY",
        "uploadVolume" => "VOLUME.UPLOAD",
        "recoverVolume" => "VOLUME.RECOVER",
        "createSnapshot" => "SNAPSHOT.CREATE",
        "deleteSnapshot" => "SNAPSHOT.DELETE",
        "revertSnapshot" => "SNAPSHOT.REVERT",
        "updateSnapshotPolicy" => "SNAPSHOTPOLICY.UPDATE",
        "createTemplate" => "TEMPLATE.CREATE",
        "copyTemplate" => "TEMPLATE.COPY",
        "copyIso" => "ISO.COPY",
        "addResourceDetail" => "CREATE_RESOURCE_DETAILS",
        "removeResourceDetail" => "DELETE_RESOURCE_DETAILS",
        "restoreVirtualMachine" => "VM.RESTORE",
        "extractVolume" => "VOLUME.EXTRACT",
        "extractTemplate" => "TEMPLATE.EXTRACT",
        "createVMSnapshot" => "VMSNAPSHOT.CREATE",
        "revertToVMSnapshot" => "VMSNAPSHOT.REVERTTO",
        "deleteVMSnapshot" => "VMSNAPSHOT.DELETE",
        "login" => "USER.LOGIN",
        "logout" => "USER.LOGOUT",
        _ => return None,
    })
}
