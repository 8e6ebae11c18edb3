//! SSL certificates of load balancers (CloudStack's CertService): uploadSslCert,
//! listSslCerts, deleteSslCert, assignCertToLoadBalancer, removeCertFromLoadBalancer.
//!
//! A certificate is an account's (net_rules kind `sslcert`, no network): its PEM certificate
//! and chain, its private key encrypted with the server key, its SHA-1 fingerprint. Assigned
//! to an `ssl` load balancer rule (a child rule of kind `lbcert`), it is what the router's
//! haproxy terminates TLS with; the members get plain HTTP.

use std::sync::Arc;

use api::{list_body, success_body, ApiError, Args};
use db::rulespec::{kind, LbCertSpec, SslCertSpec};
use db::{AccountRow, RuleRow, RuleSpec};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::access;
use crate::context::OpContext;
use crate::error::{param_err, AppResult};
use crate::events::Event;
use crate::handlers::netrules::{owned_rule, owner_fields};
use crate::jobs::{JobPlan, JobRef};
use crate::state::State;

/// Longest PEM text accepted for a certificate, chain or key.
const MAX_PEM: usize = 64 * 1024;

/// The PEM certificates in `text` (431 when there are none or one does not parse).
fn certificates(param: &str, text: &str) -> AppResult<Vec<CertificateDer<'static>>> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(text.as_bytes()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        _ => param_err(format!(
            "Invalid {param}: expected one or more PEM certificates (-----BEGIN CERTIFICATE-----)"
        )),
    }
}

/// Checks the upload as CloudStack's CertService does: the certificate and the chain parse,
/// the certificate is within its validity period, the key parses (unencrypted PKCS#8, PKCS#1
/// or SEC1) and belongs to the certificate.
/// Returns the certificate's SHA-1 fingerprint (`AA:BB:…`).
pub(crate) fn validate(certificate: &str, chain: Option<&str>, key: &str) -> AppResult<String> {
    for (n, t) in [("certificate", certificate), ("privatekey", key)]
        .into_iter()
        .chain(chain.map(|c| ("certchain", c)))
    {
        if t.len() > MAX_PEM {
            return param_err(format!("Invalid {n}: longer than {MAX_PEM} bytes"));
        }
    }
    let mut certs = certificates("certificate", certificate)?;
    if certs.len() != 1 {
        return param_err(
            "Invalid certificate: upload the server certificate alone, its issuers in certchain",
        );
    }
    // As CloudStack's `checkValidity`: a certificate outside its validity period is refused
    // (x509-parser reads the dates; rustls does not expose them).
    match x509_parser::parse_x509_certificate(certs[0].as_ref()) {
        Ok((_, c)) => {
            let now = api::time::now_ms() / 1000;
            let v = c.validity();
            if v.not_after.timestamp() < now {
                return param_err(format!(
                    "Certificate expired or not valid: it expired on {}",
                    v.not_after
                ));
            }
            if v.not_before.timestamp() > now {
                return param_err(format!(
                    "Certificate expired or not valid: it is valid only from {}",
                    v.not_before
                ));
            }
        }
        Err(e) => return param_err(format!("Invalid certificate: {e}")),
    }
    if let Some(c) = chain.filter(|c| !c.trim().is_empty()) {
        certs.extend(certificates("certchain", c)?);
    }
    if key.contains("ENCRYPTED PRIVATE KEY") || key.contains("Proc-Type: 4,ENCRYPTED") {
        return param_err(
            "Invalid privatekey: encrypted keys are not supported; upload it without a password",
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|_| {
        ApiError::param("Invalid privatekey: expected a PEM private key (PKCS#8, RSA or EC)")
    })?;
    let fingerprint = Sha1::digest(certs[0].as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match rustls::sign::CertifiedKey::from_der(certs, key, &provider) {
        Ok(ck) if ck.keys_match().is_ok() => Ok(fingerprint),
        Ok(_) | Err(rustls::Error::InconsistentKeys(_)) => param_err(
            "Bad public-private key pair: the private key does not belong to the certificate",
        ),
        Err(e) => param_err(format!("Invalid certificate or private key: {e}")),
    }
}

fn cert_view(r: &RuleRow, lbs: &[Uuid]) -> Value {
    let default = SslCertSpec::default();
    let s = match &r.spec {
        RuleSpec::SslCert(s) => s,
        _ => &default,
    };
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "certificate": s.certificate,
        "fingerprint": s.fingerprint,
        "loadbalancerrulelist": lbs,
    });
    if !s.certchain.is_empty() {
        v["certchain"] = json!(s.certchain);
    }
    owner_fields(&mut v, r);
    v
}

