//! Templates and ISOs: registration (the file is fetched into the zone's image store in the
//! background; `isready` turns true when it is there and its checksum and format check out),
//! the listings with every `templatefilter`, updates, deletion, and OS types.

use std::collections::HashMap;

use api::{list_body, success_body, ApiError, Args};
use db::{Infra, InfraFilter, InfraRow};
use model::os::{category, os_type, OS_CATEGORIES, OS_TYPES};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppError, AppResult};
use crate::events::Event;
use crate::handlers::zones::{attr_str, get};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

fn b(r: &InfraRow, k: &str) -> bool {
    r.attrs.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn owner(r: &InfraRow) -> Option<Uuid> {
    attr_str(r, "account_id").and_then(|a| a.parse().ok())
}

/// Whether `who` may see and use a template or ISO (CloudStack's template access): a public
/// one, its own, any for a root admin, and for a domain admin those owned in its subtree.
/// `owner_domain_path` is the path of the template's owner's domain.
pub(crate) fn visible_to(who: &db::AccountRow, r: &InfraRow, owner_domain_path: &str) -> bool {
    use model::identity::RoleType;
    b(r, "ispublic")
        || owner(r) == Some(who.id.0)
        || super::template_perms::shared_with(r, who.id.0)
        || who.role_type == RoleType::Admin
        || (who.role_type == RoleType::DomainAdmin
            && owner_domain_path.starts_with(&who.domain_path))
}

/// The domain path of a template's owner ("" when unknown: only public rules apply).
pub(crate) async fn owner_domain_path(st: &State, r: &InfraRow) -> AppResult<String> {
    let Some(d) = r.domain_id else {
        return Ok(String::new());
    };
    let mut c = st.store.read().await?;
    Ok(db::domain_get(&mut c, model::DomainId(d))
        .await?
        .map(|d| d.path)
        .unwrap_or_default())
}

/// A template or ISO the caller may use, or the same "does not exist" answer as for an
/// unknown id (so ids of others' private images cannot be probed).
pub(crate) async fn usable(
    st: &State,
    who: &db::AccountRow,
    param: &str,
    id: Uuid,
) -> AppResult<InfraRow> {
    let r = get(st, Infra::Template, param, id).await?;
    if visible_to(who, &r, &owner_domain_path(st, &r).await?) {
        Ok(r)
    } else {
        Err(ApiError::invalid_id(param, &id.to_string()).into())
    }
}

fn is_iso(args: &Args) -> bool {
    matches!(
        args.command,
        "registerIso" | "listIsos" | "updateIso" | "deleteIso" | "getUploadParamsForIso"
    )
}

pub async fn register(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let iso = is_iso(args);
    let url = args.required_str("url")?.trim().to_string();
    crate::sources::check(st, ctx.is_root_admin(), &url, "url").await?;
    let row = new_row(st, ctx, args, Some(url)).await?;
    let id = row.id;
    tokio::spawn(crate::images::download(st.clone(), id));
    let row = get(st, Infra::Template, "id", id).await?;
    let items = views(st, ctx, std::slice::from_ref(&row), None).await?;
    Ok(list_body(
        if iso { "iso" } else { "template" },
        items.len() as u64,
        items,
    ))
}

/// getUploadParamsForTemplate / getUploadParamsForIso: the template is recorded (state
/// NotUploaded) and the caller gets a signed ticket to POST its file to the image store.
pub async fn upload_params(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let row = new_row(st, ctx, args, None).await?;
    let format = row.attrs["format"].as_str().unwrap_or("RAW").to_string();
    let max = st.settings.int("max.template.iso.size").max(1) as u64 * (1 << 30);
    Ok(crate::upload::params(
        st,
        ctx,
        crate::upload::Ticket::new(st, "template", row.id, &format, max, args.text("checksum")),
    ))
}

/// Checks a registration and records its template or ISO row: to download from `url`, or
/// (`None`) to be uploaded by the caller.
async fn new_row(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    url: Option<String>,
) -> AppResult<InfraRow> {
    let iso = is_iso(args);
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("Name can't be empty");
    }
    let root_admin = ctx.is_root_admin();
    let format = if iso {
        "ISO".to_string()
    } else {
        let f = args.required_str("format")?.to_ascii_uppercase();
        // The simulator takes what CloudStack's simulator takes (its VMs read no disk).
        let simulator = args
            .text("hypervisor")
            .is_some_and(|h| h.eq_ignore_ascii_case("simulator"));
        let ok = matches!(f.as_str(), "QCOW2" | "RAW")
            || (simulator && matches!(f.as_str(), "VHD" | "VHDX" | "OVA" | "VMDK"));
        if !ok {
            return param_err(format!(
                "Invalid format {f}: KVM templates are QCOW2 or RAW (Simulator ones also VHD, VHDX, OVA or VMDK)"
            ));
        }
        f
    };
    let hypervisor = if iso {
        "None".to_string()
    } else {
        match args.required_str("hypervisor")? {
            h if h.eq_ignore_ascii_case("kvm") => "KVM".into(),
            h if h.eq_ignore_ascii_case("simulator") => "Simulator".into(),
            h => return param_err(format!("Invalid hypervisor {h}: KVM or Simulator")),
        }
    };
    let os = match args.uuid("ostypeid") {
        Some(o) => Some(
            os_type(&o.to_string())
                .ok_or_else(|| ApiError::invalid_id("ostypeid", &o.to_string()))?,
        ),
        None if iso && args.bool("bootable").unwrap_or(true) => {
            return param_err("ostypeid is required for a bootable ISO")
        }
        None => None,
    };
    if let Some(c) = args.text("checksum") {
        if crate::images::parse_checksum(c).is_none() {
            return param_err(format!("Invalid checksum {c}: give md5 or sha256 hex, optionally as {{MD5}}hex or {{SHA-256}}hex"));
        }
    }
    if args.flag("isfeatured") && !ctx.is_admin() {
        return Err(ApiError::permission("Only admins can register featured templates").into());
    }
    if args.flag("directdownload") {
        return param_err("Direct download is not supported: images are kept in the image store");
    }
    // The owner: the caller, or (admins) `account` + `domainid`.
    let owner = match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_owner(ctx, &acct)?;
            acct
        }
        None => ctx.user.account.clone(),
    };
    // Zone: one, or all (absent / -1).
    let zone = match args.text("zoneid") {
        None | Some("-1") => None,
        Some(z) => Some(
            z.parse::<Uuid>()
                .map_err(|_| ApiError::invalid_id("zoneid", z))?,
        ),
    };
    let store = {
        let mut c = st.store.read().await?;
        let f = InfraFilter {
            zone_id: zone,
            ..Default::default()
        };
        db::infra_list(&mut c, Infra::ImageStore, &f)
            .await?
            .0
            .into_iter()
            // A read-only store (updateImageStore readonly=true) takes nothing new.
            .find(|s| s.attrs["readonly"] != true)
    };
    if let Some(z) = zone {
        get(st, Infra::Zone, "zoneid", z).await?;
    }
    let Some(store) = store else {
        return param_err(
            "No writable image store to hold the image: add one with addImageStore (read-only stores take nothing new)",
        );
    };
    let upload = url.is_none();
    let attrs = json!({
        "displaytext": args.text("displaytext").unwrap_or(&name),
        "url": url.clone().unwrap_or_default(),
        // The downloader keeps a non-root-admin's download off internal addresses.
        "restricted": !root_admin,
        "format": format,
        "hypervisor": hypervisor,
        "ostypeid": os.map(|o| o.id),
        "ispublic": args.bool("ispublic").unwrap_or(iso),
        "isfeatured": args.flag("isfeatured"),
        "isextractable": args.flag("isextractable"),
        "passwordenabled": args.flag("passwordenabled"),
        "sshkeyenabled": args.flag("sshkeyenabled"),
        "bootable": args.bool("bootable").unwrap_or(true),
        "checksum": args.text("checksum"),
        "templatetype": "USER",
        "account_id": owner.id,
        "crosszones": zone.is_none(),
        "isready": false,
        "downloading": !upload,
        "downloadprogress": 0,
        "storepath": attr_str(&store, "path"),
        "size": 0,
    });
    // Canopy extension: `details[0].kernel=URL&details[0].initrd=URL` for templates booted
    // directly from a kernel and initramfs (fetched next to the disk image).
    let mut extras = serde_json::Map::new();
    for d in args.map("details").unwrap_or_default() {
        for (k, v) in d {
            if k == "kernel" || k == "initrd" {
                crate::sources::check(st, root_admin, v, k).await?;
                extras.insert(k.clone(), json!(v.trim()));
            }
        }
    }
    let mut attrs = attrs;
    if !extras.is_empty() {
        attrs["extras"] = Value::Object(extras);
    }
    let id = Uuid::new_v4();
    let row = InfraRow {
        id,
        zone_id: zone.unwrap_or(Uuid::nil()),
        parent_id: Some(store.id),
        name: name.clone(),
        kind: if iso { "ISO" } else { "TEMPLATE" }.into(),
        state: if upload {
            "NotUploaded"
        } else {
            "Download pending"
        }
        .into(),
        domain_id: Some(owner.domain_id.0),
        attrs,
        created: 0,
    };
    let mut tx = st.store.begin().await?;
    db::infra_insert(&mut tx, Infra::Template, &row).await?;
    let (ev, kind) = if iso {
        ("ISO.CREATE", "ISO")
    } else {
        ("TEMPLATE.CREATE", "Template")
    };
    Event::new(
        ctx,
        ev,
        match &url {
            Some(u) => format!("{kind} {name} registered from {u}"),
            None => format!("{kind} {name} registered, to be uploaded"),
        },
    )
    .resource(id, kind, Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// One object per template per zone (cross-zone templates appear in every zone).
pub(crate) async fn views(
    st: &State,
    ctx: &OpContext,
    rows: &[InfraRow],
    zone: Option<Uuid>,
) -> AppResult<Vec<Value>> {
    let all_zones: Vec<InfraRow> = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Zone, &InfraFilter::default())
            .await?
            .0
    };
    let znames: HashMap<Uuid, String> = all_zones.iter().map(|z| (z.id, z.name.clone())).collect();
    let mut accounts: HashMap<Uuid, (String, String, Uuid)> = HashMap::new();
    {
        let mut c = st.store.read().await?;
        for r in rows {
            if let Some(a) = owner(r) {
                if let std::collections::hash_map::Entry::Vacant(e) = accounts.entry(a) {
                    if let Some(acct) = db::account_get(&mut c, model::AccountId(a)).await? {
                        e.insert((acct.name, acct.domain_name, acct.domain_id.0));
                    }
                }
            }
        }
    }
    let tags =
        super::tags::for_resources(st, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    let mut out = Vec::new();
    for r in rows {
        let zones: Vec<Uuid> = if r.zone_id.is_nil() {
            all_zones.iter().map(|z| z.id).collect()
        } else {
            std::iter::once(r.zone_id)
                .chain(super::template_copy::copy_zones(r))
                .collect()
        };
        for z in zones
            .into_iter()
            .filter(|z| zone.map(|w| w == *z).unwrap_or(true))
        {
            let mut m = Map::new();
            m.insert("id".into(), json!(r.id));
            m.insert("name".into(), json!(r.name));
            m.insert(
                "displaytext".into(),
                json!(attr_str(r, "displaytext").unwrap_or_else(|| r.name.clone())),
            );
            let copy = super::template_copy::zone_status(r, z);
            m.insert(
                "isready".into(),
                json!(super::template_copy::ready_in(r, z)),
            );
            for k in [
                "ispublic",
                "isfeatured",
                "passwordenabled",
                "sshkeyenabled",
                "isextractable",
                "bootable",
            ] {
                m.insert(k.into(), json!(b(r, k)));
            }
            m.insert(
                "status".into(),
                json!(copy.as_ref().map(|c| c.0.as_str()).unwrap_or(&r.state)),
            );
            m.insert("format".into(), json!(attr_str(r, "format")));
            m.insert("hypervisor".into(), json!(attr_str(r, "hypervisor")));
            if let Some(o) = attr_str(r, "ostypeid").and_then(|o| os_type(&o)) {
                m.insert("ostypeid".into(), json!(o.id));
                m.insert("ostypename".into(), json!(o.description));
            } else {
                m.insert("ostypename".into(), json!(""));
            }
            m.insert("zoneid".into(), json!(z));
            m.insert("zonename".into(), json!(znames.get(&z)));
            for k in ["size", "physicalsize"] {
                let own = r.attrs.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                m.insert(k.into(), json!(copy.as_ref().map(|c| c.1).unwrap_or(own)));
            }
            m.insert("crossZones".into(), json!(r.zone_id.is_nil()));
            m.insert("templatetype".into(), json!(attr_str(r, "templatetype")));
            for k in ["userdataid", "userdataname", "userdatapolicy"] {
                if let Some(v) = attr_str(r, k) {
                    m.insert(k.into(), json!(v));
                }
            }
            if let Some((acct, dom, did)) = owner(r).and_then(|a| accounts.get(&a)) {
                m.insert("account".into(), json!(acct));
                m.insert("domain".into(), json!(dom));
                m.insert("domainid".into(), json!(did));
            }
            if let Some(c) = attr_str(r, "checksum") {
                m.insert("checksum".into(), json!(c));
            }
            // A file:// URL is a path on the management server: admins only.
            let url = attr_str(r, "url").unwrap_or_default();
            if ctx.is_admin() || !url.to_ascii_lowercase().starts_with("file:") {
                m.insert("url".into(), json!(url));
            }
            m.insert(
                "downloadprogress".into(),
                json!(r
                    .attrs
                    .get("downloadprogress")
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0)
                    .to_string()),
            );
            m.insert("created".into(), json!(api::time::format_ms(r.created)));
            m.insert("tags".into(), super::tags::embedded(&tags, r.id));
            if let Some(e) = r.attrs.get("extras").and_then(|e| e.as_object()) {
                m.insert(
                    "details".into(),
                    json!(e
                        .keys()
                        .map(|k| (k.clone(), json!("yes")))
                        .collect::<serde_json::Map<_, _>>()),
                );
            }
            out.push(Value::Object(m));
        }
    }
    Ok(out)
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let iso = is_iso(args);
    let filter = args
        .text(if iso { "isofilter" } else { "templatefilter" })
        .unwrap_or("all")
        .to_ascii_lowercase();
    if ![
        "featured",
        "self",
        "selfexecutable",
        "shared",
        "sharedexecutable",
        "executable",
        "community",
        "all",
    ]
    .contains(&filter.as_str())
    {
        return param_err(format!("Invalid filter {filter}: use featured, self, selfexecutable, sharedexecutable, executable, community, shared or all"));
    }
    if filter == "all" && !ctx.is_admin() && !iso {
        return Err(
            ApiError::permission("Only admins can list templates with templatefilter=all").into(),
        );
    }
    let mut ids: Vec<Uuid> = args.ids::<Uuid>("ids").unwrap_or_default();
    if let Some(id) = args.uuid("id") {
        ids.push(id);
    }
    let f = InfraFilter {
        ids: (!ids.is_empty()).then_some(ids),
        kind: Some(if iso { "ISO" } else { "TEMPLATE" }.into()),
        name: args.text("name").map(str::to_string),
        keyword: args.text("keyword").map(str::to_string),
        ..Default::default()
    };
    let rows = {
        let mut c = st.store.read().await?;
        db::infra_list(&mut c, Infra::Template, &f).await?.0
    };
    // Owner scope (account / domainid / listall) narrows what the filter allows.
    let scope = if args.text("account").is_some() || args.has("domainid") {
        Some(access::owner_scope(st, ctx, args).await?)
    } else {
        None
    };
    let me = ctx.account_id().0;
    // Owner domain paths, for a domain admin's view of its subtree.
    let mut paths: HashMap<Uuid, String> = HashMap::new();
    if ctx.is_domain_admin() {
        let mut c = st.store.read().await?;
        for d in rows.iter().filter_map(|r| r.domain_id) {
            if let std::collections::hash_map::Entry::Vacant(e) = paths.entry(d) {
                if let Some(row) = db::domain_get(&mut c, model::DomainId(d)).await? {
                    e.insert(row.path);
                }
            }
        }
    }
    let visible_admin = |r: &InfraRow| {
        let path = r
            .domain_id
            .and_then(|d| paths.get(&d))
            .map(String::as_str)
            .unwrap_or("");
        visible_to(&ctx.user.account, r, path)
    };
    let mut matching: Vec<InfraRow> = rows
        .into_iter()
        .filter(|r| {
            let public = b(r, "ispublic");
            let mine = owner(r) == Some(me);
            let shared = super::template_perms::shared_with(r, me);
            // Ready in the zone asked about (a copy may still be on its way there).
            let ready = match args.uuid("zoneid") {
                Some(z) => super::template_copy::ready_in(r, z),
                None => b(r, "isready"),
            };
            match filter.as_str() {
                "featured" => public && b(r, "isfeatured"),
                "self" => mine,
                "selfexecutable" => mine && ready,
                "shared" => shared,
                "sharedexecutable" => shared && ready,
                "executable" => (mine || public || shared) && ready,
                "community" => public && !b(r, "isfeatured"),
                _ => public || mine || shared || (ctx.is_admin() && visible_admin(r)),
            }
        })
        .filter(|r| match &scope {
            Some(db::OwnerScope::Account(a)) => owner(r) == Some(a.0),
            Some(db::OwnerScope::Domain {
                id,
                recursive: false,
                ..
            }) => r.domain_id == Some(id.0),
            _ => true,
        })
        .filter(|r| {
            args.text("hypervisor")
                .map(|h| {
                    attr_str(r, "hypervisor")
                        .map(|x| x.eq_ignore_ascii_case(h))
                        .unwrap_or(false)
                })
                .unwrap_or(true)
        })
        .filter(|r| {
            args.bool("isready")
                .map(|v| match args.uuid("zoneid") {
                    Some(z) => super::template_copy::ready_in(r, z) == v,
                    None => b(r, "isready") == v,
                })
                .unwrap_or(true)
        })
        .filter(|r| {
            args.bool("bootable")
                .map(|v| b(r, "bootable") == v)
                .unwrap_or(true)
        })
        .filter(|r| {
            args.bool("ispublic")
                .map(|v| b(r, "ispublic") == v)
                .unwrap_or(true)
        })
        .filter(|r| {
            args.uuid("zoneid")
                .map(|z| super::template_copy::in_zone(r, z))
                .unwrap_or(true)
        })
        .collect();
    matching.sort_by_key(|r| (r.created, r.id));
    let mut items = views(st, ctx, &matching, args.uuid("zoneid")).await?;
    if args.flag("showunique") {
        let mut seen = std::collections::HashSet::new();
        items.retain(|v| seen.insert(v["id"].as_str().unwrap_or_default().to_string()));
    }
    let total = items.len() as u64;
    let page: Vec<Value> = args.page.slice(items);
    Ok(list_body(if iso { "iso" } else { "template" }, total, page))
}

