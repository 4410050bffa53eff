#!/usr/bin/env bash
# Builds the `cohort` container image: the single-file binary (deploy/publish.sh) plus exactly the
# shared libraries it loads, on an empty base. No SDK or base image is pulled, so it builds offline.
#   deploy/container/build.sh [TAG]          (default: localhost/cohort:latest)
# COHORT_BINARY=PATH uses an already published binary instead of publishing again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tag="${1:-localhost/cohort:latest}"
binary="${COHORT_BINARY:-}"
if [ -z "$binary" ]; then
  "$root/deploy/publish.sh" >/dev/null
  binary="$root/.build/publish/linux-x64/cohort"
fi
context="$root/.build/container"
rm -rf "$context"
rootfs="$context/rootfs"
mkdir -p "$rootfs/etc/cohort" "$rootfs/tmp" "$context/owned/data" "$context/owned/site"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/cohort"

# The binary's own dependencies (ldd), plus OpenSSL, which .NET opens at run time for TLS and ldd
# cannot see; copied with their full paths so the dynamic loader finds them where it looks.
libdir=/lib/x86_64-linux-gnu
libs=$( { ldd "$rootfs/cohort"; ldd "$libdir/libssl.so.3"; echo " $libdir/libssl.so.3 => $libdir/libssl.so.3"; } \
  | awk '/=> \//{print $3} $1 ~ /^\/lib64\//{print $1}' | sort -u)
for lib in $libs; do
  real="$(readlink -f "$lib")"
  mkdir -p "$rootfs$(dirname "$lib")"
  cp "$real" "$rootfs$lib"
done

# A non-root user for the process; /data and /site (staged in owned/) are its volumes.
printf 'root:x:0:0:root:/:/sbin/nologin\ncohort:x:10001:10001:cohort:/data:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\ncohort:x:10001:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
cp "$root/deploy/container/Containerfile" "$context/Containerfile"
podman build --quiet --format docker -t "$tag" "$context" >/dev/null
echo "built $tag: $(podman image inspect "$tag" --format '{{.Size}}') bytes"