/// The load balancers a certificate is assigned to.
async fn assigned(st: &State, cert: Uuid) -> AppResult<Vec<RuleRow>> {
    let mut c = st.store.read().await?;
    let all = db::rule_list(&mut c, &db::RuleFilter::kind(kind::LB_CERT))
        .await?
        .0;
    Ok(all
        .into_iter()
        .filter(|r| matches!(&r.spec, RuleSpec::LbCert(x) if x.certid == cert))
        .collect())
}

async fn owner(st: &State, ctx: &OpContext, args: &Args) -> AppResult<AccountRow> {
    match args.text("account") {
        Some(a) => {
            let acct = access::account_by_name(st, ctx, a, args.id("domainid")).await?;
            access::check_owner(ctx, &acct)?;
            Ok(acct)
        }
        None => Ok(ctx.user.account.clone()),
    }
}

pub async fn upload(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let acct = owner(st, ctx, args).await?;
    let name = args.required_str("name")?.trim().to_string();
    if name.is_empty() {
        return param_err("The certificate name can't be empty");
    }
    let certificate = args.required_str("certificate")?;
    let key = args.required_str("privatekey")?;
    let chain = args.text("certchain");
    if args.text("password").is_some_and(|p| !p.is_empty()) {
        return param_err(
            "Encrypted private keys are not supported: upload the key without a password",
        );
    }
    let fingerprint = validate(certificate, chain, key)?;
    let id = Uuid::new_v4();
    let spec = RuleSpec::SslCert(SslCertSpec {
        certificate: certificate.trim().to_string(),
        certchain: chain.unwrap_or_default().trim().to_string(),
        privatekey: st.key.encrypt(key.trim())?,
        fingerprint,
    });
    let mut tx = st.store.begin().await?;
    let taken = db::rule_list(
        &mut tx,
        &db::RuleFilter {
            kinds: vec![kind::SSL_CERT],
            scope: Some(db::OwnerScope::Account(acct.id)),
            name: Some(name.clone()),
            ..Default::default()
        },
    )
    .await?
    .1 > 0;
    if taken {
        return param_err(format!(
            "A certificate named {name} already exists for account {}",
            acct.name
        ));
    }
    db::rule_insert(
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
            spec,
        },
    )
    .await?;
    Event::new(
        ctx,
        "LB.CERT.UPLOAD",
        format!("Certificate {name} uploaded"),
    )
    .resource(id, "SslCert", Some(&name))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    let r = owned_rule(st, ctx, "id", id, &[kind::SSL_CERT]).await?;
    Ok(json!({ "sslcert": cert_view(&r, &[]) }))
}

pub async fn list(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    // Whose: `certid`, `lbruleid`, `projectid` (a project the caller uses), `accountid`, else
    // the caller's account.
    let mut f = db::RuleFilter::kind(kind::SSL_CERT);
    if let Some(id) = args.uuid("certid") {
        owned_rule(st, ctx, "certid", id, &[kind::SSL_CERT]).await?;
        f.ids = vec![id];
    } else if let Some(lb) = args.uuid("lbruleid") {
        let lb = owned_rule(st, ctx, "lbruleid", lb, &[kind::LOAD_BALANCER]).await?;
        let mut c = st.store.read().await?;
        let ids: Vec<Uuid> = db::rule_list(
            &mut c,
            &db::RuleFilter {
                kinds: vec![kind::LB_CERT],
                parent_ids: vec![lb.id],
                ..Default::default()
            },
        )
        .await?
        .0
        .iter()
        .filter_map(|r| match &r.spec {
            RuleSpec::LbCert(x) => Some(x.certid),
            _ => None,
        })
        .collect();
        if ids.is_empty() {
            return Ok(list_body("sslcert", 0, Vec::new()));
        }
        f.ids = ids;
    } else if let Some(pid) = args.id::<model::ProjectId>("projectid") {
        let p = crate::handlers::projects::get(st, "projectid", pid).await?;
        if !crate::projectscope::may_use(ctx, &p) {
            return Err(ApiError::permission(format!(
                "Account {} can't access project id={pid}",
                ctx.user.account.name
            ))
            .into());
        }
        f.scope = Some(db::OwnerScope::Account(p.account_id));
    } else if let Some(a) = args.id::<model::AccountId>("accountid") {
        let a = access::account(st, "accountid", a).await?;
        access::check_account(ctx, &a)?;
        f.scope = Some(db::OwnerScope::Account(a.id));
    } else {
        f.scope = Some(db::OwnerScope::Account(ctx.account_id()));
    }
    f.offset = args.page.offset;
    f.limit = args.page.limit;
    let (rows, total) = {
        let mut c = st.store.read().await?;
        db::rule_list(&mut c, &f).await?
    };
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let lbs: Vec<Uuid> = assigned(st, r.id)
            .await?
            .iter()
            .filter_map(|a| a.parent_id)
            .collect();
        items.push(cert_view(r, &lbs));
    }
    Ok(list_body("sslcert", total, items))
}