/// The owner of a template or ISO the caller may change (for tags).
pub(crate) async fn owner_account(
    st: &State,
    ctx: &OpContext,
    id: Uuid,
    iso: bool,
) -> AppResult<db::AccountRow> {
    let r = owned(st, ctx, id, iso).await?;
    let acct = owner(&r).ok_or_else(|| AppError::Internal("template without owner".into()))?;
    access::account(st, "id", model::AccountId(acct)).await
}

/// The template the caller may change: its owner, or an admin over the owner.
pub(crate) async fn owned(st: &State, ctx: &OpContext, id: Uuid, iso: bool) -> AppResult<InfraRow> {
    let r = get(st, Infra::Template, "id", id).await?;
    if (r.kind == "ISO") != iso {
        return Err(ApiError::invalid_id("id", &id.to_string()).into());
    }
    if owner(&r) != Some(ctx.account_id().0) {
        let acct = owner(&r).ok_or_else(|| AppError::Internal("template without owner".into()))?;
        let a = access::account(st, "id", model::AccountId(acct)).await?;
        access::check_owner(ctx, &a)?;
    }
    Ok(r)
}

pub async fn update(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let iso = is_iso(args);
    let mut r = owned(st, ctx, args.required_id("id")?, iso).await?;
    if let Some(n) = args.text("name") {
        r.name = n.trim().to_string();
    }
    if let Some(d) = args.text("displaytext") {
        r.attrs["displaytext"] = json!(d);
    }
    if let Some(o) = args.uuid("ostypeid") {
        let o = os_type(&o.to_string())
            .ok_or_else(|| ApiError::invalid_id("ostypeid", &o.to_string()))?;
        r.attrs["ostypeid"] = json!(o.id);
    }
    for k in ["passwordenabled", "sshkeyenabled", "bootable"] {
        if let Some(v) = args.bool(k) {
            r.attrs[k] = json!(v);
        }
    }
    if let Some(k) = args.int("sortkey") {
        r.attrs["sortkey"] = json!(k);
    }
    let mut tx = st.store.begin().await?;
    db::infra_update(&mut tx, Infra::Template, &r).await?;
    let (ev, kind) = if iso {
        ("ISO.UPDATE", "ISO")
    } else {
        ("TEMPLATE.UPDATE", "Template")
    };
    Event::new(ctx, ev, format!("{kind} {} updated", r.name))
        .resource(r.id, kind, Some(&r.name))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    let v = views(st, ctx, std::slice::from_ref(&r), None).await?;
    Ok(json!({ (if iso { "iso" } else { "template" }): v.into_iter().next() }))
}

