//! Response objects of the inventory: zones, pods, clusters, physical networks, offerings,
//! hosts, storage, templates, capacity.

use crate::registry::{f, Field};

pub const ZONE: &[Field] = &[
    f("id", "string", "Zone id"),
    f("name", "string", "Zone name"),
    f("description", "string", "Zone description"),
    f("dns1", "string", "the first DNS for the Zone"),
    f("dns2", "string", "the second DNS for the Zone"),
    f(
        "internaldns1",
        "string",
        "the first internal DNS for the Zone",
    ),
    f(
        "internaldns2",
        "string",
        "the second internal DNS for the Zone",
    ),
    f("ip6dns1", "string", "the first IPv6 DNS for the Zone"),
    f("ip6dns2", "string", "the second IPv6 DNS for the Zone"),
    f(
        "guestcidraddress",
        "string",
        "the guest CIDR address for the Zone",
    ),
    f(
        "networktype",
        "string",
        "the network type of the zone; can be Basic or Advanced",
    ),
    f(
        "securitygroupsenabled",
        "boolean",
        "true if security groups support is enabled, false otherwise",
    ),
    f(
        "allocationstate",
        "string",
        "the allocation state of the cluster",
    ),
    f(
        "localstorageenabled",
        "boolean",
        "true if local storage offering enabled, false otherwise",
    ),
    f(
        "domain",
        "string",
        "Network domain name for the networks in the zone",
    ),
    f(
        "domainid",
        "string",
        "the UUID of the containing domain, null for public zones",
    ),
    f(
        "domainname",
        "string",
        "the name of the containing domain, null for public zones",
    ),
    f("dhcpprovider", "string", "the dhcp Provider for the Zone"),
    f("type", "string", "The type of the zone - core or edge"),
    f(
        "tags",
        "set",
        "the list of resource tags associated with zone.",
    ),
    f(
        "hasannotations",
        "boolean",
        "true if the entity/resource has annotations",
    ),
];

pub const POD: &[Field] = &[
    f("id", "string", "the ID of the Pod"),
    f("name", "string", "the name of the Pod"),
    f("zoneid", "string", "the Zone ID of the Pod"),
    f("zonename", "string", "the Zone name of the Pod"),
    f("gateway", "string", "the gateway of the Pod"),
    f("netmask", "string", "the netmask of the Pod"),
    f("startip", "list", "the starting IP for the Pod"),
    f("endip", "list", "the ending IP for the Pod"),
    f(
        "allocationstate",
        "string",
        "the allocation state of the Pod",
    ),
];

pub const CLUSTER: &[Field] = &[
    f("id", "string", "the cluster ID"),
    f(
        "vmslots",
        "integer",
        "VM slots per host of the cluster, when set (Canopy)",
    ),
    f(
        "returnproxyaddress",
        "string",
        "the private address of the cluster's return proxy (Canopy)",
    ),
    f(
        "returnproxypublicaddress",
        "string",
        "the return proxy's public address (Canopy)",
    ),
    f(
        "returnproxyuse",
        "string",
        "which address of the return proxy the hosts dial: private or public (Canopy)",
    ),
    f(
        "returnproxyuser",
        "string",
        "the SSH user on the return proxy (Canopy)",
    ),
    f(
        "returnproxysshport",
        "integer",
        "the return proxy's SSH port (Canopy)",
    ),
    f(
        "returnproxyhostkey",
        "string",
        "the return proxy's SSH host key, recorded at designation (Canopy)",
    ),
    f(
        "returnproxyhostid",
        "string",
        "the host that is the return proxy, once its agent joined (Canopy)",
    ),
    f(
        "returnproxystate",
        "string",
        "this server's tunnel to the return proxy: Connecting, Up or Down (Canopy)",
    ),
    f(
        "returnproxyport",
        "integer",
        "the proxy's port of this server's tunnel (37140 for the first server) (Canopy)",
    ),
    f(
        "returnproxylasterror",
        "string",
        "why the tunnel last ended (Canopy)",
    ),
    f(
        "returnproxypublickey",
        "string",
        "the management servers' SSH public key, for the proxy's authorized_keys (Canopy)",
    ),
    f("name", "string", "the cluster name"),
    f("podid", "string", "the Pod ID of the cluster"),
    f("podname", "string", "the Pod name of the cluster"),
    f("zoneid", "string", "the Zone ID of the cluster"),
    f("zonename", "string", "the Zone name of the cluster"),
    f(
        "hypervisortype",
        "string",
        "the hypervisor type of the cluster",
    ),
    f("clustertype", "string", "the type of the cluster"),
    f(
        "allocationstate",
        "string",
        "the allocation state of the cluster",
    ),
    f(
        "managedstate",
        "string",
        "whether this cluster is managed by cloudstack",
    ),
    f(
        "cpuovercommitratio",
        "string",
        "The cpu overcommit ratio of the cluster",
    ),
    f(
        "memoryovercommitratio",
        "string",
        "The memory overcommit ratio of the cluster",
    ),
    f("arch", "string", "CPU Arch of the hosts in the cluster"),
];

