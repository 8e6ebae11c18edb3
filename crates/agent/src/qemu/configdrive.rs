//! Config drives: the ISO 9660 volume labelled `config-2` that carries a guest's metadata,
//! user data, keys and password when no router serves them (CloudStack's ConfigDrive
//! provider). Made with `genisoimage` and the options CloudStack's `ConfigDriveBuilder` uses
//! (Rock Ridge and Joliet names, lower case and several dots kept), attached as a SCSI
//! CD-ROM (the guest's cloud kernel has virtio-scsi and sr, not AHCI), and swapped in place
//! when the data changes while the VM runs.

use std::path::{Path, PathBuf};

use proto::ConfigDrive;
use serde_json::json;

use super::QemuDriver;
use crate::HostError;

/// The drive's file in the VM's directory.
pub(super) const ISO: &str = "config-2.iso";
/// The QEMU device id of the CD-ROM (QMP swaps its medium).
pub(super) const DEVICE: &str = "cd-config";

/// Writes the drive's files under `staging` (emptied first). Paths were checked by
/// [`ConfigDrive::decoded`]: relative, no `..`.
pub(super) fn stage(drive: &ConfigDrive, staging: &Path) -> crate::HostResult<()> {
    let files = drive.decoded().map_err(HostError::Refused)?;
    let _ = std::fs::remove_dir_all(staging);
    for (path, content) in files {
        let p = staging.join(&path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(HostError::io(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&p, content).map_err(HostError::io(format!("writing {}", p.display())))?;
    }
    std::fs::create_dir_all(staging)
        .map_err(HostError::io(format!("creating {}", staging.display())))?;
    Ok(())
}

/// `genisoimage`'s arguments for an image of `staging` at `out`.
pub(super) fn iso_args(out: &Path, staging: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec!["-o".into(), out.display().to_string()];
    a.extend(
        [
            "-ldots",
            "-allow-lowercase",
            "-allow-multidot",
            "-cache-inodes",
            "-l",
            "-quiet",
            "-J",
            "-r",
            "-V",
            ConfigDrive::LABEL,
        ]
        .map(String::from),
    );
    a.push(staging.display().to_string());
    a
}

/// Builds `dir/config-2.iso` from the drive (readable by QEMU's user, which reopens it when
/// the medium is swapped). The previous image is replaced atomically.
pub(super) fn build(
    sys: &dyn crate::sys::Sys,
    run_as: Option<&super::QemuUser>,
    dir: &Path,
    drive: &ConfigDrive,
) -> crate::HostResult<PathBuf> {
    let staging = dir.join("config-drive");
    stage(drive, &staging)?;
    let out = dir.join(ISO);
    let tmp = dir.join(format!("{ISO}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let args = iso_args(&tmp, &staging);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let made = sys.run("genisoimage", &a, None);
    let _ = std::fs::remove_dir_all(&staging);
    made.map_err(|e| match e {
        HostError::Tool { message, .. } if message.contains("No such file") => {
            HostError::Refused(format!(
                "this host cannot make config drives: genisoimage is not installed ({message})"
            ))
        }
        other => other,
    })?;
    if let Some(u) = run_as {
        rustix::fs::chown(
            &tmp,
            Some(rustix::process::Uid::from_raw(u.uid)),
            Some(rustix::process::Gid::from_raw(u.gid)),
        )
        .map_err(|e| format!("chown {}: {e}", tmp.display()))?;
    }
    std::fs::rename(&tmp, &out).map_err(HostError::io(format!(
        "renaming {} to {}",
        tmp.display(),
        out.display()
    )))?;
    Ok(out)
}

impl QemuDriver {
    /// Builds the VM's config drive off the async workers.
    pub(super) async fn config_drive_iso(
        &self,
        dir: &Path,
        drive: &ConfigDrive,
    ) -> crate::HostResult<PathBuf> {
        let (sys, run_as) = (self.sys.clone(), self.run_as.clone());
        let (d, dr) = (dir.to_path_buf(), drive.clone());
        tokio::task::spawn_blocking(move || build(sys.as_ref(), run_as.as_ref(), &d, &dr))
            .await
            .map_err(|e| format!("building the config drive: {e}"))?
    }

    /// A running VM's data changed: a new image, swapped into its CD-ROM (forced: the guest
    /// may hold the tray locked while it has the drive mounted).
    pub(super) async fn update_config_drive(
        &self,
        name: &str,
        drive: &ConfigDrive,
    ) -> crate::HostResult<serde_json::Value> {
        if self.pid(name).is_none() {
            return Err(HostError::VmNotHere(name.to_string()));
        }
        let dir = self.vm_dir(name);
        let had = self.spec_of(name).is_some_and(|s| s.config_drive.is_some());
        if !had {
            return Err(HostError::Refused(format!(
                "VM {name} was started without a config drive; it gets one at its next start"
            )));
        }
        let iso = self.config_drive_iso(&dir, drive).await?;
        self.qmp(name)
            .await?
            .execute(
                "blockdev-change-medium",
                json!({"id": DEVICE, "filename": iso.display().to_string(), "format": "raw",
                       "read-only-mode": "read-only", "force": true}),
            )
            .await?;
        self.update_spec(name, |s| s.config_drive = Some(drive.clone()));
        Ok(json!({"updated": true}))
    }

    /// attachIso / detachIso on a running VM: the ISO (cached from the image store) goes into
    /// its CD-ROM, or the CD-ROM is emptied (forced: the guest may hold the tray locked).
    pub(super) async fn change_iso(
        &self,
        name: &str,
        iso: Option<uuid::Uuid>,
        pool_path: &str,
    ) -> crate::HostResult<serde_json::Value> {
        if self.pid(name).is_none() {
            return Err(HostError::VmNotHere(name.to_string()));
        }
        let dev = super::cmdline::ISO_DEVICE;
        let mut qmp = self.qmp(name).await?;
        match iso {
            Some(id) => {
                let file = self.iso_file(Path::new(pool_path), id).await?;
                qmp.execute(
                    "blockdev-change-medium",
                    json!({"id": dev, "filename": file.display().to_string(), "format": "raw",
                           "read-only-mode": "read-only", "force": true}),
                )
                .await
                .map_err(|e| {
                    HostError::Refused(format!(
                        "VM {name} has no CD-ROM for ISOs (started by an older agent?): {e}; it gets one at its next start"
                    ))
                })?;
            }
            None => {
                qmp.execute("eject", json!({"id": dev, "force": true}))
                    .await?;
            }
        }
        self.update_spec(name, |s| s.iso = iso);
        Ok(json!({"iso": iso}))
    }
}