pub async fn delete_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let iso = is_iso(args);
    let r = owned(st, ctx, args.required_id("id")?, iso).await?;
    Ok(JobPlan {
        instance_type: Some(if iso { "Iso" } else { "Template" }),
        instance_id: Some(r.id.to_string()),
        returns_id: false,
        description: format!("Deleting {}", r.name),
    })
}

/// Removes the image file and the row. Idempotent. (No VM uses a template yet; with VMs the
/// base images on primary storage stay until their last overlay is gone.)
pub async fn delete_run(
    st: &State,
    _ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let id: Uuid = args.required_id("id")?;
    let r = {
        let mut c = st.store.read().await?;
        db::infra_get(&mut c, Infra::Template, id).await?
    };
    let Some(r) = r else {
        return Ok(success_body());
    };
    // With copies in other zones, `zoneid` removes one zone's file only (CloudStack's
    // per-store delete); the origin's zone passes to a ready copy.
    if let Some(z) = args.uuid("zoneid") {
        use super::template_copy as copies;
        if !copies::copy_zones(&r).is_empty() && !r.zone_id.is_nil() {
            if copies::remove_copy(st, &r, z).await? {
                return Ok(success_body());
            }
            if r.zone_id == z && copies::pass_origin(st, &r).await? {
                return Ok(success_body());
            }
        }
    }
    super::template_copy::remove_all_copies(&r).await;
    if let Some(store) = attr_str(&r, "storepath") {
        let dir = std::path::Path::new(&store)
            .join("template")
            .join(id.to_string());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
    }
    let mut tx = st.store.begin().await?;
    db::infra_mark_removed(&mut tx, Infra::Template, id).await?;
    db::tag_delete_for_resource(&mut tx, id).await?;
    tx.commit().await?;
    Ok(success_body())
}

