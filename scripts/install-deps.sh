#!/usr/bin/env bash
# Installs what the tests need and is missing, and nothing else:
#   - PostgreSQL server binaries (the DataStore suite runs on a throwaway cluster);
#   - python3-venv, and a virtualenv with the `cs` CloudStack client (end-to-end tests);
#   - QEMU (qemu-system-x86 from bookworm-backports, through a private source list so the
#     machine's qemu-utils 10 is kept — see shared/reference/host-platform.md), e2fsprogs;
#   - the system user canopy-qemu that host agents run QEMU as;
#   - openssh-client (ssh-keygen cross-checks the SSH keys Canopy generates), jq and curl (the README
#     walkthrough);
#   - nftables, haproxy, dnsmasq-base, iproute2, busybox-static: the hosts' data plane (security
#     groups, routers with DHCP/DNS and load balancers) and the real-hosts test;
#   - genisoimage: hosts build config drives with it (as CloudStack does);
#   - openssl: the real-hosts test makes the certificate its HTTPS load balancer uploads;
#   - tinyproxy: the HTTP proxy a locked-down site downloads images through (secstorage.proxy),
#     started on loopback by the real-hosts test;
#   - openssh-server: the return proxy's sshd in the return-proxy tests (the server's tunnel
#     is the OpenSSH client);
#   - debootstrap, syslinux, syslinux-common, mtools, dosfstools, fdisk:
#     scripts/build-debian-image.sh builds the
#     Debian cloud image the real-hosts test boots (from Debian's packages only);
#   - chromium (Debian's) for the web console's browser tests, and Node.js with npm when the
#     machine has none (the UI is built with npm; playwright-core drives Debian's chromium —
#     no test tool downloads a browser).
# Idempotent; safe to run on every test run. Needs root for apt-get (as on CI).
set -euo pipefail

CACHE=${CANOPY_CACHE:-$HOME/.cache/canopy}
VENV="$CACHE/venv"
mkdir -p "$CACHE"

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
# The README walkthrough picks ids out of answers with jq.
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The data plane's tools: the compiled nftables/haproxy/dnsmasq files are checked by them.
[ -x /usr/sbin/nft ] || need+=(nftables)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
# Host agents: iproute2 (ip, bridge), busybox (ping for host checks; the template's userland).
command -v bridge >/dev/null 2>&1 || need+=(iproute2)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
# The Debian cloud image the real-hosts test boots.
# Config drives (genisoimage, as CloudStack's ConfigDriveBuilder; isoinfo for the tests).
command -v genisoimage >/dev/null 2>&1 || need+=(genisoimage)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The outbound proxy of a locked-down site (the real-hosts test downloads a template through it).
[ -x /usr/bin/tinyproxy ] || need+=(tinyproxy)
# A return proxy's sshd (the tests start one); the server's side is the OpenSSH client.
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v mkfs.vfat >/dev/null 2>&1 || need+=(dosfstools)
command -v sfdisk >/dev/null 2>&1 || need+=(fdisk)
# Site-to-site VPN on VPC routers: strongSwan's charon with userspace ESP (kernel-libipsec, in
# libcharon-extra-plugins: no kernel ESP needed), swanctl and its VICI plugin, and the openssl/
# gcm plugins (libstrongswan-standard-plugins).
[ -x /usr/lib/ipsec/charon ] || need+=(strongswan-charon)
command -v swanctl >/dev/null 2>&1 || need+=(strongswan-swanctl)
[ -f /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] || need+=(libcharon-extra-plugins)
[ -f /usr/lib/ipsec/plugins/libstrongswan-openssl.so ] || need+=(libstrongswan-standard-plugins)
# The web console: built with npm, tested in Debian's chromium.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

command -v mkfs.ext4 >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends e2fsprogs; }

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "install-deps: installing QEMU from bookworm-backports (qemu-utils is kept)"
  L="$CACHE/apt-backports"
  mkdir -p "$L/lists/partial"
  printf '%s\n' \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" \
    "deb http://deb.debian.org/debian bookworm-backports main" > "$L/sources.list"
  APT=(-o Dir::Etc::sourcelist="$L/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::lists="$L/lists")
  apt-get -qq "${APT[@]}" update
  DEBIAN_FRONTEND=noninteractive apt-get -qq "${APT[@]}" install -y --no-install-recommends \
    qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports \
    qemu-system-data/bookworm-backports seabios/bookworm-backports
fi

# The unprivileged user host agents run QEMU as (after it has opened its devices as root).
if ! getent passwd canopy-qemu >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "install-deps: creating the system user canopy-qemu (QEMU drops to it)"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin canopy-qemu
fi

if ! "$VENV/bin/python" -c 'import cs' >/dev/null 2>&1; then
  echo "install-deps: creating $VENV with cs==5.2.0"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check cs==5.2.0
fi
echo "install-deps: ok (node $(node --version), npm $(npm --version 2>/dev/null), $(/usr/bin/chromium --version 2>/dev/null | head -1),
  postgres: $(ls -d /usr/lib/postgresql/*/bin | tail -1), $(qemu-system-x86_64 --version | head -1), cs venv: $VENV)"
