//! The protocol between the management server and host agents.
//!
//! Transport: a WebSocket at `wss://SERVER:9443/agent`, one JSON text frame per message. The
//! agent pins the server's certificate by the SHA-256 fingerprint carried in its join token.
//! The agent speaks first (`Hello`); the server answers `Welcome` or `Refused`; then the agent
//! sends `Heartbeat`s every `ping_interval_s` and the server sends `Command`s, each answered
//! by a `Reply` with the same id. Desired state for VMs and networks will travel as commands
//! carrying a generation number; an agent refuses a generation older than one it applied.
//!
//! Never add a field without a serde default: agents and servers of neighbouring versions
//! must understand each other.

pub mod disk_limits;
pub mod peer;
mod secret;

pub use disk_limits::DiskLimits;

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use secret::Secret;

/// Protocol version spoken by this build.
pub const VERSION: u32 = 1;

/// The WebSocket path on the server's agent port.
pub const AGENT_PATH: &str = "/agent";

/// Where an agent connects a console session (`/agent/console/<session id>`).
pub const CONSOLE_PATH: &str = "/agent/console";

/// Where an agent sends (PUT) and fetches (GET) files kept on the image store:
/// `/store/<kind>/<id>`, kind `snapshot`, `template` or `extract`.
pub const STORE_PATH: &str = "/store";

/// What an agent sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMsg {
    Hello {
        version: u32,
        auth: Auth,
        inventory: Inventory,
    },
    Heartbeat {
        seq: u64,
        /// The agent's figures since it started, sent when they changed (the agent never
        /// listens; the server shows them at `/metrics` with a `host` label).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stats: Option<AgentStats>,
    },
    /// A VM that ran here stopped on its own (the guest powered off, crashed, or its process
    /// was killed); the server marks it Stopped and restarts it when it is HA-enabled.
    VmGone { name: String },
    /// A guest acknowledged its password at a router here (`DomU_Request: saved_password`):
    /// the server stops sending it.
    PasswordSaved { vm_id: Uuid },
    /// The guests' statistics, every `vm_stats_interval_ms` of the `Welcome` (only VMs that
    /// run here; the server keeps the latest report of each).
    VmStats { vms: Vec<model::stats::GuestStats> },
    Reply {
        id: u64,
        ok: bool,
        #[serde(default)]
        body: serde_json::Value,
        #[serde(default)]
        error: Option<String>,
    },
}

/// The error an agent answers when a command names a VM it does not run. The server
/// recognises it ([`vm_not_here_name`]): the VM stopped outside the cloud's control, so it is
/// reconciled at once and the caller gets a specific answer instead of an internal error.
pub fn vm_not_here(name: &str) -> String {
    format!("VM {name} is not running on this host")
}

/// The VM name of a [`vm_not_here`] error.
pub fn vm_not_here_name(error: &str) -> Option<&str> {
    error
        .strip_prefix("VM ")?
        .strip_suffix(" is not running on this host")
        .filter(|n| !n.is_empty() && !n.contains(' '))
}

/// How an agent proves who it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Auth {
    /// First contact: the secret of a join token, and the address this host is known by.
    Token { secret: String, address: String },
    /// Later contacts: the host's own credential from its `Welcome`.
    Host { host_id: Uuid, secret: String },
}

/// What a host has, as its agent measured it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub hostname: String,
    pub address: String,
    pub cpus: u32,
    pub cpu_speed_mhz: u64,
    pub memory_bytes: u64,
    pub local_storage_bytes: u64,
    /// `KVM` or `Simulator`.
    pub hypervisor: String,
    pub hypervisor_version: String,
    /// `kvm`, `tcg` or `none` (simulated).
    pub accelerator: String,
    pub capabilities: Vec<String>,
    pub agent_version: String,
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome {
        host_id: Uuid,
        /// Set on the first join: the credential for every later connection.
        #[serde(default)]
        host_secret: Option<String>,
        ping_interval_s: u64,
        /// VMs this host must stop before anything else: while it was unreachable it was
        /// declared Down and these VMs were fenced off it (restarted elsewhere or stopped).
        #[serde(default)]
        fenced: Vec<String>,
        /// How often the agent reports its guests' statistics (`vm.stats.interval`); 0:
        /// never.
        #[serde(default)]
        vm_stats_interval_ms: u64,
        /// Every management server's agent endpoint, in the order this agent should try them
        /// when it loses its server (CloudStack's `host` list with
        /// `indirect.agent.lb.algorithm` applied). Empty from older servers: keep the list.
        #[serde(default)]
        servers: Vec<String>,
        /// Every this many seconds an agent not connected to the first of `servers` (its
        /// preferred server) moves back to it, when no command is running
        /// (`indirect.agent.lb.check.interval`); 0: never.
        #[serde(default)]
        lb_check_interval_s: u64,
    },
    Refused {
        reason: String,
        /// False when retrying with the same credentials cannot succeed.
        retry: bool,
    },
    Command {
        id: u64,
        #[serde(default)]
        generation: u64,
        command: Command,
    },
}