pub const PHYSICAL_NETWORK: &[Field] = &[
    f("id", "string", "the uuid of the physical network"),
    f("name", "string", "name of the physical network"),
    f("zoneid", "string", "zone id of the physical network"),
    f("zonename", "string", "zone name of the physical network"),
    f("state", "string", "state of the physical network"),
    f("isolationmethods", "string", "isolation methods"),
    f("vlan", "string", "the vlan of the physical network"),
    f(
        "broadcastdomainrange",
        "string",
        "Broadcast domain range of the physical network",
    ),
    f("tags", "string", "comma separated tag"),
    f(
        "networkspeed",
        "string",
        "the speed of the physical network",
    ),
    f(
        "domainid",
        "string",
        "the domain id of the physical network owner",
    ),
];

pub const TRAFFIC_TYPE: &[Field] = &[
    f("id", "string", "id of the network provider"),
    f("traffictype", "string", "the trafficType to be added to the physical network"),
    f("physicalnetworkid", "string", "the physical network this belongs to"),
    f("kvmnetworklabel", "string", "The network name label of the physical device dedicated to this traffic on a KVM host"),
    f("xennetworklabel", "string", "The network name label of the physical device dedicated to this traffic on a XenServer host"),
    f("vmwarenetworklabel", "string", "The network name label of the physical device dedicated to this traffic on a VMware host"),
    f("hypervnetworklabel", "string", "The network name label of the physical device dedicated to this traffic on a HyperV host"),
    f("isolationmethods", "string", "isolation methods for the traffic type"),
    f("vlan", "string", "The VLAN id to be used for Management traffic by VMware host"),
];

pub const PROVIDER: &[Field] = &[
    f("id", "string", "uuid of the network provider"),
    f("name", "string", "the provider name"),
    f(
        "physicalnetworkid",
        "string",
        "the physical network this belongs to",
    ),
    f(
        "destinationphysicalnetworkid",
        "string",
        "the destination physical network",
    ),
    f("state", "string", "state of the network provider"),
    f("servicelist", "list", "services for this provider"),
    f(
        "canenableindividualservice",
        "boolean",
        "true if individual services can be enabled/disabled",
    ),
];

pub const VR_ELEMENT: &[Field] = &[
    f("id", "string", "the id of the router"),
    f(
        "nspid",
        "string",
        "the physical network service provider id of the provider",
    ),
    f(
        "enabled",
        "boolean",
        "Enabled/Disabled the service provider",
    ),
    f(
        "account",
        "string",
        "the account associated with the provider",
    ),
    f(
        "domainid",
        "string",
        "the domain ID associated with the provider",
    ),
    f(
        "domain",
        "string",
        "the domain associated with the provider",
    ),
];

