#!/usr/bin/env bash
# Confine the build network's bridge (envmine-build): build steps run the repository's own code
# (setup.py, npm lifecycle scripts, build.rs), so they may reach the package registries out of
# the host's egress interface and nothing else. Idempotent (each rule is checked first); needs
# root on the engine's host. Run by ensure_docker.sh (`envmine setup`) and by a root pipeline
# before its first build. The rules name the bridge, so they hold before the network exists
# and after it is re-created.
#   INPUT: nothing from the bridge reaches a host service, on any host address (the bridge's
#          own gateway, docker0's, eth0's: a listener on 0.0.0.0).
#   DOCKER-USER (forwarding): only out of the egress interface (not into other bridges or to
#          containers' published ports), never to the egress interface's own subnets or to
#          link-local addresses (cloud metadata), except DNS to the host's resolvers.
set -euo pipefail

bridge=${1:-envmine-build}
egress=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
if [ -z "$egress" ]; then
    echo "envmine: no default route; builds cannot reach the registries" >&2
    exit 1
fi

rule() {  # rule TOOL CHAIN ARGS...: insert at the top unless present
    local tool=$1 chain=$2
    shift 2
    "$tool" -C "$chain" "$@" 2>/dev/null || "$tool" -I "$chain" 1 "$@"
}

rule iptables INPUT -i "$bridge" -j DROP
if command -v ip6tables >/dev/null && ip6tables -S INPUT >/dev/null 2>&1; then
    rule ip6tables INPUT -i "$bridge" -j DROP
fi

iptables -N DOCKER-USER 2>/dev/null || true
# Inserted at the top in reverse order: the DNS exceptions end up first.
while read -r subnet; do
    rule iptables DOCKER-USER -i "$bridge" -d "$subnet" -j DROP
done < <(ip -4 route show dev "$egress" scope link | awk '{print $1}')
rule iptables DOCKER-USER -i "$bridge" -d 169.254.0.0/16 -j DROP
rule iptables DOCKER-USER -i "$bridge" ! -o "$egress" -j DROP
for ns in $(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ {print $2}' /etc/resolv.conf); do
    for proto in udp tcp; do
        rule iptables DOCKER-USER -i "$bridge" -o "$egress" -d "$ns" -p "$proto" --dport 53 -j RETURN
    done
done