/// Commands for an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Answer at once (liveness and round-trip measurements).
    Ping,
    /// Close the connection and connect again (reconnectHost).
    Reconnect,
    /// The host was removed: forget the credential and stop.
    Forget,
    /// The management servers changed (one joined, left or died): the agent endpoints in the
    /// order to try them (CloudStack's `SetupMSListCommand`). The agent keeps its connection.
    SetServers { servers: Vec<String> },
    /// Capacity of a storage directory: reply `{"capacity_bytes": n, "used_bytes": n}`.
    StorageStat { path: String },
    /// Creates a volume on primary storage (idempotent: an existing volume of that id is
    /// kept). Reply `{"path": "…", "size": n}`.
    CreateVolume { volume: Box<VolumeSpec> },
    /// Deletes a volume (idempotent: a missing volume is success).
    DeleteVolume { pool_path: String, volume_id: Uuid },
    /// Starts a VM (idempotent: a running VM of that name is success). Reply `{"state":
    /// "Running"}`.
    StartVm { vm: VmSpec },
    /// Stops a VM (idempotent: a VM that is not there is success). `force` skips the
    /// graceful shutdown.
    StopVm { name: String, force: bool },
    /// Reboots a running VM.
    RebootVm { name: String },
    /// Rebuilds a running VM's config drive (its user data, keys or password changed) and
    /// swaps the medium in its CD-ROM; the guest reads it at its next boot.
    UpdateConfigDrive { name: String, drive: ConfigDrive },
    /// attachIso / detachIso on a running VM: the ISO (fetched from the image store into the
    /// image cache of the pool at `pool_path`, like a template) goes into the VM's CD-ROM,
    /// or (`iso: None`) the CD-ROM is emptied. Reply `{"iso": id or null}`.
    ChangeIso {
        name: String,
        iso: Option<Uuid>,
        pool_path: String,
    },
    /// Host investigation: can this host reach the host at `address` (its agent address)?
    /// Reply `{"alive": true|false}`; an error means "cannot tell".
    CheckHost { address: String },
    /// Live migration, destination side: get ready to receive the VM (idempotent). With
    /// `storage` (migration with its volumes), the listed disks are created here empty and
    /// exported over NBD (port [`nbd_port`]) for the source to mirror into; `vm` names them at
    /// their new paths.
    PrepareMigration {
        vm: VmSpec,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        storage: Vec<StorageMove>,
    },
    /// Live migration, source side: send the running VM to the host at `dest` (its agent
    /// address); when this answers, the VM runs there and no longer here. With `storage`, the
    /// listed volumes' disks are mirrored to the destination's NBD exports first and the
    /// switch-over waits for the mirrors to settle. Idempotent: a VM that is not here any more
    /// is success.
    MigrateVm {
        name: String,
        dest: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        storage: Vec<Uuid>,
    },
    /// Live migration with storage, destination side, after the transfer: stops the NBD
    /// exports of the VM's disks (idempotent).
    EndDiskExport { name: String },
    /// The virtual sizes of a running VM's disks, `{"sizes": {"<volume id>": bytes}}` (a
    /// migration with storage sizes the destination's new files by them).
    DiskSizes { vm: String, volumes: Vec<Uuid> },
    /// Changes a running VM's CPUs and memory (hot-plug; scale up only).
    ScaleVm {
        name: String,
        cpus: u32,
        cpu_mhz: u64,
        memory_mib: u64,
    },
    /// Hot-plugs a disk into a running VM (idempotent).
    AttachDisk { vm: String, disk: Box<DiskSpec> },
    /// Unplugs a disk from a running VM (idempotent).
    DetachDisk { vm: String, volume_id: Uuid },
    /// Grows (or, when allowed, shrinks) a volume.
    ResizeVolume {
        pool_path: String,
        volume_id: Uuid,
        size_bytes: u64,
    },
    /// Takes a point-in-time copy of a volume on its pool (`POOL/snapshots/<snapshot>.qcow2`,
    /// a standalone image; a running VM's disk is copied by a block job, its file systems
    /// frozen by the guest agent while the job starts when the guest has one). Idempotent.
    /// Reply: `{"size": virtual bytes, "physical": bytes}`.
    SnapshotVolume {
        pool_path: String,
        volume_id: Uuid,
        snapshot_id: Uuid,
        /// The running VM using the volume (its instance name), if any.
        #[serde(default)]
        vm: Option<String>,
    },
    /// Sends a snapshot's copy on primary storage to the image store (PUT
    /// `/store/snapshot/<id>`), then removes it from primary storage. Reply: `{"stored":
    /// bytes}` (a simulated host stores nothing: `{"stored": 0, "simulated": true}`).
    BackupSnapshot {
        pool_path: String,
        snapshot_id: Uuid,
    },
    /// Removes a snapshot's copy from primary storage (idempotent).
    DeleteSnapshotCopy {
        pool_path: String,
        snapshot_id: Uuid,
    },
    /// Replaces a volume's content with a snapshot's (fetched from the image store); the
    /// volume must not be in use by a running VM.
    RevertVolume {
        pool_path: String,
        volume_id: Uuid,
        snapshot_id: Uuid,
    },
    /// Sends a volume (flattened to a standalone qcow2) to the image store as `kind`/`id`
    /// (`template`: a template's disk; `extract`: a download); the volume must not be in use
    /// by a running VM. Reply: `{"stored": bytes}`.
    UploadVolume {
        pool_path: String,
        volume_id: Uuid,
        kind: String,
        id: Uuid,
    },
    /// Takes a VM snapshot `tag` of every disk of the VM (internal qcow2 snapshots): with its
    /// memory (`memory`: QMP `snapshot-save`, the VM must run), or disks only (a running VM:
    /// `blockdev-snapshot-internal-sync` in one transaction; a stopped one: `qemu-img snapshot
    /// -c`). Idempotent (a tag the disks have is not taken again).
    CreateVmSnapshot {
        vm: String,
        tag: String,
        memory: bool,
        disks: Vec<DiskSpec>,
    },
    /// Reverts the VM's disks (and memory, when the snapshot has it: the VM must run, QMP
    /// `snapshot-load`; disks only: the VM must be stopped, `qemu-img snapshot -a`).
    RevertVmSnapshot {
        vm: String,
        tag: String,
        memory: bool,
        disks: Vec<DiskSpec>,
    },
    /// Deletes the VM snapshot `tag` from the disks (idempotent).
    DeleteVmSnapshot {
        vm: String,
        tag: String,
        disks: Vec<DiskSpec>,
    },
    /// Moves a volume to another pool: a running VM's disk by a mirror block job (the guest
    /// keeps running and writing; at the end it writes to the new file), a stopped one's by
    /// `qemu-img convert`; the copy is standalone and the old file is deleted. Idempotent (a
    /// volume already in `to_pool` and gone from `from_pool` is done). Reply: `{"path": …}`.
    MigrateVolume {
        volume_id: Uuid,
        from_pool: String,
        to_pool: String,
        /// The running VM using it, if any.
        #[serde(default)]
        vm: Option<String>,
    },
    /// Reply: a [`VmList`], what this host runs and stores (reconciliation and tests).
    ListVms,
    /// Console: connect the VM's VNC socket to the server. The agent dials
    /// `wss://SERVER/agent/console/<session>` (its host credential in `Authorization: Host
    /// id:secret`) and carries RFB both ways in binary frames; it replies once connected.
    /// `server` is the agent endpoint of the server holding the session (it may not be the
    /// one the agent is connected to: the command may have been forwarded); absent, the
    /// agent's own server.
    OpenConsole {
        name: String,
        session: Uuid,
        #[serde(default)]
        server: Option<String>,
    },
    /// The host's whole desired data plane (bridges, VXLAN peers, taps, security groups,
    /// routers), compiled by the server. The agent applies it idempotently and replies
    /// `{"generation": n}` with the generation it now has; one older than that is refused
    /// (the reply carries the newer one and `"stale": true`).
    ApplyNetwork {
        generation: u64,
        desired: Box<netplan::HostDesired>,
    },
    /// Whether a router's site-to-site VPN connections are up. Reply:
    /// `{"connections": {"<id>": "Connected" | "Disconnected"}}`.
    S2sStatus {
        namespace: String,
        connections: Vec<Uuid>,
    },
    /// Closes a site-to-site connection's SAs; with `initiate`, connects it again.
    S2sReset {
        namespace: String,
        connection: Uuid,
        initiate: bool,
    },
}