pub async fn list_os_types(_st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args.uuid("id").map(|u| u.to_string());
    let cat = args.uuid("oscategoryid").map(|u| u.to_string());
    let desc = args.text("description").map(str::to_lowercase);
    let kw = args.text("keyword").map(str::to_lowercase);
    let items: Vec<Value> = OS_TYPES
        .iter()
        .filter(|o| id.as_deref().map(|i| i == o.id).unwrap_or(true))
        .filter(|o| cat.as_deref().map(|c| category(o.category).map(|x| x.id == c).unwrap_or(false)).unwrap_or(true))
        .filter(|o| desc.as_deref().map(|d| o.description.to_lowercase() == d).unwrap_or(true))
        .filter(|o| kw.as_deref().map(|k| o.description.to_lowercase().contains(k)).unwrap_or(true))
        .map(|o| {
            let c = category(o.category);
            json!({"id": o.id, "description": o.description, "name": o.description, "oscategoryid": c.map(|c| c.id), "oscategoryname": o.category, "isuserdefined": false})
        })
        .collect();
    let total = items.len() as u64;
    Ok(list_body("ostype", total, args.page.slice(items)))
}

pub async fn list_os_categories(_st: &State, _ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let id = args.uuid("id").map(|u| u.to_string());
    let items: Vec<Value> = OS_CATEGORIES
        .iter()
        .filter(|c| id.as_deref().map(|i| i == c.id).unwrap_or(true))
        .filter(|c| {
            args.text("name")
                .map(|n| c.name.eq_ignore_ascii_case(n))
                .unwrap_or(true)
        })
        .map(|c| json!({"id": c.id, "name": c.name}))
        .collect();
    let total = items.len() as u64;
    Ok(list_body("oscategory", total, items))
}