pub const SERVICE_OFFERING: &[Field] = &[
    f("id", "string", "the id of the service offering"),
    f("name", "string", "the name of the service offering"),
    f("displaytext", "string", "an alternate display text of the service offering."),
    f("cpunumber", "integer", "the number of CPU"),
    f("cpuspeed", "integer", "the clock rate CPU speed in Mhz"),
    f("memory", "integer", "the memory in MB"),
    f("created", "date", "the date this service offering was created"),
    f("storagetype", "string", "the storage type for this service offering"),
    f("offerha", "boolean", "the ha support in the service offering"),
    f("limitcpuuse", "boolean", "restrict the CPU usage to committed service offering"),
    f("issystem", "boolean", "is this a system vm offering"),
    f("systemvmtype", "string", "is this a the systemvm type for system vm offering"),
    f("defaultuse", "boolean", "is this a default system vm offering"),
    f("hosttags", "string", "the host tag for the service offering"),
    f("storagetags", "string", "the tags for the service offering"),
    f("domainid", "string", "the domain ID(s) this disk offering belongs to. Ignore this information as it is not currently applicable."),
    f("domain", "string", "the domain name(s) this disk offering belongs to. Ignore this information as it is not currently applicable."),
    f("zoneid", "string", "the zone ID(s) this disk offering belongs to. Ignore this information as it is not currently applicable."),
    f("zone", "string", "the zone name(s) this disk offering belongs to. Ignore this information as it is not currently applicable."),
    f("iscustomized", "boolean", "is true if the offering is customized"),
    f("deploymentplanner", "string", "deployment strategy used to deploy VM."),
    f("state", "string", "state of the service offering"),
    f("provisioningtype", "string", "provisioning type used to create volumes. Valid values are thin, sparse, fat."),
    f("rootdisksize", "long", "Root disk size in GB"),
    f("dynamicscalingenabled", "boolean", "true if virtual machine needs to be dynamically scalable of cpu or memory"),
    f("encryptroot", "boolean", "true if virtual machine root disk will be encrypted on storage"),    f("diskBytesReadRate", "long", "bytes read rate of the disk offering"),
    f("diskBytesReadRateMax", "long", "burst bytes read rate of the disk offering"),
    f("diskBytesReadRateMaxLength", "long", "length (in seconds) of the burst"),
    f("diskBytesWriteRate", "long", "bytes write rate of the disk offering"),
    f("diskBytesWriteRateMax", "long", "burst bytes write rate of the disk offering"),
    f("diskBytesWriteRateMaxLength", "long", "length (in seconds) of the burst"),
    f("diskIopsReadRate", "long", "io requests read rate of the disk offering"),
    f("diskIopsReadRateMax", "long", "burst io requests read rate of the disk offering"),
    f("diskIopsReadRateMaxLength", "long", "length (in seconds) of the burst"),
    f("diskIopsWriteRate", "long", "io requests write rate of the disk offering"),
    f("diskIopsWriteRateMax", "long", "burst io requests write rate of the disk offering"),
    f("diskIopsWriteRateMaxLength", "long", "length (in seconds) of the burst"),
    f("cacheMode", "string", "the cache mode to use for this disk offering. none, writeback or writethrough"),
];