impl Command {
    /// The `op` name (a metric label).
    pub fn op(&self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::Reconnect => "reconnect",
            Self::Forget => "forget",
            Self::SetServers { .. } => "set_servers",
            Self::StorageStat { .. } => "storage_stat",
            Self::CreateVolume { .. } => "create_volume",
            Self::DeleteVolume { .. } => "delete_volume",
            Self::StartVm { .. } => "start_vm",
            Self::StopVm { .. } => "stop_vm",
            Self::RebootVm { .. } => "reboot_vm",
            Self::UpdateConfigDrive { .. } => "update_config_drive",
            Self::ChangeIso { .. } => "change_iso",
            Self::CheckHost { .. } => "check_host",
            Self::PrepareMigration { .. } => "prepare_migration",
            Self::MigrateVm { .. } => "migrate_vm",
            Self::EndDiskExport { .. } => "end_disk_export",
            Self::DiskSizes { .. } => "disk_sizes",
            Self::ScaleVm { .. } => "scale_vm",
            Self::AttachDisk { .. } => "attach_disk",
            Self::DetachDisk { .. } => "detach_disk",
            Self::ResizeVolume { .. } => "resize_volume",
            Self::SnapshotVolume { .. } => "snapshot_volume",
            Self::BackupSnapshot { .. } => "backup_snapshot",
            Self::DeleteSnapshotCopy { .. } => "delete_snapshot_copy",
            Self::RevertVolume { .. } => "revert_volume",
            Self::UploadVolume { .. } => "upload_volume",
            Self::MigrateVolume { .. } => "migrate_volume",
            Self::CreateVmSnapshot { .. } => "create_vm_snapshot",
            Self::RevertVmSnapshot { .. } => "revert_vm_snapshot",
            Self::DeleteVmSnapshot { .. } => "delete_vm_snapshot",
            Self::ListVms => "list_vms",
            Self::OpenConsole { .. } => "open_console",
            Self::ApplyNetwork { .. } => "apply_network",
            Self::S2sStatus { .. } => "s2s_status",
            Self::S2sReset { .. } => "s2s_reset",
        }
    }
}

