#!/usr/bin/env bash
# Build this repository's Dockerfile without a Docker engine: buildah with chroot isolation and the
# vfs storage driver, which need neither a daemon nor kernel overlay support (a CI box, a sandbox).
#
#   scripts/build-image.sh [TAG]      (default newsworker:ci)
#
# No image registry may be reachable, so the Dockerfile's PYTHON_IMAGE is a local Debian bookworm
# + python3 base that debootstrap makes from the Debian mirror this machine's apt already uses.
# Both the base and buildah's storage are cached outside the repository, keyed by what makes them,
# so only the first run pays for debootstrap and a second build reuses every unchanged layer:
#   NEWSWORKER_IMAGE_CACHE  (default /var/cache/newsworker-image)  the debootstrap bases
#   NEWSWORKER_IMAGE_ROOT   (default /var/lib/newsworker-image)    buildah storage (vfs)
# pip inside the build uses the host's CA bundle, mounted for the build only (never copied in), and
# the host's proxy variables as build arguments, which are not kept in the final image.
# Prints, last, a line `image: TAG size=<bytes>` that tests read. Needs root (debootstrap, buildah).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-newsworker:ci}"
cache="${NEWSWORKER_IMAGE_CACHE:-/var/cache/newsworker-image}"
root="${NEWSWORKER_IMAGE_ROOT:-/var/lib/newsworker-image}"
suite=bookworm
# python3 is what the Dockerfile's stages run; tini, python3-venv and compilers they install
# themselves, as they do on the official python image, so the Dockerfile's own steps are the test.
include=python3
export BUILDAH_ISOLATION=chroot
bh=(buildah --root "$root/storage" --runroot "$root/run" --storage-driver vfs)
# One build at a time per storage (two test workers, two terminals): a second waits, then finds
# the first one's layers and only re-tags.
mkdir -p "$root"
exec 9>"$root/build.lock"
flock -n 9 || { echo "build-image: another build holds $root/build.lock; waiting" >&2; flock 9; }

# The Debian mirror apt uses here (deb822 sources or a one-line sources.list), for the same suite.
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '
      /^[ \t]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (uri != "" && ok) print uri }' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" && $0 !~ /\[/ && $3 == s { print $2; exit }
                       $1 == "deb" && $0 ~ /\[/ { for (i = 2; i <= NF; i++) if ($i ~ /\]$/) { if ($(i+2) == s) { print $(i+1); exit } } }' "$f"
  done
}
mirror_url="${NEWSWORKER_DEBIAN_MIRROR:-$(mirror | grep -v -- '-security' | head -n1)}"
[ -n "$mirror_url" ] || { echo "build-image: no Debian $suite mirror found in /etc/apt/sources*" >&2; exit 2; }

# The base: what makes it is the suite, the package list, the mirror and this recipe's version.
key="$(printf '%s\n' "$suite" "$include" "$mirror_url" "recipe-2" | sha256sum | cut -c1-12)"
base_tag="localhost/newsworker-base:$suite-$key"
rootfs="$cache/$suite-$key/rootfs"
t0=$(date +%s)
if ! "${bh[@]}" inspect --type image "$base_tag" >/dev/null 2>&1; then
  if [ ! -f "$cache/$suite-$key/done" ]; then
    echo "build-image: debootstrap $suite ($include) from $mirror_url into $rootfs"
    rm -rf "$cache/$suite-$key"
    mkdir -p "$cache/$suite-$key"
    debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror_url" \
      > "$cache/$suite-$key/debootstrap.log" 2>&1 \
      || { tail -n 30 "$cache/$suite-$key/debootstrap.log" >&2; exit 1; }
    # What a slim base image leaves out too: package caches and lists, docs, man pages, locales.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
      "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
    # apt inside the build reaches the same mirror the host uses.
    printf 'deb %s %s main\n' "$mirror_url" "$suite" > "$rootfs/etc/apt/sources.list"
    touch "$cache/$suite-$key/done"
  fi
  echo "build-image: importing the base as $base_tag"
  ctr="$("${bh[@]}" from scratch)"
  mnt="$("${bh[@]}" mount "$ctr")"
  cp -a "$rootfs"/. "$mnt"/
  "${bh[@]}" umount "$ctr" >/dev/null
  "${bh[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd /bin/sh "$ctr"
  "${bh[@]}" commit --quiet --rm "$ctr" "$base_tag" >/dev/null
  # Bases of earlier recipes: their images and debootstrap trees are not used any more.
  "${bh[@]}" images --format '{{.Name}}:{{.Tag}}' | grep -F 'localhost/newsworker-base:' \
    | grep -vF "$base_tag" | xargs -r "${bh[@]}" rmi >/dev/null 2>&1 || true
  find "$cache" -mindepth 1 -maxdepth 1 -name "$suite-*" ! -name "$suite-$key" -exec rm -rf {} + 2>/dev/null || true
fi
t1=$(date +%s)

# The image for this exact build context (what .dockerignore lets in) on this base: when it is
# already in the storage, a second run only tags it. No --layers: with vfs every cached layer is a
# full copy of the tree, so per-step caching costs more than it saves; a changed context rebuilds.
ctx="$(
  { printf '%s\n' "$base_tag"; cat Dockerfile .dockerignore
    find constraints.txt pyproject.toml README.md worker -type f \
      ! -path '*/__pycache__/*' ! -name '*.py[cod]' ! -path '*.egg-info/*' -print0 \
      | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16
)"
ctx_tag="localhost/newsworker:ctx-$ctx"
if "${bh[@]}" inspect --type image "$ctx_tag" >/dev/null 2>&1; then
  echo "build-image: $ctx_tag is up to date (same build context), not rebuilt"
else
  build_args=(--build-arg "PYTHON_IMAGE=$base_tag")
  for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy PIP_INDEX_URL; do
    [ -n "${!v:-}" ] && build_args+=(--build-arg "$v=${!v}")
  done
  # Mounted beside, not over, the base's own bundle: apt's ca-certificates rewrites that one.
  volumes=()
  ca="$(pip config get global.cert 2>/dev/null || true)"
  ca="${PIP_CERT:-${ca:-/etc/ssl/certs/ca-certificates.crt}}"
  [ -f "$ca" ] && volumes+=(--volume "$ca:/run/host-ca-certificates.crt:ro") \
    && build_args+=(--build-arg "PIP_CERT=/run/host-ca-certificates.crt")
  echo "build-image: buildah build $ctx_tag (base $base_tag)"
  # --format docker: the OCI format has no HEALTHCHECK.
  "${bh[@]}" build --isolation chroot --format docker "${build_args[@]}" "${volumes[@]}" \
    --tag "$ctx_tag" --file Dockerfile .
fi
"${bh[@]}" tag "$ctx_tag" "$tag"
# Earlier builds' images (untagged once TAG moved on) and builder stages: only this one is kept.
"${bh[@]}" images --format '{{.Name}}:{{.Tag}}' | grep -F 'localhost/newsworker:ctx-' \
  | grep -vF "$ctx_tag" | xargs -r "${bh[@]}" rmi >/dev/null 2>&1 || true
"${bh[@]}" rmi --prune >/dev/null 2>&1 || true
t2=$(date +%s)
echo "build-image: base $((t1 - t0))s, image $((t2 - t1))s"
echo "image: $tag id=$("${bh[@]}" inspect --type image --format '{{.FromImageID}}' "$tag")"