pub const DISK_OFFERING: &[Field] = &[
    f("id", "string", "unique ID of the disk offering"),
    f("name", "string", "the name of the disk offering"),
    f(
        "displaytext",
        "string",
        "an alternate display text of the disk offering.",
    ),
    f("disksize", "long", "the size of the disk offering in GB"),
    f(
        "iscustomized",
        "boolean",
        "true if disk offering uses custom size, false otherwise",
    ),
    f(
        "storagetype",
        "string",
        "the storage type for this disk offering",
    ),
    f("tags", "string", "the tags for the disk offering"),
    f(
        "provisioningtype",
        "string",
        "provisioning type used to create volumes. Valid values are thin, sparse, fat.",
    ),
    f("miniops", "long", "the min iops of the disk offering"),
    f("maxiops", "long", "the max iops of the disk offering"),
    f(
        "iscustomizediops",
        "boolean",
        "true if disk offering uses custom iops, false otherwise",
    ),
    f(
        "displayoffering",
        "boolean",
        "whether to display the offering to the end user or not.",
    ),
    f(
        "domainid",
        "string",
        "the domain ID(s) this disk offering belongs to.",
    ),
    f(
        "zoneid",
        "string",
        "the zone ID(s) this disk offering belongs to.",
    ),
    f("created", "date", "the date this disk offering was created"),
    f("state", "string", "state of the disk offering"),
    f(
        "diskBytesReadRate",
        "long",
        "bytes read rate of the disk offering",
    ),
    f(
        "diskBytesReadRateMax",
        "long",
        "burst bytes read rate of the disk offering",
    ),
    f(
        "diskBytesReadRateMaxLength",
        "long",
        "length (in seconds) of the burst",
    ),
    f(
        "diskBytesWriteRate",
        "long",
        "bytes write rate of the disk offering",
    ),
    f(
        "diskBytesWriteRateMax",
        "long",
        "burst bytes write rate of the disk offering",
    ),
    f(
        "diskBytesWriteRateMaxLength",
        "long",
        "length (in seconds) of the burst",
    ),
    f(
        "diskIopsReadRate",
        "long",
        "io requests read rate of the disk offering",
    ),
    f(
        "diskIopsReadRateMax",
        "long",
        "burst io requests read rate of the disk offering",
    ),
    f(
        "diskIopsReadRateMaxLength",
        "long",
        "length (in seconds) of the burst",
    ),
    f(
        "diskIopsWriteRate",
        "long",
        "io requests write rate of the disk offering",
    ),
    f(
        "diskIopsWriteRateMax",
        "long",
        "burst io requests write rate of the disk offering",
    ),
    f(
        "diskIopsWriteRateMaxLength",
        "long",
        "length (in seconds) of the burst",
    ),
    f(
        "cacheMode",
        "string",
        "the cache mode to use for this disk offering. none, writeback or writethrough",
    ),
];

pub const NETWORK_OFFERING: &[Field] = &[
    f("id", "string", "the id of the network offering"),
    f("name", "string", "the name of the network offering"),
    f("displaytext", "string", "an alternate display text of the network offering."),
    f("traffictype", "string", "the traffic type for the network offering, supported types are Public, Management, Control, Guest, Vlan or Storage."),
    f("isdefault", "boolean", "true if network offering is default, false otherwise"),
    f("specifyvlan", "boolean", "true if network offering supports vlans, false otherwise"),
    f("conservemode", "boolean", "true if network offering is ip conserve mode enabled"),
    f("specifyipranges", "boolean", "true if network offering supports specifying ip ranges, false otherwise"),
    f("availability", "string", "availability of the network offering"),
    f("networkrate", "integer", "data transfer rate in megabits per second allowed."),
    f("state", "string", "state of the network offering. Can be Disabled/Enabled/Inactive"),
    f("guestiptype", "string", "guest type of the network offering, can be Shared or Isolated"),
    f("service", "list", "the list of supported services"),
    f("egressdefaultpolicy", "boolean", "true if guest network default egress policy is allow; false if default egress policy is deny"),
    f("ispersistent", "boolean", "true if network offering supports persistent networks, false otherwise"),
    f("forvpc", "boolean", "true if network offering can be used by VPC networks only"),
    f("tags", "string", "the tags for the network offering"),
    f("domainid", "string", "the domain ID(s) this disk offering belongs to."),
    f("zoneid", "string", "the zone ID(s) this disk offering belongs to."),
    f("created", "date", "the date this network offering was created"),
];

