//! Deploy: the checks of deployVirtualMachine and its job.

use super::*;

// --- deploy ----------------------------------------------------------------------------------

/// CloudStack's host-name rule (RFC 1123 label, not starting with a digit).
pub(crate) fn check_hostname(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        param_err("Invalid name. Vm name can contain ASCII letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-'), must be between 1 and 63 characters long, and can't start or end with \"-\" and can't start with digit")
    }
}

pub(crate) fn check_userdata(ud: &str, max: i64) -> AppResult<()> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(ud.trim())
        .map_err(|_| ApiError::param("User data is not base64 encoded"))?;
    if decoded.len() as i64 > max {
        return param_err(format!(
            "User data is too long: {} bytes after decoding, the limit is {max} (vm.userdata.max.length)",
            decoded.len()
        ));
    }
    Ok(())
}

pub(crate) fn detail<'a>(args: &'a Args, key: &str) -> Option<&'a str> {
    args.map("details")?.iter().find_map(|m| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    })
}

pub(crate) fn detail_num(args: &Args, key: &str) -> AppResult<Option<i64>> {
    match detail(args, key) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => param_err(format!("details {key} must be a positive number: {v}")),
        },
    }
}

/// CPU count, speed (MHz) and memory (MiB) from the offering, or from `details` for a
/// customized one.
pub(crate) fn compute_of(o: &InfraRow, args: &Args) -> AppResult<(i64, i64, i64)> {
    let fixed = (
        attr_n(o, "cpunumber"),
        attr_n(o, "cpuspeed"),
        attr_n(o, "memory"),
    );
    let cpus = match fixed.0 {
        Some(v) => v,
        None => detail_num(args, "cpuNumber")?.ok_or_else(|| {
            ApiError::param("The service offering is customized: give details[0].cpuNumber")
        })?,
    };
    let speed = match fixed.1 {
        Some(v) => v,
        None => detail_num(args, "cpuSpeed")?.unwrap_or(1000),
    };
    let mem = match fixed.2 {
        Some(v) => v,
        None => detail_num(args, "memory")?.ok_or_else(|| {
            ApiError::param("The service offering is customized: give details[0].memory (MB)")
        })?,
    };
    for (v, lo, hi) in [
        ("mincpunumber", "maxcpunumber", cpus),
        ("minmemory", "maxmemory", mem),
    ]
    .map(|(lo, hi, v)| (v, attr_n(o, lo), attr_n(o, hi)))
    {
        if lo.map(|m| v < m).unwrap_or(false) || hi.map(|m| v > m).unwrap_or(false) {
            return param_err(format!(
                "The requested value {v} is outside the offering's range {}..{}",
                lo.unwrap_or(1),
                hi.map(|m| m.to_string())
                    .unwrap_or_else(|| "unlimited".into())
            ));
        }
    }
    if mem < 32 {
        return param_err("Memory must be at least 32 MB");
    }
    Ok((cpus, speed, mem))
}