pub async fn delete(st: &State, ctx: &OpContext, args: &Args) -> AppResult<Value> {
    let r = owned_rule(st, ctx, "id", args.required_id("id")?, &[kind::SSL_CERT]).await?;
    if !assigned(st, r.id).await?.is_empty() {
        return param_err(format!(
            "Certificate {} is in use by a load balancer rule: remove it from the rule first",
            r.name.as_deref().unwrap_or_default()
        ));
    }
    let mut tx = st.store.begin().await?;
    db::rule_remove(&mut tx, db::RuleOwner::Id, r.id).await?;
    Event::new(ctx, "LB.CERT.DELETE", "Certificate deleted")
        .resource(r.id, "SslCert", r.name.as_deref())
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(success_body())
}

/// The certificate assigned to a load balancer rule, if any.
async fn lb_cert(st: &State, lb: Uuid) -> AppResult<Option<RuleRow>> {
    let mut c = st.store.read().await?;
    Ok(db::rule_list(
        &mut c,
        &db::RuleFilter {
            kinds: vec![kind::LB_CERT],
            parent_ids: vec![lb],
            ..Default::default()
        },
    )
    .await?
    .0
    .into_iter()
    .next())
}

pub async fn assign_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let lb = owned_rule(
        st,
        ctx,
        "lbruleid",
        args.required_id("lbruleid")?,
        &[kind::LOAD_BALANCER],
    )
    .await?;
    let cert = owned_rule(
        st,
        ctx,
        "certid",
        args.required_id("certid")?,
        &[kind::SSL_CERT],
    )
    .await?;
    if lb.spec.protocol() != Some("ssl") {
        return param_err(
            "Certificates can be assigned only to load balancer rules of protocol ssl",
        );
    }
    if lb.account_id != cert.account_id {
        return param_err(
            "The certificate and the load balancer rule belong to different accounts",
        );
    }
    if lb_cert(st, lb.id).await?.is_some() && !args.flag("forced") {
        return param_err(format!(
            "Load balancer rule {} already has a certificate: remove it first (or forced=true)",
            lb.id
        ));
    }
    Ok(super::plan(&lb, "Assigning a certificate to"))
}

pub async fn assign_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let lb = owned_rule(
        st,
        ctx,
        "lbruleid",
        args.required_id("lbruleid")?,
        &[kind::LOAD_BALANCER],
    )
    .await?;
    let cert: Uuid = args.required_id("certid")?;
    let mut tx = st.store.begin().await?;
    // Replaced (forced, or a resumed job): one certificate per rule.
    db::rule_remove_children(&mut tx, lb.id, kind::LB_CERT).await?;
    db::rule_insert(
        &mut tx,
        &db::NewRule {
            id: Uuid::new_v4(),
            name: None,
            state: model::RuleState::Active,
            account_id: lb.account_id,
            domain_id: lb.domain_id,
            network_id: lb.network_id,
            ip_id: None,
            parent_id: Some(lb.id),
            spec: RuleSpec::LbCert(LbCertSpec { certid: cert }),
        },
    )
    .await?;
    Event::new(
        ctx,
        "LB.CERT.ASSIGN",
        "Certificate assigned to a load balancer rule",
    )
    .resource(lb.id, "LoadBalancerRule", lb.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::networks_changed(st, &crate::handlers::netrules::nets_of(&lb)).await?;
    Ok(success_body())
}

pub async fn remove_prepare(st: &State, ctx: &OpContext, args: &Args) -> AppResult<JobPlan> {
    let lb = owned_rule(
        st,
        ctx,
        "lbruleid",
        args.required_id("lbruleid")?,
        &[kind::LOAD_BALANCER],
    )
    .await?;
    if lb_cert(st, lb.id).await?.is_none() {
        return param_err(format!(
            "No certificate is assigned to load balancer rule {}",
            lb.id
        ));
    }
    Ok(super::plan(&lb, "Removing the certificate of"))
}

pub async fn remove_run(
    st: &State,
    ctx: &OpContext,
    args: &Args,
    _job: &JobRef,
) -> AppResult<Value> {
    let lb = owned_rule(
        st,
        ctx,
        "lbruleid",
        args.required_id("lbruleid")?,
        &[kind::LOAD_BALANCER],
    )
    .await?;
    let mut tx = st.store.begin().await?;
    db::rule_remove_children(&mut tx, lb.id, kind::LB_CERT).await?;
    Event::new(
        ctx,
        "LB.CERT.REMOVE",
        "Certificate removed from a load balancer rule",
    )
    .resource(lb.id, "LoadBalancerRule", lb.name.as_deref())
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    crate::netsync::networks_changed(st, &crate::handlers::netrules::nets_of(&lb)).await?;
    Ok(success_body())
}
