#!/usr/bin/env bash
# Debian packages the test suite drives as real peers: QEMU with iPXE and OVMF firmware, a kernel and busybox for the
# boot payload, nginx for the HTTP benchmark, Chromium for the web UI tests (never a downloaded browser), a C
# toolchain and dpkg-source for `bootherd ipxe build`, a PostgreSQL server for the store tests' private cluster
# (policy-rc.d below keeps its default cluster from starting). As root, missing ones are installed; otherwise the
# command is printed and the run fails: a test that needs a tool fails without it, it is never skipped.
set -euo pipefail
pkgs=(qemu-system-x86 ipxe ipxe-qemu ovmf busybox-static cpio linux-image-amd64 iproute2 curl nginx-light wrk atftp tftp-hpa dnsmasq-base isc-dhcp-client isc-dhcp-server kea-dhcp4-server kea-admin python3 xorriso isolinux syslinux-common pxelinux chromium mtools memtest86+ gcc make libc6-dev liblzma-dev dpkg-dev postgresql tcpdump openipmi ipmitool grub-efi-amd64-signed shim-signed qemu-system-arm qemu-efi-aarch64)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd=(apt-get install -y -q --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages for the tests; run: sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages like nginx would start their daemons on the host (port 80): forbid service starts during the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -q >/dev/null
"${cmd[@]}" >/dev/null
