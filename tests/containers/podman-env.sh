# Sourced by the container tests: a private podman (own storage, runtime settings that work in this
# sandbox) so tests never touch or depend on the machine's containers. Needs WORK set to a temp folder.
#   runc: crun refuses the hybrid cgroup layout here; ulimits: the sandbox cannot raise limits, so
#   containers get fixed ones; netavark + aardvark-dns: containers find each other by name.
mkdir -p "$WORK/podman/root" "$WORK/podman/runroot"
cat >"$WORK/podman/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "netavark"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$WORK/podman/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/podman/root"
runroot = "$WORK/podman/runroot"
CONF
export CONTAINERS_CONF="$WORK/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$WORK/podman/storage.conf"
