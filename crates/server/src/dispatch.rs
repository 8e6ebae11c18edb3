//! The handler table: every command the registry declares has exactly one handler here. Sync
//! commands have one function; async commands have a `prepare` (runs in the request: checks
//! that must fail before a job exists) and a `run` (the job body, idempotent so it can be
//! resumed after a crash).

use api::Args;
use serde_json::Value;

use crate::context::OpContext;
use crate::error::{AppError, AppResult};
use crate::handlers::*;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

macro_rules! table {
    (sync { $($s:literal => $sf:path),* $(,)? } async { $($a:literal => ($ap:path, $ar:path)),* $(,)? }) => {
        /// Commands answered in the request.
        pub const SYNC: &[&str] = &[$($s),*];
        /// Commands answered with a job.
        pub const ASYNC: &[&str] = &[$($a),*];

        pub async fn run_sync(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
            match args.command {
                $($s => $sf(st, ctx, args).await,)*
                other => Err(AppError::Internal(format!("no sync handler for {other}"))),
            }
        }

        pub async fn prepare_async(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
            match args.command {
                $($a => $ap(st, ctx, args).await,)*
                other => Err(AppError::Internal(format!("no async handler for {other}"))),
            }
        }

        pub async fn run_async(st: &State, ctx: &OpContext, args: &Args, job: &JobRef) -> AppResult<Value> {
            match args.command {
                $($a => $ar(st, ctx, args, job).await,)*
                other => Err(AppError::Internal(format!("no async handler for {other}"))),
            }
        }
    };
}