/// Upper bounds (seconds) of the agent's command-latency histogram buckets.
pub const COMMAND_SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The reply to [`Command::ListVms`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VmList {
    #[serde(default)]
    pub vms: Vec<ListedVm>,
    /// Volumes the host stores (the simulator; real hosts leave it empty).
    #[serde(default)]
    pub volumes: Vec<Uuid>,
}

/// A VM a host reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedVm {
    pub name: String,
    #[serde(default)]
    pub state: PowerState,
}

/// What a host says of a VM's power.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PowerState {
    #[default]
    Running,
    /// Known to the host but not running (paused, shut off).
    Stopped,
    /// A state this server does not know (from a newer agent).
    #[serde(other)]
    Unknown,
}

impl VmList {
    /// The VMs listed as running, by instance name.
    pub fn running(names: impl IntoIterator<Item = String>, volumes: Vec<Uuid>) -> Self {
        Self {
            vms: names
                .into_iter()
                .map(|name| ListedVm {
                    name,
                    state: PowerState::Running,
                })
                .collect(),
            volumes,
        }
    }
}

/// An agent's cumulative figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentStats {
    /// VMs running on the host now.
    pub vms: u64,
    /// Per command op.
    pub commands: Vec<CommandStats>,
    /// Failed commands by error kind (`tool`, `io`, `qmp`, `vm_not_here`, …).
    #[serde(default)]
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// One command op's count, failures and latency histogram.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandStats {
    pub op: String,
    pub ok: u64,
    pub failed: u64,
    pub seconds_sum: f64,
    /// Cumulative counts per [`COMMAND_SECONDS_BUCKETS`] bound (same length; longer or
    /// shorter lists from another version are cut or ignored by the reader).
    pub buckets: Vec<u64>,
}