pub(crate) async fn owner_account(
    st: &State,
    ctx: &OpContext,
    args: &Args,
) -> AppResult<db::AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_account(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

pub(crate) const GIB: i64 = 1 << 30;

/// deployVirtualMachine before its job: every check, then the VM, its volumes and NICs are
/// recorded (the job's saga starts it). Each step is a function below.
pub async fn deploy_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let acct = owner_account(st, ctx, args).await?;
    let (zone, so, compute) = zone_and_offering(st, ctx, &acct, args).await?;
    check_placement_hints(st, ctx, &zone, args).await?;
    // The admission policy of the request's runtime class (Canopy), before placement.
    let admitted = crate::handlers::admission::admit(st, &acct, &so, compute, args).await?;
    // A deployment planner for this VM (root admins, as CloudStack), over the offering's.
    if let Some(p) = args.text("deploymentplanner") {
        if !ctx.is_root_admin() {
            return Err(api::ApiError::permission(
                "Only a root admin can choose the deployment planner",
            )
            .into());
        }
        if !domain::placing::PLANNERS.contains(&p) {
            return param_err(format!(
                "Invalid deployment planner {p}: use one of {}",
                domain::placing::PLANNERS.join(", ")
            ));
        }
    }
    // Affinity groups: the owner's, by id or name.
    let affinity = crate::handlers::affinity::named_groups(st, &acct, args).await?;
    let image = image_for(st, ctx, &acct, &zone, args).await?;
    let disks = disks_for(st, &acct, &so, &image, args).await?;
    let name = unique_name(st, &acct, &zone, args).await?;
    let keypairs = keypairs_for(st, &acct, args).await?;
    // Its own user data, registered user data (`userdataid`), or its template's.
    let ud = crate::handlers::userdata::for_deploy(st, ctx, image.template.as_ref(), args).await?;
    let userdata = ud.userdata;
    // Limits: the VM, its CPUs and memory, its volumes and their storage.
    let (cpus, _, memory) = compute;
    crate::handlers::limits::enforce(
        st,
        &acct,
        &[
            (model::limits::ResourceType::UserVm, 1),
            (model::limits::ResourceType::Cpu, cpus),
            (model::limits::ResourceType::Memory, memory),
            (
                model::limits::ResourceType::Volume,
                1 + disks.data.is_some() as i64,
            ),
            (
                model::limits::ResourceType::PrimaryStorage,
                disks.root_size + disks.data.as_ref().map(|(s, _)| *s).unwrap_or(0),
            ),
        ],
    )
    .await?;
    let networks = crate::handlers::networks::deploy_networks(
        st,
        ctx,
        &acct,
        &zone,
        args.list("networkids").unwrap_or_default(),
    )
    .await?;
    // Security groups apply when the default network enforces them.
    let enforced = {
        let off = crate::handlers::networks::offering_of(st, &networks[0]).await?;
        crate::handlers::networks::has_service(&networks[0], off.as_ref(), "SecurityGroup")?
    };
    let groups = crate::handlers::secgroups::for_deploy(st, &acct, args, enforced).await?;
    let vm = NewDeploy {
        acct: &acct,
        zone: &zone,
        so: &so,
        compute,
        image: &image,
        disks,
        name,
        keypairs,
        userdata,
        userdata_from: ud.from,
        admitted,
        affinity,
    };
    let (id, instance) = record_vm(st, ctx, vm, args).await?;
    plug_networks(st, id, &networks, groups.as_ref(), args).await?;
    Ok(JobPlan {
        instance_type: Some("VirtualMachine"),
        instance_id: Some(id.to_string()),
        returns_id: true,
        description: format!("Deploying VM {instance}"),
    })
}

/// The zone (enabled, unless the caller is a root admin) and a service offering for user VMs,
/// with the VM's CPU count, speed and memory.
async fn zone_and_offering(
    st: &State,
    ctx: &OpContext,
    acct: &db::AccountRow,
    args: &Args,
) -> AppResult<(InfraRow, InfraRow, (i64, i64, i64))> {
    let zone = infra_get(st, Infra::Zone, "zoneid", args.required_id("zoneid")?).await?;
    if zone.allocation() != Some(model::AllocationState::Enabled) && !ctx.is_root_admin() {
        return Err(ApiError::new(
            ErrorCode::Account,
            format!(
                "Cannot perform this operation, Zone {} is currently disabled",
                zone.name
            ),
        )
        .into());
    }
    let so = crate::handlers::offerings::usable(
        st,
        acct,
        Infra::ServiceOffering,
        "serviceofferingid",
        args.required_id("serviceofferingid")?,
    )
    .await?;
    if attr_b(&so, "issystem") || so.state == "Inactive" {
        return param_err(format!(
            "Service offering {} cannot be used to deploy a user VM",
            so.name
        ));
    }
    let compute = compute_of(&so, args)?;
    Ok((zone, so, compute))
}

