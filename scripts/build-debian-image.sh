#!/usr/bin/env bash
# Builds a Debian 12 (bookworm) cloud image from Debian's packages only — the kind of image
# users really run — and prints its path:
#   debian-12.qcow2   a disk that boots by itself: syslinux's MBR, a FAT boot partition
#                     (syslinux, Debian's cloud kernel and initramfs), an ext4 root
#                     (label `root`):
#                     cloud-init (CloudStack, ConfigDrive and NoCloud datasources; its ssh
#                     and set_passwords modules run at every boot, as CloudStack's template
#                     guide prepares images, so reset keys and passwords apply),
#                     openssh-server, qemu-guest-agent, wget (cloud-init's CloudStack password
#                     client runs it), gettys on the VGA console and ttyS0;
#                     cloud-init's default user is `debian` (key-only SSH; a password only if
#                     the cloud sets one)
#   image.json        version, size, sha256, kernel
# Output: ${CANOPY_DEBIAN_IMAGE_DIR:-$HOME/.cache/canopy/debian}; rebuilt only when missing or
# older than VERSION. Needs root (debootstrap; no loop device or mount) and the packages
# debootstrap, syslinux, syslinux-common, mtools, dosfstools, fdisk, qemu-utils
# (scripts/install-deps.sh).
set -euo pipefail
OUT=${CANOPY_DEBIAN_IMAGE_DIR:-$HOME/.cache/canopy/debian}
# Bump when the image's contents change: an older build is rebuilt.
VERSION=5
IMG="$OUT/debian-12.qcow2"
if [ -f "$IMG" ] && [ -f "$OUT/image.json" ] && grep -q "\"version\": $VERSION," "$OUT/image.json"; then
  echo "$IMG"
  exit 0
fi
for t in debootstrap syslinux mcopy mkfs.vfat sfdisk mkfs.ext4 qemu-img; do
  command -v "$t" >/dev/null || { echo "build-debian-image: needs $t (scripts/install-deps.sh)" >&2; exit 1; }
done
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || { echo "build-debian-image: needs $MBR (syslinux-common)" >&2; exit 1; }
MIRROR=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

