//! CloudStack's configuration groups and subgroups (listConfigurationGroups, and the `group`
//! and `subgroup` of each setting in listConfigurations): the groups, their subgroups with the
//! keywords that place a setting in them, in CloudStack's precedence — a setting belongs to
//! the first subgroup whose name or one of whose keywords is one of the dot-separated words
//! of its name; else to Miscellaneous / Others.

/// (group, description, precedence, subgroups: (name, keywords, precedence)).
pub type Group = (
    &'static str,
    &'static str,
    i64,
    &'static [(&'static str, &'static [&'static str], i64)],
);

pub const GROUPS: &[Group] = &[
    (
        "Access",
        "Identity and Access management configuration",
        1,
        &[
            ("Account", &[], 1),
            ("Domain", &[], 2),
            ("Project", &[], 3),
            ("LDAP", &[], 4),
            ("SAML", &["saml2"], 5),
        ],
    ),
    (
        "Compute",
        "Compute configuration",
        2,
        &[
            (
                "Virtual Machine",
                &["vm", "instance", "cpu", "ssh", "affinity"],
                1,
            ),
            ("Kubernetes", &["kubernetes"], 2),
            ("High Availability", &["ha"], 3),
        ],
    ),
    (
        "Storage",
        "Storage configuration",
        3,
        &[
            ("Images", &["template", "iso"], 1),
            ("Volume", &["disk", "diskoffering"], 2),
            ("Snapshot", &[], 3),
            ("VM Snapshot", &["vmsnapshot"], 4),
        ],
    ),
    (
        "Network",
        "Network configuration",
        4,
        &[
            (
                "Network",
                &["firewall", "vlan", "dns", "globodns", "ipaddress", "cidr"],
                1,
            ),
            ("DHCP", &["externaldhcp"], 2),
            ("VPC", &[], 3),
            ("LoadBalancer", &["lb", "gslb"], 4),
        ],
    ),
    (
        "Hypervisor",
        "Hypervisor specific configuration",
        5,
        &[
            ("Hypervisor", &["host"], 1),
            ("KVM", &["libvirt"], 2),
            ("VMware", &["vcenter"], 3),
            ("XenServer", &["xen", "xapi", "xcp"], 4),
            ("OVM", &["ovm3"], 5),
            ("Baremetal", &[], 6),
        ],
    ),
    (
        "Management Server",
        "Management Server configuration",
        6,
        &[
            ("API", &[], 1),
            ("Alerts", &["alert"], 2),
            ("Events", &["event"], 3),
            ("Security", &["secure", "password", "authenticators"], 4),
            ("Usage", &[], 5),
            ("Limits", &["capacity", "delay", "interval", "workers"], 6),
            ("Jobs", &["job"], 7),
            ("Agent", &[], 8),
        ],
    ),
    (
        "System VMs",
        "System VMs related configuration",
        7,
        &[
            ("ConsoleProxyVM", &["cpvm", "consoleproxy", "novnc"], 1),
            ("SecStorageVM", &["ssvm", "secondary"], 2),
            ("VirtualRouter", &["vr", "router", "vrouter"], 3),
            ("Diagnostics", &[], 4),
        ],
    ),
    (
        "Infrastructure",
        "Infrastructure configuration",
        8,
        &[
            ("Primary Storage", &["storage", "pool", "primary"], 1),
            ("Secondary Storage", &["image", "secstorage"], 2),
        ],
    ),
    (
        "Miscellaneous",
        "Miscellaneous configuration",
        999,
        &[
            ("Backup & Recovery", &["backup", "recovery", "veeam"], 1),
            ("Certificate Authority", &["ca"], 2),
            ("Quota", &[], 3),
            ("Cloudian", &[], 4),
            ("Others", &[], 999),
        ],
    ),
];

/// The (group, subgroup) of a setting.
pub fn group_of(name: &str) -> (&'static str, &'static str) {
    let words: Vec<String> = name.split('.').map(|w| w.to_ascii_lowercase()).collect();
    let has = |w: &str| words.iter().any(|x| x == w);
    for (group, _, _, subs) in GROUPS {
        for (sub, keywords, _) in *subs {
            let own = sub.to_ascii_lowercase().replace(' ', "");
            if has(&own) || keywords.iter().any(|k| has(k)) {
                return (group, sub);
            }
        }
    }
    ("Miscellaneous", "Others")
}

#[cfg(test)]
mod tests {
    use super::group_of;

    #[test]
    fn settings_fall_in_cloudstacks_groups() {
        assert_eq!(group_of("account.cleanup.interval"), ("Access", "Account"));
        assert_eq!(
            group_of("allow.user.expunge.recover.vm"),
            ("Compute", "Virtual Machine")
        );
        assert_eq!(group_of("max.template.iso.size"), ("Storage", "Images"));
        assert_eq!(group_of("network.gc.interval"), ("Network", "Network"));
        assert_eq!(
            group_of("event.purge.delay"),
            ("Management Server", "Events")
        );
        assert_eq!(
            group_of("storage.overprovisioning.factor"),
            ("Infrastructure", "Primary Storage")
        );
        assert_eq!(group_of("no.such.words"), ("Miscellaneous", "Others"));
    }
}
