#!/usr/bin/env bash
# Make sure a Docker engine answers and debootstrap is present (for locally built base images).
# Idempotent: does nothing when the engine already answers. Installs Debian's docker.io when no
# engine is installed (needs root), then starts dockerd in the background and waits for it.
set -euo pipefail

log=${ENVMINE_DOCKERD_LOG:-/var/log/envmine-dockerd.log}
need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)

if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "envmine: missing ${need_apt[*]}; rerun as root or install them" >&2
        exit 1
    fi
    echo "envmine: installing ${need_apt[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

confine() {  # the build network's firewall (see confine_builds.sh), on this engine's host
    if [ "$(id -u)" = 0 ]; then
        bash "$(dirname "$0")/confine_builds.sh"
    else
        echo "envmine: not root: builds are confined only once root runs \`envmine setup\`" >&2
    fi
}

if docker info >/dev/null 2>&1; then
    confine
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "envmine: no Docker engine answers and this user cannot start one" >&2
    exit 1
fi
echo "envmine: starting dockerd (log: $log)"
mkdir -p "$(dirname "$log")"
setsid nohup dockerd >"$log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "envmine: Docker engine is up"
        confine
        exit 0
    fi
    sleep 1
done
echo "envmine: dockerd did not come up in 60 s; see $log" >&2
tail -20 "$log" >&2 || true
exit 1