WORK=$(mktemp -d /tmp/canopy-debian.XXXXXX)
cleanup() {
  for m in "$WORK/root/proc" "$WORK/root/sys" "$WORK/root/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount "$m" || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
ROOT="$WORK/root"
log() { echo "build-debian-image: $*" >&2; }

log "debootstrap bookworm from $MIRROR (a few minutes)"
BASE=systemd-sysv,udev,dbus,ifupdown,isc-dhcp-client,netbase,iproute2,iputils-ping,sudo,ca-certificates,less,procps
debootstrap --variant=minbase --include="$BASE" bookworm "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -30 "$WORK/debootstrap.log" >&2; tail -30 "$ROOT/debootstrap/debootstrap.log" >&2 || true; exit 1; }
# The kernel, cloud-init and the guest services, installed in the new system (with /proc,
# /sys and /dev, services not started).
mount -t proc proc "$ROOT/proc"
mount -t sysfs sys "$ROOT/sys"
mount --bind /dev "$ROOT/dev"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod +x "$ROOT/usr/sbin/policy-rc.d"
log "installing the kernel, cloud-init, openssh-server, qemu-guest-agent"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  linux-image-cloud-amd64 initramfs-tools cloud-init openssh-server qemu-guest-agent wget \
  >"$WORK/install.log" 2>&1 || { tail -40 "$WORK/install.log" >&2; exit 1; }
rm -f "$ROOT/usr/sbin/policy-rc.d"

KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
log "kernel $KVER"

# The system: root by label, DHCP on the first NIC until cloud-init writes its own
# configuration, the datasources a CloudStack guest uses, no machine identity baked in.
cat >"$ROOT/etc/fstab" <<'EOF'
LABEL=root / ext4 defaults,errors=remount-ro 0 1
EOF
cat >"$ROOT/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
EOF
mkdir -p "$ROOT/etc/network/interfaces.d" "$ROOT/etc/cloud/cloud.cfg.d"
cat >"$ROOT/etc/cloud/cloud.cfg.d/90-canopy.cfg" <<'EOF'
# Canopy: the datasources a CloudStack guest finds its data with (the virtual router's data
# server, a config drive), and NoCloud for a bare boot with a seed.
datasource_list: [ CloudStack, ConfigDrive, NoCloud, None ]
EOF
# As CloudStack's template guide prepares cloud-init images: the ssh and set_passwords
# modules run at every boot (not once per instance), so resetSSHKeyForVirtualMachine's and
# resetPasswordForVirtualMachine's new key or password apply at the next start; host keys
# are kept across boots (made once, at the first boot, since none are baked in).
sed -i -E -e 's/^( *)- ssh$/\1- [ssh, always]/' -e 's/^( *)- set[-_]passwords$/\1- [set_passwords, always]/' \
  "$ROOT/etc/cloud/cloud.cfg"
grep -q -- '- \[ssh, always\]' "$ROOT/etc/cloud/cloud.cfg" && grep -q -- '- \[set_passwords, always\]' "$ROOT/etc/cloud/cloud.cfg" \
  || { echo "build-debian-image: cloud.cfg has no ssh/set_passwords module lines to change" >&2; exit 1; }
echo "ssh_deletekeys: false" >>"$ROOT/etc/cloud/cloud.cfg.d/90-canopy.cfg"
echo "debian" >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# SSH host keys are made by cloud-init at the first boot of each instance.
rm -f "$ROOT"/etc/ssh/ssh_host_*
# The initramfs with the drivers a virtio guest boots from, and those of the config drive
# (a virtio-SCSI CD-ROM): cloud-init's ds-identify looks for the config-2 label early in the
# boot, before the root's udev would load them.
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\nvirtio_scsi\nsr_mod\nisofs\n' >>"$ROOT/etc/initramfs-tools/modules"
chroot "$ROOT" update-initramfs -u -k "$KVER" >"$WORK/initramfs.log" 2>&1 \
  || { tail -20 "$WORK/initramfs.log" >&2; exit 1; }
chroot "$ROOT" systemctl enable serial-getty@ttyS0.service getty@tty1.service >/dev/null 2>&1 || true
chroot "$ROOT" apt-get clean
umount "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log "$ROOT"/tmp/*

# Boot: a small FAT partition with the kernel, the initramfs and syslinux (installed into the
# image file through mtools: no loop device, no mount), then the root filesystem made from
# the tree. Kernel updates inside the guest do not reach the boot partition.
BOOT_MB=256
ROOT_MB=2048
BOOT="$WORK/boot.img"
truncate -s ${BOOT_MB}M "$BOOT"
mkfs.vfat -n BOOT "$BOOT" >/dev/null
printf 'DEFAULT debian\nPROMPT 0\nTIMEOUT 0\nLABEL debian\n  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND root=LABEL=root ro console=tty0 console=ttyS0,115200n8 net.ifnames=0\n' \
  >"$WORK/syslinux.cfg"
mcopy -i "$BOOT" "$ROOT/boot/vmlinuz-$KVER" ::/vmlinuz
mcopy -i "$BOOT" "$ROOT/boot/initrd.img-$KVER" ::/initrd.img
mcopy -i "$BOOT" "$WORK/syslinux.cfg" ::/syslinux.cfg
syslinux --install "$BOOT"
PART="$WORK/root.img"
truncate -s ${ROOT_MB}M "$PART"
mkfs.ext4 -q -F -L root -d "$ROOT" "$PART"

# The disk: an MBR with the boot partition (bootable) at 1 MiB and the root partition after
# it, syslinux's boot code.
DISK="$WORK/disk.raw"
truncate -s 1M "$DISK"
cat "$BOOT" "$PART" >>"$DISK"
printf 'label: dos\nstart=2048, size=%d, type=c, bootable\nstart=%d, type=83\n' \
  $((BOOT_MB * 2048)) $((2048 + BOOT_MB * 2048)) | sfdisk -q "$DISK"
dd if="$MBR" of="$DISK" bs=440 count=1 conv=notrunc status=none
mkdir -p "$OUT"
qemu-img convert -q -c -f raw -O qcow2 "$DISK" "$IMG.tmp"
mv "$IMG.tmp" "$IMG"
python3 - "$OUT" "$VERSION" "$KVER" <<'PY'
import hashlib, json, os, sys
out, version, kver = sys.argv[1], int(sys.argv[2]), sys.argv[3]
p = os.path.join(out, "debian-12.qcow2")
h = hashlib.sha256()
with open(p, "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
json.dump({"name": "Debian 12 (cloud-init)", "version": version, "kernel": kver,
           "size": os.path.getsize(p), "sha256": h.hexdigest(), "default_user": "debian"},
          open(os.path.join(out, "image.json"), "w"), indent=1)
PY
log "built $IMG ($(du -h "$IMG" | cut -f1))"
echo "$IMG"
