//! Security groups (basic zones and shared networks with the SecurityGroup service):
//! createSecurityGroup, deleteSecurityGroup, updateSecurityGroup, listSecurityGroups,
//! authorizeSecurityGroupIngress/Egress, revokeSecurityGroupIngress/Egress.
//!
//! Every account has a group named `default` ("Default Security Group", created the first
//! time the account meets security groups): no ingress rule (all inbound denied), no egress
//! rule (all outbound allowed until the first egress rule). A VM may be in several groups. As
//! in CloudStack, a rule given several CIDRs or groups is stored as one rule per CIDR and per
//! group. A change to a group is compiled into the ruleset of every host with a member VM (and
//! of hosts whose groups name this one) and pushed at once.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args, ErrorCode};
use db::rulespec::{self, GroupSpec, SgRuleSpec, L4};
use db::{AccountRow, DbError, RuleRow, RuleSpec};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

pub(crate) const DEFAULT: &str = "default";

async fn find(st: &State, acct: &AccountRow, name: &str) -> AppResult<Option<RuleRow>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec!["securitygroup"],
            scope: Some(db::OwnerScope::Account(acct.id)),
            name: Some(name.to_string()),
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next())
}

/// The account's `default` group, created when missing.
pub(crate) async fn ensure_default(st: &State, acct: &AccountRow) -> AppResult<Uuid> {
    if let Some(g) = find(st, acct, DEFAULT).await? {
        return Ok(g.id);
    }
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(DEFAULT.into()),
            state: model::RuleState::Active,
            account_id: Some(acct.id),
            domain_id: Some(acct.domain_id),
            network_id: None,
            ip_id: None,
            parent_id: None,
            spec: RuleSpec::SecurityGroup(GroupSpec {
                description: "Default Security Group".into(),
            }),
        },
    )
    .await
    {
        Ok(()) => {
            tx.commit().await?;
            Ok(id)
        }
        Err(DbError::Conflict(_)) => {
            drop(tx);
            find(st, acct, DEFAULT)
                .await?
                .map(|g| g.id)
                .ok_or_else(|| ApiError::internal("the default security group vanished").into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The groups a new VM joins: `securitygroupids` or `securitygroupnames` of its account, else
/// its `default` group. `None` when the VM's network does not enforce security groups (then
/// giving groups is an error).
pub(crate) async fn for_deploy(
    st: &State,
    acct: &AccountRow,
    args: &Args,
    enforced: bool,
) -> AppResult<Option<Vec<Uuid>>> {
    let ids = args.list("securitygroupids").unwrap_or_default();
    let names = args.list("securitygroupnames").unwrap_or_default();
    if !ids.is_empty() && !names.is_empty() {
        return param_err("securitygroupids and securitygroupnames are mutually exclusive");
    }
    if !enforced {
        if !ids.is_empty() || !names.is_empty() {
            return param_err(
                "Can't create vm with security groups; security group feature is not enabled per network offering",
            );
        }
        return Ok(None);
    }
    let mut out = Vec::new();
    for s in ids {
        let id: Uuid = s
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid_id("securitygroupids", s))?;
        let g = {
            let mut c = st.store.read().await?;
            db::rule_get(&mut c, id).await?
        };
        match g {
            Some(g)
                if g.kind() == rulespec::kind::SECURITY_GROUP && g.account_id == Some(acct.id) =>
            {
                out.push(g.id)
            }
            _ => {
                return param_err(format!(
                    "Unable to find security group {s} of account {}",
                    acct.name
                ))
            }
        }
    }
    for n in names {
        let n = n.trim();
        let g = if n == DEFAULT {
            Some(ensure_default(st, acct).await?)
        } else {
            find(st, acct, n).await?.map(|g| g.id)
        };
        match g {
            Some(g) => out.push(g),
            None => {
                return param_err(format!(
                    "Unable to find security group {n} of account {}",
                    acct.name
                ))
            }
        }
    }
    if out.is_empty() {
        out.push(ensure_default(st, acct).await?);
    }
    out.sort_unstable();
    out.dedup();
    Ok(Some(out))
}

/// Puts a VM in groups.
pub(crate) async fn join(st: &State, vm: Uuid, groups: &[Uuid]) -> AppResult<()> {
    let mut tx = st.store.begin().await?;
    for g in groups {
        db::member_add(
            &mut tx,
            &db::MemberRow {
                owner_id: *g,
                member_id: model::VmId(vm),
                ip: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn description(g: &RuleRow) -> &str {
    match &g.spec {
        RuleSpec::SecurityGroup(s) => &s.description,
        _ => "",
    }
}

fn rule_view(r: &RuleRow, names: &HashMap<Uuid, (String, String)>) -> Value {
    let (RuleSpec::Ingress(s) | RuleSpec::Egress(s)) = &r.spec else {
        return json!({ "ruleid": r.id });
    };
    let mut v = json!({
        "ruleid": r.id,
        "protocol": s.l4.protocol,
        "tags": [],
    });
    super::netrules::l4_fields(&mut v, &s.l4);
    if let Some(c) = s.cidrlist.first() {
        v["cidr"] = json!(c);
    }
    if let Some(g) = s.groups().first() {
        if let Some((name, acct)) = names.get(g) {
            v["securitygroupname"] = json!(name);
            v["account"] = json!(acct);
        }
    }
    v
}

async fn views(
    st: &State,
    groups: &[RuleRow],
    only_rules: Option<&[Uuid]>,
) -> AppResult<Vec<Value>> {
    let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
    let (rules, members, named) = {
        let mut c = st.store.read().await?;
        let rules = if ids.is_empty() {
            Vec::new()
        } else {
            db::rule_list(
                &mut c,
                &db::RuleFilter {
                    kinds: vec!["ingress", "egress"],
                    parent_ids: ids.clone(),
                    ..Default::default()
                },
            )
            .await?
            .0
        };
        let members = db::members_of(&mut c, &ids).await?;
        let refs: Vec<Uuid> = rules.iter().flat_map(|r| r.spec.groups()).collect();
        let named = if refs.is_empty() {
            Vec::new()
        } else {
            db::rule_list(
                &mut c,
                &db::RuleFilter {
                    kinds: vec!["securitygroup"],
                    ids: refs,
                    ..Default::default()
                },
            )
            .await?
            .0
        };
        (rules, members, named)
    };
    let names: HashMap<Uuid, (String, String)> = named
        .iter()
        .map(|g| {
            (
                g.id,
                (
                    g.name.clone().unwrap_or_default(),
                    g.account_name.clone().unwrap_or_default(),
                ),
            )
        })
        .collect();
    let tags = super::tags::for_resources(st, &ids).await?;
    Ok(groups
        .iter()
        .map(|g| {
            let pick = |dir: &str| -> Vec<Value> {
                rules
                    .iter()
                    .filter(|r| r.parent_id == Some(g.id) && r.kind() == dir)
                    .filter(|r| only_rules.is_none_or(|o| o.contains(&r.id)))
                    .map(|r| rule_view(r, &names))
                    .collect()
            };
            let vms: Vec<model::VmId> = members
                .iter()
                .filter(|m| m.owner_id == g.id)
                .map(|m| m.member_id)
                .collect();
            let mut v = json!({
                "id": g.id,
                "name": g.name,
                "description": description(g),
                "ingressrule": pick("ingress"),
                "egressrule": pick("egress"),
                "virtualmachinecount": vms.len(),
                "virtualmachineids": vms,
                "tags": super::tags::embedded(&tags, g.id),
            });
            super::netrules::owner_fields(&mut v, g);
            v
        })
        .collect())
}

/// The `securitygroup` array of VM objects.
pub(crate) async fn of_vms(
    st: &State,
    vms: &[model::VmId],
) -> AppResult<HashMap<model::VmId, Vec<Value>>> {
    let mut out: HashMap<model::VmId, Vec<Value>> = HashMap::new();
    if vms.is_empty() {
        return Ok(out);
    }
    let (m, groups) = {
        let mut c = st.store.read().await?;
        let m = db::memberships(&mut c, vms).await?;
        let ids: Vec<Uuid> = m.iter().map(|x| x.owner_id).collect();
        let groups = if ids.is_empty() {
            Vec::new()
        } else {
            db::rule_list(
                &mut c,
                &db::RuleFilter {
                    kinds: vec!["securitygroup"],
                    ids,
                    ..Default::default()
                },
            )
            .await?
            .0
        };
        (m, groups)
    };
    for x in m {
        if let Some(g) = groups.iter().find(|g| g.id == x.owner_id) {
            let mut v = json!({
                "id": g.id,
                "name": g.name,
                "description": description(g),
            });
            super::netrules::owner_fields(&mut v, g);
            out.entry(x.member_id).or_default().push(v);
        }
    }
    Ok(out)
}

pub async fn create(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let acct = super::vms::owner_account(st, ctx, args).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Security group name cannot be empty");
    }
    if name.eq_ignore_ascii_case(DEFAULT) {
        ensure_default(st, &acct).await?;
        return param_err(format!(
            "Unable to create security group, a group with name {name} already exists."
        ));
    }
    ensure_default(st, &acct).await?;
    let id = Uuid::new_v4();
    let mut tx = st.store.begin().await?;
    match db::rule_insert(
        &mut tx,
        &db::NewRule {
            id,
            name: Some(name.clone()),
            state: model::RuleState::Active,
            account_id: Some(acct.id),
            domain_id: Some(acct.domain_id),
            network_id: None,
            ip_id: None,
            parent_id: None,
            spec: RuleSpec::SecurityGroup(GroupSpec {
                description: args.text("description").unwrap_or(&name).to_string(),
            }),
        },
    )
    .await
    {
        Ok(()) => {}
        Err(DbError::Conflict(_)) => {
            return param_err(format!(
                "Unable to create security group, a group with name {name} already exists."
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Event::new(ctx, "SG.CREATE", format!("Security group {name} created"))
        .resource(id, "SecurityGroup", Some(&name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let g = group(st, id).await?;
    Ok(json!({ "securitygroup": views(st, &[g], None).await?.remove(0) }))
}

async fn group(st: &State, id: Uuid) -> AppResult<RuleRow> {
    let mut c = st.store.read().await?;
    db::rule_get(&mut c, id)
        .await?
        .filter(|g| g.kind() == rulespec::kind::SECURITY_GROUP)
        .ok_or_else(|| ApiError::invalid_id("id", &id.to_string()).into())
}

/// The group named by `id_key` or `name_key` (+ account/domainid), which the caller may change.
async fn resolve(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    id_key: &str,
    name_key: &str,
) -> AppResult<RuleRow> {
    match (args.uuid(id_key), args.text(name_key)) {
        (Some(_), Some(_)) => param_err(format!("{id_key} and {name_key} are mutually exclusive")),
        (Some(id), None) => {
            super::netrules::owned_rule(st, ctx, id_key, id, &["securitygroup"]).await
        }
        (None, Some(n)) => {
            let acct = super::vms::owner_account(st, ctx, args).await?;
            if n.trim() == DEFAULT {
                ensure_default(st, &acct).await?;
            }
            find(st, &acct, n.trim()).await?.ok_or_else(|| {
                ApiError::param(format!(
                    "Unable to find security group {n} of account {}",
                    acct.name
                ))
                .into()
            })
        }
        (None, None) => param_err(format!("Either {id_key} or {name_key} is required")),
    }
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let scope = crate::access::owner_scope(st, ctx, args).await?;
    if let db::OwnerScope::Account(a) = &scope {
        if *a == ctx.account_id() {
            ensure_default(st, &ctx.user.account).await?;
        }
    }
    let mut f = db::RuleFilter::kind("securitygroup");
    f.scope = Some(scope);
    f.ids.extend(args.uuid("id"));
    f.name = args.text("securitygroupname").map(|n| n.trim().to_string());
    let mut rows = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?.0
    };
    if let Some(vm) = args.uuid("virtualmachineid") {
        super::vms::owned(st, ctx, vm).await?;
        let m = {
            let mut c = st.store.read().await?;
            db::memberships(&mut c, &[model::VmId(vm)]).await?
        };
        rows.retain(|g| m.iter().any(|x| x.owner_id == g.id));
    }
    if let Some(k) = args.text("keyword") {
        let k = k.to_lowercase();
        rows.retain(|g| g.name.as_deref().unwrap_or("").to_lowercase().contains(&k));
    }
    let total = rows.len() as u64;
    let rows = args.page.slice(rows);
    Ok(list_body(
        "securitygroup",
        total,
        views(st, &rows, None).await?,
    ))
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let g = super::netrules::owned_rule(st, ctx, "id", args.required_id("id")?, &["securitygroup"])
        .await?;
    if let Some(n) = args.text("name") {
        let n = n.trim();
        if g.name.as_deref() == Some(DEFAULT) {
            return param_err("The default security group cannot be renamed");
        }
        if n.is_empty() || n.eq_ignore_ascii_case(DEFAULT) {
            return param_err(format!("Invalid security group name {n:?}"));
        }
        let mut tx = st.store.begin().await?;
        match db::rule_update(&mut tx, g.id, g.state, Some(n), &g.spec).await {
            Ok(_) => {}
            Err(DbError::Conflict(_)) => {
                return param_err(format!("A security group with name {n} already exists"))
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
    }
    let g = group(st, g.id).await?;
    Ok(json!({ "securitygroup": views(st, &[g], None).await?.remove(0) }))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let g = resolve(st, ctx, args, "id", "name").await?;
    if g.name.as_deref() == Some(DEFAULT) {
        return param_err("The network group default is reserved");
    }
    let (members, referenced) = {
        let mut c = st.store.read().await?;
        let members = db::members_of(&mut c, &[g.id]).await?.len();
        let rules = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec!["ingress", "egress"],
                ..Default::default()
            },
        )
        .await?
        .0;
        let referenced = rules
            .iter()
            .any(|r| r.parent_id != Some(g.id) && r.spec.groups().contains(&g.id));
        (members, referenced)
    };
    if members > 0 {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            format!("Cannot delete group when it's in use by virtual machines ({members})"),
        )
        .into());
    }
    if referenced {
        return Err(ApiError::new(
            ErrorCode::ResourceInUse,
            "Cannot delete security group: rules of other groups refer to it".to_string(),
        )
        .into());
    }
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Parent, g.id).await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, g.id).await?;
    Event::new(
        ctx,
        "SG.DELETE",
        format!("Security group {} deleted", g.name.as_deref().unwrap_or("")),
    )
    .resource(g.id, "SecurityGroup", g.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(success_body())
}

fn dir_of(args: &Args) -> &'static str {
    if args.command.ends_with("Egress") {
        "egress"
    } else {
        "ingress"
    }
}

/// The rules an authorize call asks for: one spec per CIDR and per group.
async fn rule_specs(
    st: &State,
    ctx: &OpContext,
    g: &RuleRow,
    args: &Args,
) -> AppResult<Vec<RuleSpec>> {
    let protocol = args.text("protocol").unwrap_or("tcp").to_ascii_lowercase();
    let proto = match protocol.as_str() {
        "tcp" | "udp" | "icmp" | "all" => protocol.clone(),
        n => match n.parse::<u8>() {
            Ok(6) => "tcp".into(),
            Ok(17) => "udp".into(),
            Ok(1) => "icmp".into(),
            Ok(x) => x.to_string(),
            Err(_) => {
                return param_err(format!(
                    "Invalid protocol {protocol}: use TCP, UDP, ICMP, ALL or a protocol number"
                ))
            }
        },
    };
    let mut base = L4::protocol(proto.clone());
    match proto.as_str() {
        "tcp" | "udp" => {
            let (Some(s), Some(e)) = (
                args.int("startport"),
                args.int("endport").or(args.int("startport")),
            ) else {
                return param_err(format!(
                    "Invalid port range: startport and endport are required for {proto}"
                ));
            };
            if !(0..=65535).contains(&s) || !(0..=65535).contains(&e) || e < s {
                return param_err(format!("Invalid port range {s}:{e}"));
            }
            base.startport = Some(s);
            base.endport = Some(e);
        }
        "icmp" => {
            let t = args.int("icmptype").unwrap_or(-1);
            let c = args.int("icmpcode").unwrap_or(-1);
            if !(-1..=255).contains(&t) || !(-1..=255).contains(&c) {
                return param_err(format!("Invalid ICMP type/code {t}/{c}"));
            }
            base.icmptype = Some(t);
            base.icmpcode = Some(c);
        }
        _ => {
            if args.has("startport") || args.has("endport") {
                return param_err(format!("Ports are only for TCP and UDP rules, not {proto}"));
            }
        }
    }
    let cidrs = super::netrules::parse_cidrs(args, "cidrlist", false)?;
    let mut groups = Vec::new();
    for m in args.map("usersecuritygrouplist").unwrap_or_default() {
        let (Some(a), Some(n)) = (m.get("account"), m.get("group")) else {
            return param_err("usersecuritygrouplist entries need account and group");
        };
        let owner = crate::access::account_by_name(st, ctx, a, g.domain_id).await?;
        let target = if n == DEFAULT {
            Some(ensure_default(st, &owner).await?)
        } else {
            find(st, &owner, n).await?.map(|x| x.id)
        };
        let Some(t) = target else {
            return param_err(format!("Unable to find security group {n} of account {a}"));
        };
        groups.push(t);
    }
    if cidrs.is_empty() && groups.is_empty() {
        return param_err("At least one of cidrlist or usersecuritygrouplist must be given");
    }
    let one = |s: SgRuleSpec| {
        if dir_of(args) == rulespec::kind::EGRESS {
            RuleSpec::Egress(s)
        } else {
            RuleSpec::Ingress(s)
        }
    };
    let mut out = Vec::new();
    for c in cidrs {
        out.push(one(SgRuleSpec {
            l4: base.clone(),
            cidrlist: vec![c],
            usersecuritygrouplist: Vec::new(),
        }));
    }
    for t in groups {
        out.push(one(SgRuleSpec {
            l4: base.clone(),
            cidrlist: Vec::new(),
            usersecuritygrouplist: vec![rulespec::GroupRef { groupid: t }],
        }));
    }
    Ok(out)
}

pub async fn authorize_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let g = resolve(st, ctx, args, "securitygroupid", "securitygroupname").await?;
    let specs = rule_specs(st, ctx, &g, args).await?;
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec![dir_of(args)],
                parent_ids: vec![g.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let new: Vec<&RuleSpec> = specs
        .iter()
        .filter(|s| !existing.iter().any(|r| &r.spec == *s))
        .collect();
    if new.is_empty() {
        return param_err("Failed to authorize security group rule(s): the rules already exist");
    }
    Ok(JobPlan {
        instance_type: Some("SecurityGroup"),
        instance_id: Some(g.id.to_string()),
        returns_id: false,
        description: format!(
            "Authorizing {} rules of {}",
            dir_of(args),
            g.name.as_deref().unwrap_or("")
        ),
    })
}

pub async fn authorize_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    job: &JobRef,
) -> AppResult<Value> {
    let g = group(st, job.instance()?).await?;
    let dir = dir_of(args);
    let specs = rule_specs(st, ctx, &g, args).await?;
    let existing = {
        let mut c = st.store.read().await?;
        db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec![dir],
                parent_ids: vec![g.id],
                ..Default::default()
            },
        )
        .await?
        .0
    };
    let mut mine = Vec::new();
    let mut tx = st.store.begin().await?;
    for s in specs {
        // A resumed job finds its rules made: they are the ones it answers with.
        if let Some(r) = existing.iter().find(|r| r.spec == s) {
            mine.push(r.id);
            continue;
        }
        let id = Uuid::new_v4();
        db::rule_insert(
            &mut tx,
            &db::NewRule {
                id,
                name: None,
                state: model::RuleState::Active,
                account_id: g.account_id,
                domain_id: g.domain_id,
                network_id: None,
                ip_id: None,
                parent_id: Some(g.id),
                spec: s,
            },
        )
        .await?;
        mine.push(id);
    }
    let ev = if dir == "ingress" {
        "SG.AUTH.INGRESS"
    } else {
        "SG.AUTH.EGRESS"
    };
    Event::new(
        ctx,
        ev,
        format!(
            "{} {dir} rule(s) on {}",
            mine.len(),
            g.name.as_deref().unwrap_or("")
        ),
    )
    .resource(g.id, "SecurityGroup", g.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::groups_changed(st, &[g.id]).await?;
    Ok(json!({ "securitygroup": views(st, &[g], Some(&mine)).await?.remove(0) }))
}

pub async fn revoke_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let r = super::netrules::owned_rule(st, ctx, "id", args.required_id("id")?, &[dir_of(args)])
        .await?;
    Ok(JobPlan {
        instance_type: Some("SecurityGroup"),
        instance_id: r.parent_id.map(|p| p.to_string()),
        returns_id: false,
        description: format!("Revoking security group rule {}", r.id),
    })
}

pub async fn revoke_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let Ok(r) = super::netrules::owned_rule(st, ctx, "id", id, &[dir_of(args)]).await else {
        return Ok(success_body());
    };
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    let ev = if matches!(r.spec, RuleSpec::Ingress(_)) {
        "SG.REVOKE.INGRESS"
    } else {
        "SG.REVOKE.EGRESS"
    };
    Event::new(ctx, ev, format!("Security group rule {} revoked", r.id))
        .resource(r.id, "SecurityGroupRule", None)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    if let Some(g) = r.parent_id {
        crate::netsync::groups_changed(st, &[g]).await?;
    }
    Ok(success_body())
}
