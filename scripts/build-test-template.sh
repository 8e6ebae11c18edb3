#!/usr/bin/env bash
# Builds Canopy's built-in small Linux template from Debian packages (no network beyond the
# package registry; see shared/reference/host-platform.md):
#   vmlinux          the Debian 6.1 kernel, uncompressed (fast direct boot under TCG)
#   initramfs.cpio.gz  busybox + the modules a virtio guest needs (virtio_net, virtio_blk,
#                    ext4 and deps, crc32c_generic, button/evdev for ACPI power-off) and an
#                    init that mounts the root disk, brings up eth0 with DHCP, and prints
#                    "CANOPY-GUEST-READY" on the serial console
#   root.qcow2       a small ext4 root filesystem (busybox userland)
#   template.json    file names, sizes and sha256 sums
# Output: ${CANOPY_TEMPLATE_DIR:-$HOME/.cache/canopy/template}. Idempotent: rebuilt only
# when missing. Needs root for apt-get download (as on CI).
set -euo pipefail
OUT=${CANOPY_TEMPLATE_DIR:-$HOME/.cache/canopy/template}
# Bump when the guest's init changes: an older build is rebuilt.
VERSION=4
if [ -f "$OUT/template.json" ] && [ -f "$OUT/root.qcow2" ] && [ -f "$OUT/vmlinux" ] \
   && grep -q "\"version\": $VERSION" "$OUT/template.json"; then
  echo "build-test-template: $OUT is built (version $VERSION)"
  exit 0
fi
WORK=$(mktemp -d /tmp/canopy-template.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

if ! command -v mkfs.ext4 >/dev/null || ! command -v qemu-img >/dev/null; then
  echo "build-test-template: needs mkfs.ext4 (e2fsprogs) and qemu-img (qemu-utils)" >&2
  exit 1
fi
KPKG=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
if [ -z "$KPKG" ]; then
  apt-get update -qq
  KPKG=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)
fi
echo "build-test-template: using $KPKG and busybox-static"
apt-get download -qq "$KPKG" busybox-static
dpkg-deb -x "$KPKG"_*.deb kernel
dpkg-deb -x busybox-static_*.deb bb
KVER=$(ls kernel/lib/modules | head -1)
BUSYBOX=bb/bin/busybox

# Uncompressed kernel: decompress the XZ payload embedded in the bzImage.
python3 - kernel/boot/vmlinuz-"$KVER" vmlinux <<'PY'
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
if at < 0:
    sys.exit("no XZ payload in the kernel image")
out = lzma.LZMADecompressor().decompress(data[at:])
if not out.startswith(b"\x7fELF"):
    sys.exit("the decompressed kernel is not an ELF vmlinux")
open(sys.argv[2], "wb").write(out)
PY

# initramfs: busybox, modules in dependency order, init. (In Debian's 6.1 kernels the virtio
# core itself is modular too.)
MODS="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci crc16 mbcache jbd2 crc32c_generic ext4 failover net_failover virtio_net virtio_blk button evdev"
mkdir -p init/{bin,sbin,dev,proc,sys,mnt/root,lib/modules,etc,tmp}
cp "$BUSYBOX" init/bin/busybox
for m in $MODS; do
  f=$(find kernel/lib/modules/"$KVER" -name "$m.ko*" | head -1)
  if [ -n "$f" ]; then
    case "$f" in
      *.xz) xz -dc "$f" > init/lib/modules/"$m".ko ;;
      *.zst) zstd -qdc "$f" > init/lib/modules/"$m".ko ;;
      *) cp "$f" init/lib/modules/"$m".ko ;;
    esac
  fi
done
cat > init/init <<SH
#!/bin/busybox sh
MODS="$MODS"
SH
cat >> init/init <<'SH'
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $MODS; do
  [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko 2>/dev/null
done
ip link set lo up
# The VM's name (the host gives it on the kernel command line).
for w in $(cat /proc/cmdline); do case "$w" in canopy.name=*) hostname "${w#canopy.name=}";; esac; done
# Drivers probe asynchronously: wait (bounded) for the disk and the NIC.
i=0; while [ $i -lt 50 ] && ! { [ -b /dev/vda ] && ip link show eth0 >/dev/null 2>&1; }; do sleep 0.1; i=$((i+1)); done
if ip link show eth0 >/dev/null 2>&1; then
  ip link set eth0 up
  udhcpc -i eth0 -q -t 5 -n -s /bin/udhcpc.script >/dev/null 2>&1 && echo "CANOPY-GUEST-IP $(ip -4 -o addr show eth0 | awk '{print $4}')"
fi
[ -b /dev/vda ] && mount -t ext4 /dev/vda /mnt/root && echo "CANOPY-GUEST-ROOT $(cat /mnt/root/etc/canopy-release)"
# ACPI power button (graceful stop): busybox acpid runs /etc/acpi/PWRF/00000080.
mkdir -p /var/log /var/run
acpid
# Test services: a web page naming this VM on ports 80 and 81, and a counter that
# advances every second (live migration keeps it counting).
mkdir -p /www && hostname > /www/index.html
httpd -p 80 -h /www && httpd -p 81 -h /www
(i=0; while :; do echo $i > /tmp/tick; i=$((i+1)); sleep 1; done) &
echo "CANOPY-GUEST-READY"
exec sh
SH
mkdir -p init/etc/acpi/PWRF
printf '#!/bin/sh\npoweroff -f\n' > init/etc/acpi/PWRF/00000080
chmod +x init/etc/acpi/PWRF/00000080
cat > init/bin/udhcpc.script <<'SH'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr add "$ip/${mask:-24}" dev "$interface"
[ -n "$router" ] && ip route add default via "$router"
[ -n "$dns" ] && { [ -n "$domain" ] && echo "search $domain"; for d in $dns; do echo "nameserver $d"; done; } > /etc/resolv.conf
exit 0
SH
chmod +x init/init init/bin/udhcpc.script
(cd init && find . | "$WORK/$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -9) > initramfs.cpio.gz

# Root disk: a small ext4 filesystem with a busybox userland.
mkdir -p rootfs/{bin,etc,root,tmp}
cp "$BUSYBOX" rootfs/bin/busybox
echo "canopy-tiny-linux 1 ($KPKG)" > rootfs/etc/canopy-release
truncate -s 64M root.raw
mkfs.ext4 -q -F -d rootfs root.raw
qemu-img convert -f raw -O qcow2 root.raw root.qcow2

mkdir -p "$OUT"
cp vmlinux initramfs.cpio.gz root.qcow2 "$OUT"/
VERSION=$VERSION python3 - "$OUT" "$KPKG" <<'PY'
import hashlib, json, os, sys
out, kpkg = sys.argv[1], sys.argv[2]
files = {}
for n in ("vmlinux", "initramfs.cpio.gz", "root.qcow2"):
    p = os.path.join(out, n)
    files[n] = {"size": os.path.getsize(p), "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
json.dump({"name": "Canopy Tiny Linux", "version": int(os.environ["VERSION"]), "kernel_package": kpkg, "files": files}, open(os.path.join(out, "template.json"), "w"), indent=1)
PY
echo "build-test-template: built in $OUT ($(du -sh "$OUT" | cut -f1))"