pub const HOST: &[Field] = &[
    f("id", "string", "the ID of the host"),
    f("name", "string", "the name of the host"),
    f("state", "string", "the state of the host"),
    f("resourcestate", "string", "the resource state of the host"),
    f("type", "string", "the host type"),
    f("ipaddress", "string", "the IP address of the host"),
    f("zoneid", "string", "the Zone ID of the host"),
    f("zonename", "string", "the Zone name of the host"),
    f("podid", "string", "the Pod ID of the host"),
    f("podname", "string", "the Pod name of the host"),
    f("clusterid", "string", "the cluster ID of the host"),
    f("clustername", "string", "the cluster name of the host"),
    f(
        "clustertype",
        "string",
        "the cluster type of the cluster that host belongs to",
    ),
    f("hypervisor", "string", "the host hypervisor"),
    f("hypervisorversion", "string", "the hypervisor version"),
    f("vmslots", "integer", "how many VMs the host may run: its own vmslots, its cluster's, or the hypervisor's maxguestslimit (Canopy)"),
    f("vmslotsused", "integer", "VMs holding a slot of the host: those Starting, Running, Stopping or Migrating to or from it (Canopy)"),
    f("returnproxy", "boolean", "true if this host is its cluster's return proxy (Canopy; only for hosts of a cluster with one)"),
    f("returnproxyaddress", "string", "the address the hosts of this cluster dial for the servers: the return proxy's (Canopy)"),
    f("returnproxystate", "string", "the answering server's SSH tunnel to the cluster's return proxy: Connecting, Up or Down (Canopy)"),
    f("suitableformigration", "boolean", "true if the host can take the VM (findHostsForMigration)"),
    f("requiresStorageMotion", "boolean", "true if migrating the VM there needs its storage moved (findHostsForMigration; always false: Canopy migrates within a cluster)"),
    f(
        "accelerator",
        "string",
        "the acceleration QEMU uses on this host: kvm, tcg, or none (simulated) — Canopy extension",
    ),
    f("cpunumber", "integer", "the CPU number of the host"),
    f("cpuspeed", "long", "the CPU speed of the host"),
    f(
        "memorytotal",
        "long",
        "the memory total of the host, this parameter is deprecated use memorywithoverprovisioning",
    ),
    f(
        "localstoragetotal",
        "long",
        "the total local storage of the host in bytes — Canopy extension",
    ),
    f(
        "hosttags",
        "string",
        "comma-separated list of tags for the host",
    ),
    f("capabilities", "string", "capabilities of the host"),
    f("version", "string", "the host version"),
    f(
        "lastpinged",
        "date",
        "the date and time the host was last pinged",
    ),
    f(
        "disconnected",
        "date",
        "true if the host is disconnected. False otherwise.",
    ),
    f("created", "date", "the date and time the host was created"),
    f(
        "managementserverid",
        "string",
        "the management server ID of the host",
    ),
    f(
        "islocalstorageactive",
        "boolean",
        "true if local storage is active, false otherwise",
    ),
    f(
        "jointoken",
        "string",
        "the join token the host's agent presents (addHost only) — Canopy extension",
    ),
    f("cpuallocated", "string", "the amount of the host's CPU currently allocated"),
    f("cpuallocatedpercentage", "string", "the amount of the host's CPU currently allocated in percentage"),
    f("cpuallocatedvalue", "long", "the amount of the host's CPU currently allocated in MHz"),
    f("memoryallocated", "long", "the amount of the host's memory currently allocated"),
    f("memoryallocatedbytes", "long", "the amount of the host's memory currently allocated in bytes"),
    f("memoryallocatedpercentage", "string", "the amount of the host's memory currently allocated in percentage"),
    f("details", "map", "Host details in key/value pairs."),
    f("events", "string", "events available for the host"),
];

pub const JOIN_TOKEN: &[Field] = &[
    f(
        "token",
        "string",
        "the join token to give to `canopy agent --token`",
    ),
    f(
        "clusterid",
        "string",
        "the cluster the token admits hosts to",
    ),
    f(
        "hostaddress",
        "string",
        "the host address the token is bound to, if any",
    ),
    f("uses", "integer", "how many hosts the token admits"),
    f("expires", "date", "when the token expires"),
];