/// `hostid`, `clusterid` and `podid`: a root admin's, and naming what exists (a host in the
/// zone).
async fn check_placement_hints(
    st: &State,
    ctx: &OpContext,
    zone: &InfraRow,
    args: &Args,
) -> AppResult<()> {
    for p in ["hostid", "clusterid", "podid"] {
        if args.has(p) && !ctx.is_root_admin() {
            return Err(ApiError::permission(format!(
                "Parameter {p} can only be specified by a Root Admin"
            ))
            .into());
        }
    }
    if let Some(h) = args.uuid("hostid") {
        let mut c = st.store.read().await?;
        let host = db::host_get(&mut c, model::HostId(h))
            .await?
            .ok_or_else(|| ApiError::invalid_id("hostid", &h.to_string()))?;
        if host.zone_id != zone.id {
            return param_err("The host is not in the given zone");
        }
    }
    if let Some(cl) = args.uuid("clusterid") {
        infra_get(st, Infra::Cluster, "clusterid", cl).await?;
    }
    if let Some(p) = args.uuid("podid") {
        infra_get(st, Infra::Pod, "podid", p).await?;
    }
    Ok(())
}

/// What the VM boots: a template, or an ISO with a blank root disk from a disk offering.
struct Image {
    template: Option<InfraRow>,
    iso: Option<InfraRow>,
}

impl Image {
    fn row(&self) -> AppResult<&InfraRow> {
        self.template
            .as_ref()
            .or(self.iso.as_ref())
            .ok_or_else(|| AppError::Internal("no image".into()))
    }
}

/// The template or ISO: one of them, visible to the caller and the owner, ready, in the zone.
async fn image_for(
    st: &State,
    ctx: &OpContext,
    acct: &db::AccountRow,
    zone: &InfraRow,
    args: &Args,
) -> AppResult<Image> {
    let (template, iso) = match (args.uuid("templateid"), args.uuid("isoid")) {
        (Some(_), Some(_)) => return param_err("Specify either templateid or isoid, not both"),
        (None, None) => return param_err("Please specify a valid template or ISO ID (templateid)"),
        // The caller must be able to see the image, or it does not exist for them.
        (Some(t), None) => (
            Some(super::super::templates::usable(st, &ctx.user.account, "templateid", t).await?),
            None,
        ),
        (None, Some(i)) => (
            None,
            Some(super::super::templates::usable(st, &ctx.user.account, "isoid", i).await?),
        ),
    };
    let found = Image { template, iso };
    let image = found.row()?;
    let iso = &found.iso;
    if (image.kind == "ISO") != iso.is_some() {
        return Err(ApiError::invalid_id(
            if iso.is_some() { "isoid" } else { "templateid" },
            &image.id.to_string(),
        )
        .into());
    }
    let image_domain = super::super::templates::owner_domain_path(st, image).await?;
    if !super::super::templates::visible_to(acct, image, &image_domain) {
        return Err(ApiError::permission(format!(
            "Account {} has no access to template {}",
            acct.name, image.name
        ))
        .into());
    }
    if !attr_b(image, "isready") {
        return param_err(format!(
            "Template {} is not ready to be used (it has not been downloaded yet)",
            image.name
        ));
    }
    if !crate::handlers::template_copy::in_zone(image, zone.id) {
        return param_err(format!(
            "Template {} is not available in zone {}",
            image.name, zone.name
        ));
    }
    if !crate::handlers::template_copy::ready_in(image, zone.id) {
        return param_err(format!(
            "Template {} is still being copied to zone {}",
            image.name, zone.name
        ));
    }
    Ok(found)
}

/// The VM's disks: the root disk's size, and a data disk (size, offering) if any.
struct Disks {
    root_size: i64,
    data: Option<(i64, Option<InfraRow>)>,
    /// The disk offering given: a data disk's, or an ISO deploy's root disk's.
    offering: Option<InfraRow>,
}