table! {
    sync {
        "listCapabilities" => system::list_capabilities,
        "listApis" => system::list_apis,
        "queryAsyncJobResult" => system::query_async_job_result,
        "listAsyncJobs" => system::list_async_jobs,
        "listEvents" => system::list_events,
        "listConfigurations" => system::list_configurations,
        "updateConfiguration" => system::update_configuration,
        "listBackgroundTasks" => system::list_background_tasks,
        "listManagementServers" => servers::list,
        "listManagementServersMetrics" => servers::list_metrics,
        "prepareForMaintenance" => servers::prepare_for_maintenance,
        "cancelMaintenance" => servers::cancel_maintenance,
        "runBackgroundTask" => system::run_background_task,
        "createDomain" => domains::create,
        "listDomains" => domains::list,
        "listDomainChildren" => domains::list_children,
        "updateDomain" => domains::update,
        "createAccount" => accounts::create,
        "listAccounts" => accounts::list,
        "updateAccount" => accounts::update,
        "enableAccount" => accounts::enable,
        "lockAccount" => accounts::lock,
        "createUser" => users::create,
        "listUsers" => users::list,
        "updateUser" => users::update,
        "enableUser" => users::enable,
        "lockUser" => users::lock,
        "deleteUser" => users::delete,
        "registerUserKeys" => users::register_keys,
        "getUserKeys" => users::get_keys,
        "listRoles" => roles::list,
        "createRole" => roles::create,
        "importRole" => roles::import,
        "updateRole" => roles::update,
        "deleteRole" => roles::delete,
        "createRolePermission" => roles::create_permission,
        "listRolePermissions" => roles::list_permissions,
        "updateRolePermission" => roles::update_permission,
        "deleteRolePermission" => roles::delete_permission,
        "createZone" => zones::create_zone,
        "listZones" => zones::list_zones,
        "updateZone" => zones::update_zone,
        "deleteZone" => zones::delete_zone,
        "createPod" => zones::create_pod,
        "listPods" => zones::list_pods,
        "updatePod" => zones::update_pod,
        "deletePod" => zones::delete_pod,
        "addCluster" => clusters::add_cluster,
        "listClusters" => clusters::list_clusters,
        "updateCluster" => clusters::update_cluster,
        "deleteCluster" => clusters::delete_cluster,
        "listPhysicalNetworks" => physnets::list_physnets,
        "listTrafficTypes" => physnets::list_traffic,
        "listNetworkServiceProviders" => physnets::list_providers,
        "listVirtualRouterElements" => physnets::list_vr_elements,
        "createServiceOffering" => offerings::create_service,
        "listServiceOfferings" => offerings::list_service,
        "updateServiceOffering" => offerings::update_service,
        "deleteServiceOffering" => offerings::delete_service,
        "createDiskOffering" => offerings::create_disk,
        "listDiskOfferings" => offerings::list_disk,
        "updateDiskOffering" => offerings::update_disk,
        "deleteDiskOffering" => offerings::delete_disk,
        "createNetworkOffering" => offerings::create_network,
        "listNetworkOfferings" => offerings::list_network,
        "updateNetworkOffering" => offerings::update_network,
        "deleteNetworkOffering" => offerings::delete_network,
        "listVPCOfferings" => offerings::list_vpc,
        "listVPCs" => vpcs::list,
        "listNetworkACLLists" => vpcs::acls::list_lists,
        "listNetworkACLs" => vpcs::acls::list_items,
        "listAffinityGroupTypes" => affinity::list_types,
        "listAffinityGroups" => affinity::list,
        "listDedicatedZones" => dedication::list_zones,
        "listDedicatedPods" => dedication::list_pods,
        "listDedicatedClusters" => dedication::list_clusters,
        "listDedicatedHosts" => dedication::list_hosts,
        "createAdmissionPolicy" => admission::create,
        "listAdmissionPolicies" => admission::list,
        "updateAdmissionPolicy" => admission::update,
        "deleteAdmissionPolicy" => admission::delete,
        "createServiceTag" => vpcs::service_tags::create,
        "listServiceTags" => vpcs::service_tags::list,
        "deleteServiceTag" => vpcs::service_tags::delete,
        "addHost" => hosts::add_host,
        "listHosts" => hosts::list_hosts,
        "findHostsForMigration" => migrate::find_hosts,
        "updateHost" => hosts::update_host,
        "deleteHost" => hosts::delete_host,
        "createHostJoinToken" => hosts::create_join_token,
        "listCapacity" => capacity::list_capacity,
        "registerTemplate" => templates::register,
        "registerIso" => templates::register,
        "listTemplates" => templates::list,
        "listIsos" => templates::list,
        "updateTemplate" => templates::update,
        "updateIso" => templates::update,
        "listOsTypes" => templates::list_os_types,
        "listOsCategories" => templates::list_os_categories,
        "createSSHKeyPair" => keypairs::create,
        "registerSSHKeyPair" => keypairs::register,
        "listSSHKeyPairs" => keypairs::list,
        "deleteSSHKeyPair" => keypairs::delete,
        "listResourceLimits" => limits::list,
        "updateResourceLimit" => limits::update,
        "listHypervisorCapabilities" => limits::list_caps,
        "updateHypervisorCapabilities" => limits::update_caps,
        "listTags" => tags::list,
        "createStoragePool" => storage::create_pool,
        "listStoragePools" => storage::list_pools,
        "updateStoragePool" => storage::update_pool,
        "deleteStoragePool" => storage::delete_pool,
        "addImageStore" => storage::add_image_store,
        "addSecondaryStorage" => storage::add_secondary_storage,
        "listImageStores" => storage::list_image_stores,
        "listVirtualMachines" => vms::list,
        "recoverVirtualMachine" => vms::recover,
        "updateVirtualMachine" => vms::update,
        "listVolumes" => volumes::list,
        "listVolumesMetrics" => volumes::list_metrics,
        "listSnapshots" => snapshots::list,
        "listVMSnapshot" => snapshots::vm::list,
        "createSnapshotPolicy" => snapshots::create,
        "listSnapshotPolicies" => snapshots::policies::list,
        "deleteSnapshotPolicies" => snapshots::delete,
        "listNetworks" => networks::list,
        "createNetwork" => networks::create,
        "listNics" => networks::list_nics,
        "createVlanIpRange" => ips::create_range,
        "listVlanIpRanges" => ips::list_ranges,
        "deleteVlanIpRange" => ips::delete_range,
        "listPublicIpAddresses" => ips::list_ips,
        "enableStaticNat" => ips::enable_static_nat,
        "listPortForwardingRules" => netrules::list_pf,
        "listFirewallRules" => netrules::list_firewall,
        "listEgressFirewallRules" => netrules::list_egress,
        "listIpForwardingRules" => netrules::list_ipfwd,
        "createSecurityGroup" => secgroups::create,
        "deleteSecurityGroup" => secgroups::delete,
        "updateSecurityGroup" => secgroups::update,
        "listSecurityGroups" => secgroups::list,
        "listLoadBalancerRules" => lb::list,
        "listLoadBalancers" => lb::internal::list,
        "listPrivateGateways" => vpcs::private_gateways::list,
        "listLoadBalancerRuleInstances" => lb::list_instances,
        "listLBStickinessPolicies" => lb::list_stickiness,
        "listLBHealthCheckPolicies" => lb::list_healthcheck,
        "listRemoteAccessVpns" => vpn::list,
        "listVpnUsers" => vpn::list_users,
        "listStaticRoutes" => routers::list_routes,
        "listRouters" => routers::list,
        "getHostNetworkConfiguration" => routers::host_config,
        "createConsoleEndpoint" => crate::console::create_endpoint,
        "changeServiceForVirtualMachine" => vms::change_service,
        "getVirtualMachineUserData" => vms::get_userdata,
        "listVirtualMachinesMetrics" => vms::list_metrics,
        "deleteVolume" => volumes::delete,
        "deleteImageStore" => storage::delete_image_store,
    }
    async {
        "deleteDomain" => (domains::delete_prepare, domains::delete_run),
        "disableAccount" => (accounts::disable_prepare, accounts::disable_run),
        "deleteAccount" => (accounts::delete_prepare, accounts::delete_run),
        "disableUser" => (users::disable_prepare, users::disable_run),
        "createPhysicalNetwork" => (physnets::create_physnet_prepare, physnets::create_physnet_run),
        "updatePhysicalNetwork" => (physnets::update_physnet_prepare, physnets::update_physnet_run),
        "deletePhysicalNetwork" => (physnets::delete_physnet_prepare, physnets::delete_physnet_run),
        "addTrafficType" => (physnets::add_traffic_prepare, physnets::add_traffic_run),
        "updateTrafficType" => (physnets::update_traffic_prepare, physnets::update_traffic_run),
        "deleteTrafficType" => (physnets::delete_traffic_prepare, physnets::delete_traffic_run),
        "updateNetworkServiceProvider" => (physnets::update_provider_prepare, physnets::update_provider_run),
        "configureVirtualRouterElement" => (physnets::configure_vr_prepare, physnets::configure_vr_run),
        "reconnectHost" => (hosts::reconnect_prepare, hosts::reconnect_run),
        "enableStorageMaintenance" => (storage::maintenance_prepare, storage::maintenance_run),
        "deleteTemplate" => (templates::delete_prepare, templates::delete_run),
        "copyTemplate" => (template_copy::copy_prepare, template_copy::copy_run),
        "copyIso" => (template_copy::copy_prepare, template_copy::copy_run),
        "createTags" => (tags::create_prepare, tags::create_run),
        "deleteTags" => (tags::delete_prepare, tags::delete_run),
        "deleteIso" => (templates::delete_prepare, templates::delete_run),
        "cancelStorageMaintenance" => (storage::cancel_maintenance_prepare, storage::cancel_maintenance_run),
        "deployVirtualMachine" => (vms::deploy_prepare, vms::deploy_run),
        "startVirtualMachine" => (vms::start_prepare, vms::start_run),
        "stopVirtualMachine" => (vms::stop_prepare, vms::stop_run),
        "rebootVirtualMachine" => (vms::reboot_prepare, vms::reboot_run),
        "destroyVirtualMachine" => (vms::destroy_prepare, vms::destroy_run),
        "expungeVirtualMachine" => (vms::expunge_prepare, vms::expunge_run),
        "createVolume" => (volumes::create_prepare, volumes::create_run),
        "scaleVirtualMachine" => (vms::scale_prepare, vms::scale_run),
        "resetSSHKeyForVirtualMachine" => (vms::reset_key_prepare, vms::reset_key_run),
        "resetPasswordForVirtualMachine" => (vms::reset_password_prepare, vms::reset_password_run),
        "attachVolume" => (volumes::attach_prepare, volumes::attach_run),
        "detachVolume" => (volumes::detach_prepare, volumes::detach_run),
        "resizeVolume" => (volumes::resize_prepare, volumes::resize_run),
        "migrateVolume" => (volumes::migrate_prepare, volumes::migrate_run),
        "createSnapshot" => (snapshots::create_prepare, snapshots::create_run),
        "deleteSnapshot" => (snapshots::delete_prepare, snapshots::delete_run),
        "revertSnapshot" => (snapshots::revert_prepare, snapshots::revert_run),
        "updateSnapshotPolicy" => (snapshots::update_prepare, snapshots::update_run),
        "createTemplate" => (snapshots::templates::create_prepare, snapshots::templates::create_run),
        "restoreVirtualMachine" => (vms::restore_prepare, vms::restore_run),
        "extractVolume" => (snapshots::extract::volume_prepare, snapshots::extract::volume_run),
        "extractTemplate" => (snapshots::extract::template_prepare, snapshots::extract::template_run),
        "createVMSnapshot" => (snapshots::vm::create_prepare, snapshots::vm::create_run),
        "revertToVMSnapshot" => (snapshots::vm::revert_prepare, snapshots::vm::revert_run),
        "deleteVMSnapshot" => (snapshots::vm::delete_prepare, snapshots::vm::delete_run),
        "migrateVirtualMachine" => (migrate::migrate_prepare, migrate::migrate_run),
        "migrateVirtualMachineWithVolume" => (migrate::with_volume_prepare, migrate::with_volume_run),
        "prepareHostForMaintenance" => (migrate::maintenance_prepare, migrate::maintenance_run),
        "cancelHostMaintenance" => (migrate::cancel_prepare, migrate::cancel_run),
        "updateNetwork" => (networks::update_prepare, networks::update_run),
        "deleteNetwork" => (networks::delete_prepare, networks::delete_run),
        "restartNetwork" => (networks::restart_prepare, networks::restart_run),
        "addNicToVirtualMachine" => (networks::add_nic_prepare, networks::add_nic_run),
        "removeNicFromVirtualMachine" => (networks::remove_nic_prepare, networks::remove_nic_run),
        "updateDefaultNicForVirtualMachine" => (networks::default_nic_prepare, networks::default_nic_run),
        "associateIpAddress" => (ips::associate_prepare, ips::associate_run),
        "disassociateIpAddress" => (ips::disassociate_prepare, ips::disassociate_run),
        "disableStaticNat" => (ips::disable_static_nat_prepare, ips::disable_static_nat_run),
        "createPortForwardingRule" => (netrules::create_pf_prepare, netrules::create_pf_run),
        "deletePortForwardingRule" => (netrules::delete_pf_prepare, netrules::delete_pf_run),
        "updatePortForwardingRule" => (netrules::update_pf_prepare, netrules::update_pf_run),
        "createFirewallRule" => (netrules::create_firewall_prepare, netrules::create_firewall_run),
        "createVPCOffering" => (offerings::create_vpc_prepare, offerings::create_vpc_run),
        "updateVPCOffering" => (offerings::update_vpc_prepare, offerings::update_vpc_run),
        "deleteVPCOffering" => (offerings::delete_vpc_prepare, offerings::delete_vpc_run),
        "createVPC" => (vpcs::create_prepare, vpcs::create_run),
        "updateVPC" => (vpcs::update_prepare, vpcs::update_run),
        "restartVPC" => (vpcs::restart_prepare, vpcs::restart_run),
        "deleteVPC" => (vpcs::delete_prepare, vpcs::delete_run),
        "createNetworkACLList" => (vpcs::acls::create_list_prepare, vpcs::acls::create_list_run),
        "updateNetworkACLList" => (vpcs::acls::update_list_prepare, vpcs::acls::update_list_run),
        "deleteNetworkACLList" => (vpcs::acls::delete_list_prepare, vpcs::acls::delete_list_run),
        "replaceNetworkACLList" => (vpcs::acls::replace_prepare, vpcs::acls::replace_run),
        "createNetworkACL" => (vpcs::acls::create_item_prepare, vpcs::acls::create_item_run),
        "updateNetworkACLItem" => (vpcs::acls::update_item_prepare, vpcs::acls::update_item_run),
        "moveNetworkAclItem" => (vpcs::acls::move_item_prepare, vpcs::acls::move_item_run),
        "deleteNetworkACL" => (vpcs::acls::delete_item_prepare, vpcs::acls::delete_item_run),
        "updateServiceTag" => (vpcs::service_tags::update_prepare, vpcs::service_tags::update_run),
        "createAffinityGroup" => (affinity::create_prepare, affinity::create_run),
        "dedicateZone" => (dedication::dedicate_zone_prepare, dedication::dedicate_zone_run),
        "dedicatePod" => (dedication::dedicate_pod_prepare, dedication::dedicate_pod_run),
        "dedicateCluster" => (dedication::dedicate_cluster_prepare, dedication::dedicate_cluster_run),
        "dedicateHost" => (dedication::dedicate_host_prepare, dedication::dedicate_host_run),
        "releaseDedicatedZone" => (dedication::release_zone_prepare, dedication::release_zone_run),
        "releaseDedicatedPod" => (dedication::release_pod_prepare, dedication::release_pod_run),
        "releaseDedicatedCluster" => (dedication::release_cluster_prepare, dedication::release_cluster_run),
        "releaseDedicatedHost" => (dedication::release_host_prepare, dedication::release_host_run),
        "deleteAffinityGroup" => (affinity::delete_prepare, affinity::delete_run),
        "updateVMAffinityGroup" => (affinity::update_vm_prepare, affinity::update_vm_run),
        "deleteFirewallRule" => (netrules::delete_firewall_prepare, netrules::delete_firewall_run),
        "updateFirewallRule" => (netrules::update_firewall_prepare, netrules::update_firewall_run),
        "createEgressFirewallRule" => (netrules::create_egress_prepare, netrules::create_egress_run),
        "deleteEgressFirewallRule" => (netrules::delete_egress_prepare, netrules::delete_egress_run),
        "updateEgressFirewallRule" => (netrules::update_egress_prepare, netrules::update_egress_run),
        "createIpForwardingRule" => (netrules::create_ipfwd_prepare, netrules::create_ipfwd_run),
        "deleteIpForwardingRule" => (netrules::delete_ipfwd_prepare, netrules::delete_ipfwd_run),
        "authorizeSecurityGroupIngress" => (secgroups::authorize_prepare, secgroups::authorize_run),
        "authorizeSecurityGroupEgress" => (secgroups::authorize_prepare, secgroups::authorize_run),
        "revokeSecurityGroupIngress" => (secgroups::revoke_prepare, secgroups::revoke_run),
        "revokeSecurityGroupEgress" => (secgroups::revoke_prepare, secgroups::revoke_run),
        "createLoadBalancerRule" => (lb::create_prepare, lb::create_run),
        "createLoadBalancer" => (lb::internal::create_prepare, lb::internal::create_run),
        "createPrivateGateway" => (vpcs::private_gateways::create_prepare, vpcs::private_gateways::create_run),
        "deletePrivateGateway" => (vpcs::private_gateways::delete_prepare, vpcs::private_gateways::delete_run),
        "deleteLoadBalancer" => (lb::internal::delete_prepare, lb::internal::delete_run),
        "deleteLoadBalancerRule" => (lb::delete_prepare, lb::delete_run),
        "updateLoadBalancerRule" => (lb::update_prepare, lb::update_run),
        "assignToLoadBalancerRule" => (lb::assign_prepare, lb::assign_run),
        "removeFromLoadBalancerRule" => (lb::remove_prepare, lb::remove_run),
        "createLBStickinessPolicy" => (lb::create_stickiness_prepare, lb::create_stickiness_run),
        "deleteLBStickinessPolicy" => (lb::delete_stickiness_prepare, lb::delete_stickiness_run),
        "createLBHealthCheckPolicy" => (lb::create_healthcheck_prepare, lb::create_healthcheck_run),
        "deleteLBHealthCheckPolicy" => (lb::delete_healthcheck_prepare, lb::delete_healthcheck_run),
        "createRemoteAccessVpn" => (vpn::create_prepare, vpn::create_run),
        "deleteRemoteAccessVpn" => (vpn::delete_prepare, vpn::delete_run),
        "updateRemoteAccessVpn" => (vpn::update_prepare, vpn::update_run),
        "addVpnUser" => (vpn::add_user_prepare, vpn::add_user_run),
        "removeVpnUser" => (vpn::remove_user_prepare, vpn::remove_user_run),
        "createStaticRoute" => (routers::create_route_prepare, routers::create_route_run),
        "deleteStaticRoute" => (routers::delete_route_prepare, routers::delete_route_run),
        "startRouter" => (routers::start_prepare, routers::start_run),
        "stopRouter" => (routers::stop_prepare, routers::stop_run),
        "rebootRouter" => (routers::reboot_prepare, routers::reboot_run),
        "destroyRouter" => (routers::destroy_prepare, routers::destroy_run),
    }
}

/// Commands the HTTP edge answers itself (sessions).
pub const EDGE: &[&str] = &["login", "logout"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_command_has_one_handler_of_the_right_kind() {
        let reg = api::commands::registry();
        for spec in reg.all() {
            let s = SYNC.contains(&spec.name);
            let a = ASYNC.contains(&spec.name);
            let e = EDGE.contains(&spec.name);
            assert_eq!(
                s as u8 + a as u8 + e as u8,
                1,
                "{} must have exactly one handler",
                spec.name
            );
            assert_eq!(a, spec.isasync, "{}: async handler iff isasync", spec.name);
        }
        for name in SYNC.iter().chain(ASYNC).chain(EDGE) {
            assert!(reg.get(name).is_some(), "handler {name} has no spec");
        }
    }
}