pub const CAPACITY: &[Field] = &[
    f("type", "short", "the capacity type"),
    f("name", "string", "the capacity name"),
    f("zoneid", "string", "the Zone ID"),
    f("zonename", "string", "the Zone name"),
    f("podid", "string", "the Pod ID"),
    f("podname", "string", "the Pod name"),
    f("clusterid", "string", "the Cluster ID"),
    f("clustername", "string", "the Cluster name"),
    f("capacitytotal", "long", "the total capacity available"),
    f("capacityused", "long", "the capacity currently in use"),
    f(
        "capacityallocated",
        "long",
        "the capacity currently in allocated",
    ),
    f(
        "percentused",
        "string",
        "the percentage of capacity currently in use",
    ),
];

pub const TEMPLATE: &[Field] = &[
    f("id", "string", "the template ID"),
    f(
        "userdataid",
        "string",
        "the id of the user data linked to this template",
    ),
    f(
        "userdataname",
        "string",
        "the name of the user data linked to this template",
    ),
    f(
        "userdatapolicy",
        "string",
        "the user data override policy with the user data provided while deploying VM",
    ),
    f("name", "string", "the template name"),
    f("displaytext", "string", "the template display text"),
    f(
        "ispublic",
        "boolean",
        "true if this template is a public template, false otherwise",
    ),
    f(
        "isfeatured",
        "boolean",
        "true if this template is a featured template, false otherwise",
    ),
    f(
        "isready",
        "boolean",
        "true if the template is ready to be deployed from, false otherwise.",
    ),
    f("status", "string", "the status of the template"),
    f("format", "string", "the format of the template."),
    f(
        "hypervisor",
        "string",
        "the hypervisor on which the template runs",
    ),
    f(
        "ostypeid",
        "string",
        "the ID of the OS type for this template.",
    ),
    f(
        "ostypename",
        "string",
        "the name of the OS type for this template.",
    ),
    f("zoneid", "string", "the ID of the zone for this template"),
    f(
        "zonename",
        "string",
        "the name of the zone for this template",
    ),
    f("size", "long", "the size of the template"),
    f("physicalsize", "long", "the physical size of the template"),
    f(
        "passwordenabled",
        "boolean",
        "true if the reset password feature is enabled, false otherwise",
    ),
    f(
        "sshkeyenabled",
        "boolean",
        "true if template is sshkey enabled, false otherwise",
    ),
    f(
        "crossZones",
        "boolean",
        "true if the template is managed across all Zones, false otherwise",
    ),
    f("templatetype", "string", "the type of the template"),
    f(
        "account",
        "string",
        "the account name to which the template belongs",
    ),
    f(
        "domain",
        "string",
        "the name of the domain to which the template belongs",
    ),
    f(
        "domainid",
        "string",
        "the ID of the domain to which the template belongs",
    ),
    f("created", "date", "the date this template was created"),
    f(
        "bootable",
        "boolean",
        "true if the ISO is bootable, false otherwise",
    ),
    f(
        "isextractable",
        "boolean",
        "true if the template is extractable, false otherwise",
    ),
    f("checksum", "string", "checksum of the template"),
    f(
        "url",
        "string",
        "the URL which the template/iso is registered from",
    ),
    f(
        "downloadprogress",
        "string",
        "the download progress in percent — Canopy extension",
    ),
    f(
        "details",
        "map",
        "additional key/value details tied with template",
    ),
    f("tags", "set", "the list of resource tags associated"),
];

pub const OS_TYPE: &[Field] = &[
    f("id", "string", "the ID of the OS type"),
    f(
        "description",
        "string",
        "the name/description of the OS type",
    ),
    f("name", "string", "the name of the OS type"),
    f("oscategoryid", "string", "the ID of the OS category"),
    f("oscategoryname", "string", "the name of the OS category"),
    f("isuserdefined", "boolean", "is the guest OS user defined"),
];

pub const OS_CATEGORY: &[Field] = &[
    f("id", "string", "the ID of the OS category"),
    f("name", "string", "the name of the OS category"),
];