/// A template deploy: root from the template (optionally larger) and the disk offering is a
/// data disk. An ISO deploy: the disk offering is the blank root disk.
async fn disks_for(
    st: &State,
    acct: &db::AccountRow,
    so: &InfraRow,
    image: &Image,
    args: &Args,
) -> AppResult<Disks> {
    let disk_offering = match args.uuid("diskofferingid") {
        Some(d) => Some(
            crate::handlers::offerings::usable(st, acct, Infra::DiskOffering, "diskofferingid", d)
                .await?,
        ),
        None => None,
    };
    let data_size = match &disk_offering {
        Some(d) if attr_b(d, "iscustomized") => match args.int("size") {
            Some(s) if s > 0 => Some(s * GIB),
            _ => return param_err("The disk offering is customized: give size (GB)"),
        },
        Some(d) => Some(attr_n(d, "disksize").unwrap_or(0) * GIB),
        None => None,
    };
    let template_size = attr_n(image.row()?, "size").unwrap_or(0).max(0);
    let rootdisksize = match args
        .int("rootdisksize")
        .or(detail_num(args, "rootdisksize")?)
    {
        Some(g) if g <= 0 => return param_err("rootdisksize must be a positive number of GB"),
        Some(g) => Some(g * GIB),
        None => attr_n(so, "rootdisksize").map(|g| g * GIB),
    };
    let (root_size, data) = if image.iso.is_some() {
        let size = data_size
            .ok_or_else(|| ApiError::param("A disk offering (diskofferingid) is required to deploy from an ISO: it is the root disk"))?;
        (size, None)
    } else {
        let root = match rootdisksize {
            Some(r) if r < template_size => {
                return param_err(format!(
                    "rootdisksize ({} GB) is smaller than the template ({template_size} bytes)",
                    r / GIB
                ))
            }
            Some(r) => r,
            None => template_size.max(1),
        };
        (root, data_size.map(|s| (s, disk_offering.clone())))
    };
    Ok(Disks {
        root_size,
        data,
        offering: disk_offering,
    })
}

/// The host name asked for: valid, and not taken by another VM of the account in the zone.
async fn unique_name(
    st: &State,
    acct: &db::AccountRow,
    zone: &InfraRow,
    args: &Args,
) -> AppResult<Option<String>> {
    let name = match args.text("name") {
        Some(n) => {
            check_hostname(n)?;
            Some(n.to_string())
        }
        None => None,
    };
    if let Some(n) = &name {
        let mut c = st.store.read().await?;
        let f = db::VmFilter {
            scope: Some(db::OwnerScope::Account(acct.id)),
            name: Some(n.clone()),
            zone_id: Some(zone.id),
            hide_states: vec![model::VmState::Expunging],
            ..Default::default()
        };
        if db::vm_list(&mut c, &f).await?.1 > 0 {
            return param_err(format!(
                "The vm with hostName {n} already exists in the network domain of the account"
            ));
        }
    }
    Ok(name)
}

/// `keypair` and `keypairs`, each the account's.
async fn keypairs_for(st: &State, acct: &db::AccountRow, args: &Args) -> AppResult<Vec<String>> {
    let mut keypairs: Vec<String> = Vec::new();
    if let Some(k) = args.text("keypair") {
        keypairs.push(k.to_string());
    }
    for k in args.list("keypairs").unwrap_or_default() {
        if !keypairs.contains(k) {
            keypairs.push(k.clone());
        }
    }
    {
        let mut c = st.store.read().await?;
        for k in &keypairs {
            if db::keypair_get_by_name(&mut c, acct.id, k).await?.is_none() {
                return param_err(format!(
                    "A key pair with name '{k}' was not found for account {}",
                    acct.name
                ));
            }
        }
    }
    Ok(keypairs)
}

/// What [`record_vm`] writes.
struct NewDeploy<'a> {
    acct: &'a db::AccountRow,
    zone: &'a InfraRow,
    so: &'a InfraRow,
    compute: (i64, i64, i64),
    image: &'a Image,
    disks: Disks,
    name: Option<String>,
    keypairs: Vec<String>,
    userdata: Option<String>,
    /// The registry entry the user data came from: (id, name, policy).
    userdata_from: Option<(Uuid, String, String)>,
    admitted: crate::handlers::admission::Admitted,
    affinity: Vec<db::AffinityRow>,
}