/// A volume as a host creates it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeSpec {
    pub volume_id: Uuid,
    /// The primary storage's path on the host.
    pub pool_path: String,
    pub size_bytes: u64,
    /// For a root volume: the template whose image it is built on.
    #[serde(default)]
    pub template_id: Option<Uuid>,
    /// A volume made from a snapshot: its content is the snapshot's (fetched from the image
    /// store), grown to `size_bytes` when that is larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<Uuid>,
    /// An uploaded volume: its content is the image store's file for this volume (fetched
    /// from `/store/volume/<volume_id>`), of `image_format` (QCOW2 or RAW, made qcow2 here),
    /// grown to `size_bytes` when that is larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_format: Option<String>,
    /// An encrypted volume's passphrase: the file is qcow2 with LUKS encryption under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// A VM as a host runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VmSpec {
    pub id: Uuid,
    /// The instance name (`i-2-683-VM`), unique in the cloud: the host-side name.
    pub name: String,
    /// The guest's host name.
    #[serde(default)]
    pub hostname: String,
    pub cpus: u32,
    pub cpu_mhz: u64,
    pub memory_mib: u64,
    /// Root first, then data disks in device order.
    #[serde(default)]
    pub disks: Vec<DiskSpec>,
    /// User data (base64, as the API took it).
    #[serde(default)]
    pub userdata: Option<String>,
    /// Public keys for the guest's authorized_keys.
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// Network interfaces in device order (the first is the default NIC).
    #[serde(default)]
    pub nics: Vec<NicSpec>,
    /// The template of the root disk: a host boots its kernel and initrd directly when the
    /// template carries them (cached next to its base image on primary storage).
    #[serde(default)]
    pub template_id: Option<Uuid>,
    /// The config drive the guest reads its metadata, user data and keys from, when no
    /// router's data server serves them (L2 networks, the ConfigDrive provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drive: Option<ConfigDrive>,
    /// The ISO in the VM's CD-ROM (attachIso, or the ISO it was deployed from), cached in
    /// its root disk's pool next to the templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso: Option<Uuid>,
    /// Boot from the CD-ROM first (a VM deployed from an ISO).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub boot_iso: bool,
}

/// A config drive, as CloudStack's ConfigDrive provider builds it (OpenStack's layout,
/// which cloud-init's ConfigDrive datasource reads): the host makes an ISO 9660 volume
/// labelled [`ConfigDrive::LABEL`] from these files and attaches it as a CD-ROM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigDrive {
    /// Path inside the volume (`openstack/latest/meta_data.json`) → content, base64.
    pub files: BTreeMap<String, String>,
}

impl ConfigDrive {
    /// The volume label cloud-init looks for.
    pub const LABEL: &'static str = "config-2";
    /// The most a config drive may hold (CloudStack refuses larger ones).
    pub const MAX_BYTES: usize = 64 << 20;

    /// Adds a file (its content is encoded here).
    pub fn put(&mut self, path: &str, content: &[u8]) {
        self.files.insert(
            path.to_string(),
            base64::engine::general_purpose::STANDARD.encode(content),
        );
    }

    /// The files decoded, their paths checked: relative, `/`-separated components of ASCII
    /// letters, digits, `.`, `_` and `-`, none of them `.` or `..`, at most 8 deep; the
    /// contents together at most [`Self::MAX_BYTES`]. A drive that breaks a rule is refused
    /// whole, naming the first bad path.
    pub fn decoded(&self) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut out = Vec::with_capacity(self.files.len());
        let mut total = 0usize;
        for (path, content) in &self.files {
            let parts: Vec<&str> = path.split('/').collect();
            let ok = !path.is_empty()
                && parts.len() <= 8
                && parts.iter().all(|c| {
                    !c.is_empty()
                        && *c != "."
                        && *c != ".."
                        && c.len() <= 64
                        && c.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                });
            if !ok {
                return Err(format!("config drive path {path:?} is not allowed"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(content)
                .map_err(|e| format!("config drive file {path}: {e}"))?;
            total = total.saturating_add(bytes.len());
            if total > Self::MAX_BYTES {
                return Err("the config drive exceeds 64 MiB".into());
            }
            out.push((path.clone(), bytes));
        }
        // A file and a directory of the same name cannot both exist.
        for (p, _) in &out {
            let dir = format!("{p}/");
            if out.iter().any(|(q, _)| q.starts_with(&dir)) {
                return Err(format!(
                    "config drive path {p:?} is both a file and a directory"
                ));
            }
        }
        Ok(out)
    }
}

/// A VM's network interface as a host wires it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NicSpec {
    pub nic_id: Uuid,
    pub mac: String,
    /// The host tap device (`netplan::tap_name`); the data plane joins it to its bridge.
    pub tap: String,
}

/// The TCP port a destination host listens on for an incoming live migration of `vm` (both
/// sides derive it, so the source needs no answer from the destination).
pub fn migration_port(vm: &str) -> u16 {
    let h = vm.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    49152 + (h % 8192) as u16
}

/// The port a migration destination exports a VM's disks on over NBD (migration with
/// storage): stable per VM, above the migration ports' range.
pub fn nbd_port(vm: &str) -> u16 {
    migration_port(vm) + 8192
}

/// A disk that moves with a migrating VM: created empty at `path` (`size_bytes` virtual) on
/// the destination and filled by the source's mirror.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageMove {
    pub volume_id: Uuid,
    pub path: String,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskSpec {
    pub volume_id: Uuid,
    pub path: String,
    pub device_id: u32,
    /// The offering's I/O limits (QEMU block throttling), when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<DiskLimits>,
    /// The offering's cache mode: `none`, `writeback` or `writethrough` (default writeback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// An encrypted volume's passphrase (LUKS in qcow2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
}

/// A join token, as printed for an operator: `cnp1.` + base64url(JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JoinToken {
    /// `host:port` of the server's agent endpoint.
    pub server: String,
    /// SHA-256 of the server certificate (DER), lower-case hex.
    pub fingerprint: String,
    /// The secret the server knows by its hash.
    pub secret: String,
}

