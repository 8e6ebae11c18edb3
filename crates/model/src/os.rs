//! Guest OS categories and types (listOsCategories, listOsTypes). Fixed ids, so templates keep
//! pointing at the same OS type across databases and releases.

pub struct OsCategory {
    pub id: &'static str,
    pub name: &'static str,
}

pub struct OsType {
    pub id: &'static str,
    pub category: &'static str,
    pub description: &'static str,
}

pub const OS_CATEGORIES: &[OsCategory] = &[
    OsCategory {
        id: "6a1e0a74-53f6-4a64-9a2b-0c0000000001",
        name: "Debian",
    },
    OsCategory {
        id: "6a1e0a74-53f6-4a64-9a2b-0c0000000002",
        name: "Ubuntu",
    },
    OsCategory {
        id: "6a1e0a74-53f6-4a64-9a2b-0c0000000003",
        name: "CentOS",
    },
    OsCategory {
        id: "6a1e0a74-53f6-4a64-9a2b-0c0000000004",
        name: "Windows",
    },
    OsCategory {
        id: "6a1e0a74-53f6-4a64-9a2b-0c0000000005",
        name: "Other",
    },
];

pub const OS_TYPES: &[OsType] = &[
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000001",
        category: "Debian",
        description: "Debian GNU/Linux 12 (64-bit)",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000002",
        category: "Debian",
        description: "Debian GNU/Linux 11 (64-bit)",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000003",
        category: "Ubuntu",
        description: "Ubuntu 24.04 LTS",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000004",
        category: "Ubuntu",
        description: "Ubuntu 22.04 LTS",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000005",
        category: "CentOS",
        description: "CentOS 5.6 (64-bit)",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000006",
        category: "CentOS",
        description: "Rocky Linux 9",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000007",
        category: "Windows",
        description: "Windows Server 2022 (64-bit)",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000008",
        category: "Other",
        description: "Other Linux (64-bit)",
    },
    OsType {
        id: "4e3f2c1a-7b6d-4e5f-8a9b-000000000009",
        category: "Other",
        description: "Other (64-bit)",
    },
];

pub fn os_type(id: &str) -> Option<&'static OsType> {
    OS_TYPES.iter().find(|o| o.id == id)
}

pub fn category(name: &str) -> Option<&'static OsCategory> {
    OS_CATEGORIES.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_uuids_unique_and_categories_exist() {
        let mut ids: Vec<&str> = super::OS_TYPES
            .iter()
            .map(|o| o.id)
            .chain(super::OS_CATEGORIES.iter().map(|c| c.id))
            .collect();
        for id in &ids {
            assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(n, ids.len());
        for o in super::OS_TYPES {
            assert!(super::category(o.category).is_some(), "{}", o.description);
        }
    }
}
