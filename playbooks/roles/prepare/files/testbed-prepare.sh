#!/bin/sh
# Make a systemd-nspawn test machine able to run pods (docs/testbed.md): it starts with /proc/sys/net and the
# cgroup trees read-only and IPv4 forwarding off. Never remount /proc/sys without `bind`: that turns all of
# /proc read-only and breaks SSH.
set -eu
if ! findmnt -n -o OPTIONS /proc/sys/net | grep -q '^rw'; then
    mount --bind /proc/sys/net /proc/sys/net
    mount -o remount,bind,rw /proc/sys/net
fi
awk '$3 == "cgroup" && $4 ~ /^ro/ {print $2}' /proc/mounts | while read -r mountpoint; do
    mount -o remount,bind,rw "$mountpoint"
done
sysctl -q -w net.ipv4.ip_forward=1
