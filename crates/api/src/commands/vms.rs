//! Virtual machines and their volumes.

use super::objects::*;
use super::objects_infra::HOST;
use super::objects_vm::*;
use crate::registry::{CommandSpec, ParamType::*};

fn placement(spec: CommandSpec) -> CommandSpec {
    spec.opt(
        "hostid",
        Uuid,
        "destination Host ID to deploy the VM to - parameter available for root admin only",
    )
    .rel("listHosts")
    .opt(
        "clusterid",
        Uuid,
        "destination Cluster ID to deploy the VM to - parameter available for root admin only",
    )
    .rel("listClusters")
    .opt(
        "podid",
        Uuid,
        "destination Pod ID to deploy the VM to - parameter available for root admin only",
    )
    .rel("listPods")
}

fn vm_id(spec: CommandSpec) -> CommandSpec {
    spec.req("id", Uuid, "The ID of the virtual machine")
        .rel("listVirtualMachines")
}

pub fn specs() -> Vec<CommandSpec> {
    vec![
        placement(
            CommandSpec::new(
                "deployVirtualMachine",
                "Creates and automatically starts a virtual machine based on a service offering, disk offering, and template.",
            )
            .asynchronous()
            .creates()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("zoneid", Uuid, "availability zone for the virtual machine")
            .rel("listZones")
            .req("serviceofferingid", Uuid, "the ID of the service offering for the virtual machine")
            .rel("listServiceOfferings")
            .opt("templateid", Uuid, "the ID of the template for the virtual machine")
            .rel("listTemplates")
            .opt("isoid", Uuid, "the ID of the ISO to boot the virtual machine from; the disk offering gives its blank root disk")
            .rel("listIsos")
            .opt("diskofferingid", Uuid, "the ID of the disk offering for the virtual machine: a data disk with a template, the root disk with an ISO")
            .rel("listDiskOfferings")
            .opt("size", Long, "the arbitrary size for the DATADISK volume (GB). Mutually exclusive with diskOfferingId unless the offering is customized")
            .opt("rootdisksize", Long, "Optional field to resize root disk on deploy (GB). Value must be greater than the template size")
            .opt("name", String, "host name for the virtual machine")
            .len(63)
            .opt("displayname", String, "an optional user generated name for the virtual machine")
            .len(255)
            .opt("account", String, "an optional account for the virtual machine. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId for the virtual machine. If the account parameter is used, domainId must also be used.")
            .rel("listDomains")
            .opt("group", String, "an optional group for the virtual machine")
            .len(255)
            .opt("keypair", String, "name of the ssh key pair used to login to the virtual machine")
            .opt("keypairs", List, "names of the ssh key pairs used to login to the virtual machine")
            .of(String)
            .opt("affinitygroupids", List, "comma separated list of affinity groups id that are going to be applied to the virtual machine. Mutually exclusive with affinitygroupnames parameter")
            .of(Uuid)
            .rel("listAffinityGroups")
            .opt("affinitygroupnames", List, "comma separated list of affinity groups names that are going to be applied to the virtual machine. Mutually exclusive with affinitygroupids parameter")
            .of(String)
            .opt("deploymentplanner", String, "Deployment planner to use for vm allocation. Available to ROOT admin only: FirstFitPlanner, UserDispersingPlanner, UserConcentratedPodPlanner, ImplicitDedicationPlanner")
            .opt("userdata", String, "an optional binary data that can be sent to the virtual machine upon a successful deployment, base64 encoded (up to vm.userdata.max.length bytes decoded; use POST for more than 4 KB)")
            .len(1_048_576)
            .opt("userdataid", Uuid, "the ID of the registered user data (registerUserData) for the VM; not with userdata")
            .rel("listUserData")
            .opt("userdatadetails", Map, "used to specify the parameters values for the variables in userdata (accepted, not applied)")
            .opt("startvm", Boolean, "true if start vm after creating; defaulted to true if not specified")
            .opt("details", Map, "used to specify the custom parameters: details[0].cpuNumber, details[0].cpuSpeed, details[0].memory, details[0].rootdisksize")
            .opt("hypervisor", String, "the hypervisor on which to deploy the virtual machine (KVM or Simulator)")
            .opt("networkids", List, "list of network ids used by virtual machine (stored; networks arrive with the networking release)")
            .of(Uuid)
            .opt("securitygroupids", List, "comma separated list of security groups id that going to be applied to the virtual machine (stored; security groups arrive with the networking release)")
            .of(Uuid)
            .opt("securitygroupnames", List, "comma separated list of security groups names that going to be applied to the virtual machine (stored)")
            .of(String)
            .opt("ipaddress", String, "the ip address for default vm's network (stored)")
            .opt("macaddress", String, "the mac address for default vm's network (stored)")
            .opt("displayvm", Boolean, "an optional field, whether to the display the vm to the end user or not."),
        ),
        CommandSpec::new("listVirtualMachines", "List the virtual machines owned by the account.")
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .owned_list()
            .opt("id", Uuid, "the ID of the virtual machine")
            .opt("ids", List, "the IDs of the virtual machines, mutually exclusive with id")
            .of(Uuid)
            .opt("name", String, "name of the virtual machine (a host name)")
            .opt("state", String, "state of the virtual machine, or present (not Destroyed or Expunging)")
            .opt("zoneid", Uuid, "the availability zone ID")
            .opt("podid", Uuid, "the pod ID (admins)")
            .opt("clusterid", Uuid, "the cluster ID (admins)")
            .opt("hostid", Uuid, "the host ID (admins)")
            .opt("storageid", Uuid, "the storage ID where vm's volumes belong to (admins)")
            .opt("templateid", Uuid, "list vms by template")
            .opt("isoid", Uuid, "list vms by iso")
            .opt("serviceofferingid", Uuid, "list by the service offering")
            .opt("groupid", Uuid, "the ID of the instance group of the virtual machine")
            .rel("listInstanceGroups")
            .opt("haenable", Boolean, "list by the High Availability offering; true if filtering VMs with HA enabled; false for VMs with HA disabled")
            .opt("keypair", String, "list vms by ssh keypair name")
            .opt("affinitygroupid", Uuid, "list vms by affinity group")
            .rel("listAffinityGroups")
            .opt("userid", Uuid, "the user ID that created the VM")
            .opt("hypervisor", String, "the target hypervisor for the template")
            .opt("details", List, "comma separated list of vm details requested (all, group, nics, stats, secgrp, tmpl, servoff, diskoff, iso, volume, min, affgrp); Canopy always returns every detail it has")
            .of(String)
            .opt("tags", Map, "List resources by tags (key/value pairs)")
            .opt("retrieveonlyresourcecount", Boolean, "Whether to retrieve only the count of the VMs")
            .opt("displayvm", Boolean, "list resources by display flag"),
        placement(vm_id(CommandSpec::new("startVirtualMachine", "Starts a virtual machine."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("considerlasthost", Boolean, "True by default; placement considers every suitable host")),
        vm_id(CommandSpec::new("stopVirtualMachine", "Stops a virtual machine."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("forced", Boolean, "Force stop the VM (the VM is marked Stopped even when the host does not confirm)"),
        CommandSpec::new("createConsoleEndpoint", "Create a console endpoint to connect to a VM console: a websocket URL and a short-lived token bound to the VM and the caller (RFB over the websocket, noVNC-compatible).")
            .returns("consoleendpoint", CONSOLE_ENDPOINT)
            .req("virtualmachineid", Uuid, "ID of the VM")
            .rel("listVirtualMachines")
            .opt("token", String, "(optional) extra security token, valid when the extra validation is enabled"),
        vm_id(CommandSpec::new("rebootVirtualMachine", "Reboots a virtual machine."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("forced", Boolean, "Force reboot the VM"),
        vm_id(CommandSpec::new("destroyVirtualMachine", "Destroys a virtual machine."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("expunge", Boolean, "If true is passed, the vm is expunged immediately. False by default.")
            .opt("volumeids", List, "Comma separated list of UUIDs for volumes that will be deleted")
            .of(Uuid),
        vm_id(CommandSpec::new("expungeVirtualMachine", "Expunge a virtual machine. Once expunged, it cannot be recoverd."))
            .asynchronous()
            .returns("success", SUCCESS),
        vm_id(CommandSpec::new("recoverVirtualMachine", "Recovers a virtual machine."))
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines"),
        vm_id(CommandSpec::new("updateVirtualMachine", "Updates properties of a virtual machine. The VM has to be stopped and restarted for the new properties to take effect."))
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("displayname", String, "user generated name")
            .len(255)
            .opt("name", String, "new host name of the vm (the VM must be Stopped)")
            .len(63)
            .opt("haenable", Boolean, "true if high-availability is enabled for the virtual machine, false otherwise")
            .opt("group", String, "group of the virtual machine")
            .len(255)
            .opt("userdata", String, "an optional binary data that can be sent to the virtual machine upon a successful deployment, base64 encoded")
            .len(1_048_576)
            .opt("displayvm", Boolean, "an optional field, whether to the display the vm to the end user or not.")
            .opt("deleteprotection", Boolean, "Set delete protection for the virtual machine. If true, the instance will be protected from deletion.")
            .opt("details", Map, "Details in key/value pairs.")
            .opt("cleanupdetails", Boolean, "optional boolean field, which indicates if details should be cleaned up or not"),
        vm_id(CommandSpec::new("changeServiceForVirtualMachine", "Changes the service offering for a virtual machine. The virtual machine must be in a \"Stopped\" state for this command to take effect."))
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("serviceofferingid", Uuid, "the service offering ID to apply to the virtual machine")
            .rel("listServiceOfferings")
            .opt("details", Map, "name value pairs of custom parameters for cpu, memory and cpunumber. example details[i].name=value"),
        vm_id(CommandSpec::new("scaleVirtualMachine", "Scales the virtual machine to a new service offering. This command also considers the volume size in the service offering or disk offering linked to the new service offering and apply all characteristics to the root volume."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("serviceofferingid", Uuid, "the ID of the service offering for the virtual machine")
            .rel("listServiceOfferings")
            .opt("details", Map, "name value pairs of custom parameters for cpuSpeed, memory and cpunumber. example details[i].name=value"),
        vm_id(CommandSpec::new("resetPasswordForVirtualMachine", "Resets the password for virtual machine. The virtual machine must be in a \"Stopped\" state and the template must already support this feature for this command to take effect."))
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("password", String, "The new password of the virtual machine. If null, a random password will be generated for the VM.")
            .len(255),
        CommandSpec::new("attachIso", "Attaches an ISO to a virtual machine.")
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("id", Uuid, "the ID of the ISO file")
            .rel("listIsos")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("forced", Boolean, "If true, ejects existing ISO before attaching on VMware. Default: false"),
        CommandSpec::new("detachIso", "Detaches any ISO file (if any) currently attached to a virtual machine.")
            .asynchronous()
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "The ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("forced", Boolean, "If true, ejects the ISO forcefully on VMware. Default: false"),
        vm_id(CommandSpec::new("getVirtualMachineUserData", "Returns user data associated with the VM"))
            .returns("virtualmachineuserdata", VM_USER_DATA)
            .related("listVirtualMachines"),
        vm_id(CommandSpec::new("resetSSHKeyForVirtualMachine", "Resets the SSH Key for virtual machine. The virtual machine must be in a \"Stopped\" state."))
            .asynchronous()
            .wrapper("resetSSHKeyforvirtualmachineresponse")
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .opt("keypair", String, "name of the ssh key pair used to login to the virtual machine")
            .opt("keypairs", List, "names of the ssh key pairs to be used to login to the virtual machine")
            .of(String)
            .opt("account", String, "an optional account for the ssh key. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId for the virtual machine. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("listVirtualMachinesMetrics", "Lists VM metrics")
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .returns_also(VIRTUAL_MACHINE_METRICS)
            .owned_list()
            .opt("id", Uuid, "the ID of the virtual machine")
            .opt("ids", List, "the IDs of the virtual machines, mutually exclusive with id")
            .of(Uuid)
            .opt("name", String, "name of the virtual machine (a host name)")
            .opt("state", String, "state of the virtual machine")
            .opt("zoneid", Uuid, "the availability zone ID")
            .opt("hostid", Uuid, "the host ID (admins)")
            .opt("templateid", Uuid, "list vms by template")
            .opt("serviceofferingid", Uuid, "list by the service offering")
            .opt("groupid", Uuid, "the ID of the instance group of the virtual machine")
            .rel("listInstanceGroups")
            .opt("keypair", String, "list vms by ssh keypair name")
            .opt("tags", Map, "List resources by tags (key/value pairs)"),
        CommandSpec::new("migrateVirtualMachine", "Attempts Migration of a VM to a different host or Root volume of the vm to a different storage pool")
            .asynchronous()
            .roles(crate::registry::roles::ADMIN)
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("hostid", Uuid, "Destination Host ID to migrate VM to (same cluster); without it a host is chosen")
            .rel("listHosts")
            .opt("storageid", Uuid, "Destination storage pool ID to migrate VM volumes to (not supported yet)")
            .opt("autoselect", Boolean, "Automatically select a destination host (the default when hostid is not given)"),
        CommandSpec::new("migrateVirtualMachineWithVolume", "Attempts Migration of a VM with its volumes to a different host")
            .asynchronous()
            .roles(crate::registry::roles::ADMIN)
            .returns("virtualmachine", VIRTUAL_MACHINE)
            .related("listVirtualMachines")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("hostid", Uuid, "Destination Host ID to migrate VM to (any cluster of the VM's zone)")
            .rel("listHosts")
            .opt("migrateto", Map, "Storage to pool mapping: migrateto[0].volume=<uuid>&migrateto[0].pool=<uuid>; volumes not named stay where the destination reaches them, else go to a pool it reaches")
            .opt("autoselect", Boolean, "Accepted; the destination host must be given"),
        CommandSpec::new("findHostsForMigration", "Find hosts suitable for migrating a virtual machine.")
            .roles(crate::registry::roles::ADMIN)
            .returns("host", HOST)
            .list()
            .req("virtualmachineid", Uuid, "find hosts to which this VM can be migrated")
            .rel("listVirtualMachines"),
        CommandSpec::new("prepareHostForMaintenance", "Prepares a host for maintenance.")
            .asynchronous()
            .roles(crate::registry::roles::ADMIN)
            .returns("host", HOST)
            .related("listHosts")
            .req("id", Uuid, "the host ID")
            .rel("listHosts"),
        CommandSpec::new("cancelHostMaintenance", "Cancels host maintenance.")
            .asynchronous()
            .roles(crate::registry::roles::ADMIN)
            .returns("host", HOST)
            .related("listHosts")
            .req("id", Uuid, "the host ID")
            .rel("listHosts"),
        CommandSpec::new("createVolume", "Creates a disk volume from a disk offering or a snapshot. This disk volume must still be attached to a virtual machine to make use of it.")
            .asynchronous()
            .creates()
            .returns("volume", VOLUME)
            .related("listVolumes")
            .opt("diskofferingid", Uuid, "the ID of the disk offering. Either diskOfferingId or snapshotId must be passed in.")
            .rel("listDiskOfferings")
            .opt("snapshotid", Uuid, "the snapshot ID for the disk volume. Either diskOfferingId or snapshotId must be passed in.")
            .rel("listSnapshots")
            .opt("size", Long, "Arbitrary volume size (GB), for a customized disk offering")
            .opt("zoneid", Uuid, "the ID of the availability zone")
            .rel("listZones")
            .opt("name", String, "the name of the disk volume")
            .len(255)
            .opt("virtualmachineid", Uuid, "the ID of the virtual machine; to be used with snapshot Id, VM to which the volume gets attached after creation")
            .rel("listVirtualMachines")
            .opt("account", String, "the account associated with the disk volume. Must be used with the domainId parameter.")
            .opt("domainid", Uuid, "the domain ID associated with the disk offering. If used with the account parameter returns the disk volume associated with the account for the specified domain.")
            .rel("listDomains")
            .opt("displayvolume", Boolean, "an optional field, whether to display the volume to the end user or not."),
        CommandSpec::new("createVMSchedule", "Create VM Schedule")
            .returns("vmschedule", VM_SCHEDULE)
            .req("virtualmachineid", Uuid, "ID of the VM for which schedule is to be defined")
            .rel("listVirtualMachines")
            .req("schedule", String, "Schedule for action on VM in cron format. e.g. '0 15 10 * *' for 'at 15:00 on 10th day of every month'")
            .req("timezone", String, "Specifies a timezone for this command (UTC, Etc/GMT+N or an offset such as +05:30)")
            .req("action", String, "Action to take on the VM (START/STOP/REBOOT/FORCE_STOP/FORCE_REBOOT).")
            .opt("description", String, "Name of the schedule")
            .opt("startdate", String, "start date from which the schedule becomes active. Defaults to current date plus 1 minute. Use format \"yyyy-MM-dd hh:mm:ss\"")
            .opt("enddate", String, "end date after which the schedule becomes inactive. Use format \"yyyy-MM-dd hh:mm:ss\"")
            .opt("enabled", Boolean, "Enable VM schedule. Defaults to true"),
        CommandSpec::new("listVMSchedule", "List VM Schedules.")
            .returns("vmschedule", VM_SCHEDULE)
            .list()
            .req("virtualmachineid", Uuid, "ID of the VM for which schedule is to be defined")
            .rel("listVirtualMachines")
            .opt("id", Uuid, "ID of VM schedule")
            .opt("action", String, "Action taken by schedule")
            .opt("enabled", Boolean, "ID of VM schedule"),
        CommandSpec::new("updateVMSchedule", "Update VM Schedule.")
            .returns("vmschedule", VM_SCHEDULE)
            .req("id", Uuid, "ID of VM schedule")
            .opt("description", String, "Name of the schedule")
            .opt("schedule", String, "Schedule for action on VM in cron format")
            .opt("timezone", String, "Specifies a timezone for this command")
            .opt("startdate", String, "start date from which the schedule becomes active. Use format \"yyyy-MM-dd hh:mm:ss\"")
            .opt("enddate", String, "end date after which the schedule becomes inactive. Use format \"yyyy-MM-dd hh:mm:ss\"")
            .opt("enabled", Boolean, "Enable VM schedule"),
        CommandSpec::new("deleteVMSchedule", "Delete VM Schedule.")
            .returns("success", SUCCESS)
            .req("virtualmachineid", Uuid, "ID of VM")
            .rel("listVirtualMachines")
            .opt("id", Uuid, "ID of VM schedule")
            .opt("ids", List, "IDs of VM schedule")
            .of(Uuid),
        CommandSpec::new("getUploadParamsForVolume", "Upload a data disk to the cloudstack cloud.")
            .returns("getuploadparams", crate::commands::storage::UPLOAD_PARAMS)
            .req("name", String, "the name of the volume/template/iso")
            .len(255)
            .req("zoneid", Uuid, "the ID of the zone the volume/template/iso is to be hosted on")
            .rel("listZones")
            .req("format", String, "the format for the volume/template/iso: QCOW2 or RAW")
            .opt("checksum", String, "the checksum value of this volume: md5 or sha256 hex, optionally as {MD5}hex or {SHA-256}hex")
            .opt("diskofferingid", Uuid, "the ID of the disk offering")
            .rel("listDiskOfferings")
            .opt("imagestoreuuid", String, "Image store uuid (the zone's image store is used)")
            .opt("account", String, "an optional accountName. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("uploadVolume", "Uploads a data disk.")
            .asynchronous()
            .creates()
            .returns("volume", VOLUME)
            .related("listVolumes")
            .req("name", String, "the name of the volume")
            .len(255)
            .req("zoneid", Uuid, "the ID of the zone the volume is to be hosted on")
            .rel("listZones")
            .req("format", String, "the format for the volume: QCOW2 or RAW")
            .req("url", String, "the URL of where the volume is hosted: http://, https://, or file:// for a file on the management server")
            .len(2048)
            .opt("checksum", String, "the checksum value of this volume: md5 or sha256 hex, optionally as {MD5}hex or {SHA-256}hex")
            .opt("diskofferingid", Uuid, "the ID of the disk offering")
            .rel("listDiskOfferings")
            .opt("imagestoreuuid", String, "Image store uuid (the zone's image store is used)")
            .opt("account", String, "an optional accountName. Must be used with domainId.")
            .opt("domainid", Uuid, "an optional domainId. If the account parameter is used, domainId must also be used.")
            .rel("listDomains"),
        CommandSpec::new("attachVolume", "Attaches a disk volume to a virtual machine.")
            .asynchronous()
            .returns("volume", VOLUME)
            .related("listVolumes")
            .req("id", Uuid, "the ID of the disk volume")
            .rel("listVolumes")
            .req("virtualmachineid", Uuid, "the ID of the virtual machine")
            .rel("listVirtualMachines")
            .opt("deviceid", Long, "The ID of the device to map the volume to the guest OS (1, 2, 4…25; 0 is the root disk, 3 the CD-ROM). Default: the first free one."),
        CommandSpec::new("detachVolume", "Detaches a disk volume from a virtual machine.")
            .asynchronous()
            .returns("volume", VOLUME)
            .related("listVolumes")
            .opt("id", Uuid, "the ID of the disk volume")
            .rel("listVolumes")
            .opt("virtualmachineid", Uuid, "the ID of the virtual machine where the volume is detached from")
            .rel("listVirtualMachines")
            .opt("deviceid", Long, "the device ID on the virtual machine where volume is detached from"),
        CommandSpec::new("resizeVolume", "Resizes a volume")
            .asynchronous()
            .returns("volume", VOLUME)
            .related("listVolumes")
            .req("id", Uuid, "the ID of the disk volume")
            .rel("listVolumes")
            .opt("size", Long, "New volume size in GB")
            .opt("diskofferingid", Uuid, "new disk offering id")
            .rel("listDiskOfferings")
            .opt("shrinkok", Boolean, "Verify OK to Shrink"),
        CommandSpec::new("migrateVolume", "Migrate volume to another shared primary storage pool of its zone; a running VM's disk with livemigrate=true (mirrored while the guest runs).")
            .asynchronous()
            .roles(crate::registry::roles::ADMIN)
            .returns("volume", VOLUME)
            .related("listVolumes")
            .req("volumeid", Uuid, "the ID of the volume")
            .rel("listVolumes")
            .req("storageid", Uuid, "destination storage pool ID to migrate the volume to")
            .rel("listStoragePools")
            .opt("livemigrate", Boolean, "if the volume should be live migrated when it is attached to a running vm")
            .opt("newdiskofferingid", Uuid, "The new disk offering ID (not supported)"),
        CommandSpec::new("updateVolume", "Updates the volume.")
            .returns("volume", VOLUME)
            .req("id", Uuid, "the ID of the disk volume")
            .rel("listVolumes")
            .opt("name", String, "new name of the volume")
            .len(255)
            .opt("displayvolume", Boolean, "an optional field, whether to the display the volume to the end user or not.")
            .opt("deleteprotection", Boolean, "Set delete protection for the volume. If true, the volume will be protected from deletion."),
        CommandSpec::new("deleteVolume", "Deletes a detached disk volume.")
            .returns("success", SUCCESS)
            .req("id", Uuid, "The ID of the disk volume")
            .rel("listVolumes"),
        CommandSpec::new("destroyVolume", "Destroys a Volume.")
            .asynchronous()
            .returns("volume", VOLUME)
            .req("id", Uuid, "The ID of the volume")
            .rel("listVolumes")
            .opt("expunge", Boolean, "If true is passed, the volume is expunged immediately. False by default."),
        CommandSpec::new("recoverVolume", "Recovers a Destroy volume.")
            .returns("volume", VOLUME)
            .req("id", Uuid, "The ID of the volume")
            .rel("listVolumes"),
        CommandSpec::new("listNetworks", "Lists all available networks.")
            .returns("network", NETWORK)
            .owned_list()
            .opt("id", Uuid, "list networks by ID")
            .opt("zoneid", Uuid, "the zone ID of the network")
            .rel("listZones")
            .opt("type", String, "the type of the network. Supported values are: isolated, l2, shared and all")
            .opt("guestiptype", String, "the guest IP type of the network (Isolated, Shared, L2)")
            .opt("traffictype", String, "type of the traffic")
            .opt("issystem", Boolean, "true if network is system, false otherwise")
            .opt("canusefordeploy", Boolean, "list networks available for VM deployment")
            .opt("vpcid", Uuid, "List networks by VPC (its tiers)")
            .rel("listVPCs")
            .opt("forvpc", Boolean, "the network belongs to a VPC (true) or not (false)"),
        volume_filters(
            CommandSpec::new("listVolumes", "Lists all volumes.").returns("volume", VOLUME),
        ),
        volume_filters(
            CommandSpec::new("listVolumesMetrics", "Lists volume metrics")
                .returns("volume", VOLUME)
                .returns_also(VOLUME_METRICS),
        ),
    ]
}

/// listVolumes' filters (listVolumesMetrics takes the same).
fn volume_filters(spec: CommandSpec) -> CommandSpec {
    spec.owned_list()
        .opt("id", Uuid, "the ID of the disk volume")
        .opt(
            "ids",
            List,
            "the IDs of the volumes, mutually exclusive with id",
        )
        .of(Uuid)
        .opt("name", String, "the name of the disk volume")
        .opt("virtualmachineid", Uuid, "the ID of the virtual machine")
        .rel("listVirtualMachines")
        .opt("type", String, "the type of disk volume (ROOT or DATADISK)")
        .opt("state", String, "state of the volume")
        .opt("zoneid", Uuid, "the ID of the availability zone")
        .opt("storageid", Uuid, "the ID of the storage pool (admins)")
        .opt("diskofferingid", Uuid, "List volumes by disk offering")
}

/// A VM schedule (createVMSchedule).
const VM_SCHEDULE: &[crate::registry::Field] = &[
    crate::registry::f("id", "string", "the ID of VM schedule"),
    crate::registry::f("virtualmachineid", "string", "ID of virtual machine"),
    crate::registry::f("description", "string", "Description of VM schedule"),
    crate::registry::f("schedule", "string", "Cron formatted VM schedule"),
    crate::registry::f("timezone", "string", "Timezone of the schedule"),
    crate::registry::f("action", "string", "Action"),
    crate::registry::f("enabled", "boolean", "VM schedule is enabled"),
    crate::registry::f(
        "startdate",
        "date",
        "Date from which the schedule is active",
    ),
    crate::registry::f(
        "enddate",
        "date",
        "Date after which the schedule becomes inactive",
    ),
    crate::registry::f("created", "date", "Date when the schedule was created"),
];