/// Writes the VM (Stopped), its volumes (Allocated) and the `VM.CREATE` event in one
/// transaction. Returns its id and instance name.
async fn record_vm(
    st: &State,
    ctx: &OpContext,
    vm: NewDeploy<'_>,
    args: &Args,
) -> AppResult<(Uuid, String)> {
    let NewDeploy {
        acct,
        zone,
        so,
        compute: (cpus, cpu_mhz, memory),
        image,
        disks,
        name,
        keypairs,
        userdata,
        userdata_from,
        admitted,
        affinity,
    } = vm;
    let (template, iso, disk_offering) = (&image.template, &image.iso, &disks.offering);
    let mut details: Map<String, Value> = args
        .map("details")
        .unwrap_or_default()
        .iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), json!(v))))
        .collect();
    details.extend(admitted.details.clone());
    let hosttags = {
        let mut t: Vec<String> = attr_s(so, "hosttags")
            .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default();
        t.extend(admitted.host_tags.iter().cloned());
        t.retain(|x| !x.is_empty());
        t.dedup();
        (!t.is_empty()).then(|| t.join(","))
    };
    let strs = |k: &str| -> Vec<String> { args.list(k).map(|l| l.to_vec()).unwrap_or_default() };
    let mut attrs = json!({
        "hypervisor": args.text("hypervisor").unwrap_or("Simulator"),
        "details": details,
        "networkids": strs("networkids"),
        "securitygroupids": strs("securitygroupids"),
        "securitygroupnames": strs("securitygroupnames"),
        "diskofferingid": if iso.is_none() { disk_offering.as_ref().map(|d| d.id) } else { None },
        "displayvm": args.bool("displayvm").unwrap_or(true),
        "hosttags": hosttags,
        "storagetags": attr_s(so, "storagetags"),
        "localstorage": attr_s(so, "storagetype").as_deref() == Some("local"),
        "ipaddress": args.text("ipaddress"),
        "macaddress": args.text("macaddress"),
    });
    // The planner asked for (checked in deploy_prepare); under the ImplicitDedicationPlanner
    // the VM is implicitly dedicated, in the offering's ImplicitDedicationMode (Strict unless
    // it says Preferred), which placement reads back for every later VM.
    if let Some(p) = args.text("deploymentplanner") {
        attrs["deploymentplanner"] = json!(p);
    }
    if let Some((id, name, policy)) = userdata_from {
        attrs["userdataid"] = json!(id);
        attrs["userdataname"] = json!(name);
        attrs["userdatapolicy"] = json!(policy);
    }
    let planner = args
        .text("deploymentplanner")
        .map(str::to_string)
        .or_else(|| attr_s(so, "deploymentplanner"));
    if planner.as_deref() == Some("ImplicitDedicationPlanner") {
        let preferred = match &so.attrs["details"] {
            Value::Array(a) => a.iter().any(|m| {
                m.get("ImplicitDedicationMode").and_then(|v| v.as_str()) == Some("Preferred")
            }),
            Value::Object(m) => {
                m.get("ImplicitDedicationMode").and_then(|v| v.as_str()) == Some("Preferred")
            }
            _ => false,
        };
        attrs["implicitdedication"] = json!(if preferred { "Preferred" } else { "Strict" });
    }
    // A password-enabled template's guest gets a generated password from its router at its
    // first boot; the deploy answers it.
    if template
        .as_ref()
        .is_some_and(|t| attr_b(t, "passwordenabled"))
    {
        let p = domain::guestdata::generate_password(st);
        attrs[domain::guestdata::PENDING_PASSWORD] = json!(st.key.encrypt(&p)?);
    }
    let group = match args.text("group").map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) => {
            crate::handlers::instancegroups::ensure(st, acct.id, acct.domain_id, g).await?;
            Some(g.to_string())
        }
        None => None,
    };
    let id = Uuid::new_v4();
    let new = db::NewVm {
        id: model::VmId(id),
        name: name.clone(),
        display_name: args.text("displayname").map(str::to_string),
        account_id: acct.id,
        domain_id: acct.domain_id,
        user_id: ctx.user_id(),
        zone_id: zone.id,
        template_id: template.as_ref().map(|t| t.id),
        iso_id: iso.as_ref().map(|t| t.id),
        service_offering_id: so.id,
        cpus,
        cpu_mhz,
        memory_mib: memory,
        ha_enable: attr_b(so, "offerha"),
        group,
        userdata,
        keypairs,
        attrs,
        suffix: st.settings.text("instance.name"),
        reserve_cpu: admitted.reserve_cpu,
        reserve_memory: admitted.reserve_memory,
    };
    let mut tx = st.store.begin().await?;
    let instance = db::vm_insert(&mut tx, &new).await?;
    if !affinity.is_empty() {
        let groups: Vec<Uuid> = affinity.iter().map(|g| g.id).collect();
        db::vm_affinity_set(&mut tx, model::VmId(id), &groups).await?;
    }
    db::volume_insert(
        &mut tx,
        &db::NewVolume {
            id: model::VolumeId::new(),
            name: format!("ROOT-{}", instance.split('-').nth(2).unwrap_or("0")),
            vol_type: "ROOT".into(),
            account_id: acct.id,
            domain_id: acct.domain_id,
            zone_id: zone.id,
            vm_id: Some(model::VmId(id)),
            device_id: Some(0),
            size: disks.root_size,
            disk_offering_id: iso.as_ref().and(disk_offering.as_ref()).map(|d| d.id),
            template_id: template.as_ref().map(|t| t.id),
            attrs: json!({}),
        },
    )
    .await?;
    if let Some((size, offering)) = disks.data {
        db::volume_insert(
            &mut tx,
            &db::NewVolume {
                id: model::VolumeId::new(),
                name: format!("DATA-{}", instance.split('-').nth(2).unwrap_or("0")),
                vol_type: "DATADISK".into(),
                account_id: acct.id,
                domain_id: acct.domain_id,
                zone_id: zone.id,
                vm_id: Some(model::VmId(id)),
                device_id: Some(1),
                size,
                disk_offering_id: offering.map(|d| d.id),
                template_id: None,
                attrs: json!({}),
            },
        )
        .await?;
    }
    Event::new(ctx, "VM.CREATE", format!("VM {instance} created"))
        .resource(id, "VirtualMachine", name.as_deref())
        .record(&mut tx)
        .await?;
    if let Some(text) = &admitted.event {
        Event::new(ctx, "VM.ADMISSION", format!("VM {instance}: {text}"))
            .resource(id, "VirtualMachine", name.as_deref())
            .record(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok((id, instance))
}

/// The VM's NICs on its networks (the first the default, with the address and MAC asked
/// for) and its security groups. On failure the VM can never start: it is left in Error
/// (expunged later) and the error returned.
async fn plug_networks(
    st: &State,
    id: Uuid,
    networks: &[db::NetworkRow],
    groups: Option<&Vec<Uuid>>,
    args: &Args,
) -> AppResult<()> {
    let mut nics = Ok(());
    for (i, network) in networks.iter().enumerate() {
        let first = i == 0;
        let r = crate::handlers::networks::allocate_nic(
            st,
            id,
            network,
            if first { args.text("ipaddress") } else { None },
            if first { args.text("macaddress") } else { None },
            i as i64,
            first,
        )
        .await;
        if let Err(e) = r {
            nics = Err(e);
            break;
        }
    }
    if let (Ok(()), Some(groups)) = (&nics, groups) {
        nics = crate::handlers::secgroups::join(st, id, groups).await;
    }
    if let Err(e) = nics {
        // No address: the VM can never start; it is left in Error (expunged later).
        let mut tx = st.store.begin().await?;
        db::vm_transition(
            &mut tx,
            model::VmId(id),
            &[model::VmState::Stopped],
            model::VmState::Error,
            &VmPlace::keep(),
        )
        .await?;
        tx.commit().await?;
        return Err(e);
    }
    Ok(())
}

pub(crate) fn placement_hints(args: &Args) -> saga::SagaData {
    saga::SagaData {
        hostid: args.uuid("hostid").map(model::HostId),
        clusterid: args.uuid("clusterid"),
        podid: args.uuid("podid"),
        ..Default::default()
    }
}

pub async fn deploy_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = job.instance()?;
    // Read before the guest boots (it may acknowledge the password before the job answers).
    let password = match load(st, model::VmId(id)).await? {
        Some(vm) => pending_password(st, &vm),
        None => None,
    };
    if args.bool("startvm").unwrap_or(true) {
        let mut data = placement_hints(args);
        data.fresh = true;
        saga::run(st, job.id, &START, id, data).await?;
    }
    let mut r = result(st, ctx, id).await?;
    if let Some(p) = password {
        r["virtualmachine"]["password"] = json!(p);
    }
    Ok(r)
}