const TOKEN_PREFIX: &str = "cnp1.";

impl JoinToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let b = URL_SAFE_NO_PAD
            .decode(s.trim().strip_prefix(TOKEN_PREFIX)?)
            .ok()?;
        serde_json::from_slice(&b).ok()
    }
}

#[cfg(test)]
mod vm_not_here_tests {
    #[test]
    fn the_name_comes_back() {
        assert_eq!(
            super::vm_not_here_name(&super::vm_not_here("i-2-3-VM")),
            Some("i-2-3-VM")
        );
        assert_eq!(
            super::vm_not_here_name("VM  is not running on this host"),
            None
        );
        assert_eq!(super::vm_not_here_name("something else"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_lists_read_what_agents_send() {
        let old = serde_json::json!({
            "vms": [{"name": "i-2-7-VM", "state": "Running"}, {"name": "i-2-8-VM"},
                    {"name": "i-2-9-VM", "state": "Paused"}],
            "volumes": ["9d7799d9-5833-4021-8770-95fe252c6d48"],
        });
        let l: VmList = serde_json::from_value(old).expect("decodes");
        let states: Vec<_> = l.vms.iter().map(|v| v.state).collect();
        assert_eq!(
            states,
            [
                PowerState::Running,
                PowerState::Running,
                PowerState::Unknown
            ]
        );
        assert_eq!(l.volumes.len(), 1);
        let back: VmList =
            serde_json::from_value(serde_json::to_value(&l).expect("encodes")).expect("decodes");
        assert_eq!(back.vms[0], l.vms[0]);
        // A name that is not a string is an error, not an empty list.
        assert!(
            serde_json::from_value::<VmList>(serde_json::json!({"vms": [{"name": 7}]})).is_err()
        );
    }

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let m = AgentMsg::Hello {
            version: VERSION,
            auth: Auth::Token {
                secret: "s".into(),
                address: "10.0.0.5".into(),
            },
            inventory: Inventory {
                cpus: 4,
                hypervisor: "Simulator".into(),
                ..Default::default()
            },
        };
        let j = serde_json::to_string(&m).expect("json");
        assert!(
            j.starts_with(r#"{"type":"hello","version":1,"auth":{"kind":"token""#),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<AgentMsg>(&j).expect("parse"), m);
        let c = ServerMsg::Command {
            id: 7,
            generation: 0,
            command: Command::Ping,
        };
        let j = serde_json::to_string(&c).expect("json");
        assert_eq!(
            j,
            r#"{"type":"command","id":7,"generation":0,"command":{"op":"ping"}}"#
        );
        // Older peers may omit defaulted fields.
        let r: AgentMsg =
            serde_json::from_str(r#"{"type":"reply","id":1,"ok":true}"#).expect("parse");
        assert_eq!(
            r,
            AgentMsg::Reply {
                id: 1,
                ok: true,
                body: serde_json::Value::Null,
                error: None
            }
        );
    }

    #[test]
    fn tokens_encode_and_decode() {
        let t = JoinToken {
            server: "10.0.0.1:9443".into(),
            fingerprint: "ab".repeat(32),
            secret: "xyz".into(),
        };
        let s = t.encode();
        assert!(s.starts_with("cnp1."));
        assert_eq!(JoinToken::decode(&s), Some(t));
        assert_eq!(JoinToken::decode("cnp1.!!"), None);
        assert_eq!(JoinToken::decode("other"), None);
    }
}
