//! Hypervisor hosts and the join tokens their agents present.

use super::objects::*;
use crate::registry::{roles::*, CommandSpec, ParamType::*};

pub fn specs() -> Vec<CommandSpec> {
    vec![
        CommandSpec::new("addHost", "Adds a new host. For KVM hosts the answer carries a join token for the host's agent (canopy agent --token); a simulator URL (http://sim/...) starts a simulated host at once.")
            .roles(ADMIN)
            .returns("host", HOST)
            .related("listHosts")
            .req("zoneid", Uuid, "the Zone ID for the host")
            .rel("listZones")
            .req("podid", Uuid, "the Pod ID for the host")
            .rel("listPods")
            .req("url", String, "the host URL: http://ADDRESS for KVM hosts, http://sim/... for simulated hosts")
            .req("hypervisor", String, "hypervisor type of the host: KVM or Simulator")
            .opt("clusterid", Uuid, "the cluster ID for the host")
            .rel("listClusters")
            .opt("clustername", String, "the cluster name for the host")
            .opt("username", String, "the username for the host; not used (agents join with a token)")
            .opt("password", String, "the password for the host; not used (agents join with a token)")
            .opt("hosttags", List, "list of tags to be added to the host")
            .opt("allocationstate", String, "Allocation state of this Host for allocation of new resources"),
        CommandSpec::new("listHosts", "Lists hosts.")
            .roles(ADMIN)
            .returns("host", HOST)
            .list()
            .opt("id", Uuid, "the id of the host")
            .opt("name", String, "the name of the host")
            .opt("zoneid", Uuid, "the Zone ID for the host")
            .rel("listZones")
            .opt("podid", Uuid, "the Pod ID for the host")
            .rel("listPods")
            .opt("clusterid", Uuid, "lists hosts existing in particular cluster")
            .rel("listClusters")
            .opt("type", String, "the host type")
            .opt("state", String, "the state of the host")
            .opt("resourcestate", String, "list hosts by resource state. Resource state represents current state determined by admin of host, value can be one of [Enabled, Disabled, Unmanaged, PrepareForMaintenance, ErrorInMaintenance, Maintenance, Error]")
            .opt("hypervisor", String, "hypervisor type of host: KVM, Simulator")
            .opt("details", List, "comma separated list of host details requested, value can be a list of [ min, all, capacity, events, stats]"),
        CommandSpec::new("updateHost", "Updates a host.")
            .roles(ADMIN)
            .returns("host", HOST)
            .req("id", Uuid, "the ID of the host to update")
            .opt("hosttags", List, "list of tags to be added to the host; an empty value clears them")
            .opt("allocationstate", String, "Change resource state of host, valid values are [Enable, Disable]. Operation may failed if host in states not allowing Enable/Disable")
            .opt("name", String, "the new name of the host")
            .opt("annotation", String, "Add an annotation to this host")
            .opt("returnproxy", Boolean, "true: make the host (its address) its cluster's return proxy, with updateCluster's returnproxyuser/returnproxysshport/returnproxypublicaddress/returnproxyuse when given; refused when the cluster has another; false: undesignate it (Canopy)")
            .opt("returnproxyuser", String, "the SSH user on the return proxy (Canopy)")
            .opt("returnproxysshport", Integer, "the return proxy's SSH port (Canopy)")
            .opt("vmslots", Integer, "how many VMs the host may run (Canopy): overrides its cluster's vmslots and the hypervisor's maxguestslimit; empty clears it"),
        CommandSpec::new("deleteHost", "Deletes a host.")
            .roles(ADMIN)
            .returns("success", SUCCESS)
            .req("id", Uuid, "the host ID")
            .opt("forced", Boolean, "Force delete the host. All HA enabled vms running on the host will be put to HA; HA disabled ones will be stopped")
            .opt("forcedestroylocalstorage", Boolean, "Force destroy local storage on this host. All VMs created on this local storage will be destroyed"),
        CommandSpec::new("reconnectHost", "Reconnects a host.")
            .roles(ADMIN)
            .asynchronous()
            .returns("host", HOST)
            .req("id", Uuid, "the host ID"),
        CommandSpec::new("createHostJoinToken", "Mints a join token for host agents (Canopy extension): bound to one host address (from addHost), or a cluster token that admits up to `uses` new hosts.")
            .roles(ADMIN)
            .returns("jointoken", JOIN_TOKEN)
            .req("clusterid", Uuid, "the cluster the token admits hosts to")
            .rel("listClusters")
            .opt("hostaddress", String, "bind the token to this host address (a host added with addHost)")
            .opt("uses", Integer, "how many hosts a cluster token admits (default 1)")
            .opt("validityminutes", Integer, "how long the token is valid (default 60 minutes)"),
    ]
}
