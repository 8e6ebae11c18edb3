//! SSH key pairs: generation, registration with CloudStack's fingerprints and errors, owner
//! scoping, deletion, and removal with the account.

mod common;

use common::*;
use serde_json::Value;

// `ssh-keygen -t ed25519 -C test@canopy`, and `ssh-keygen -l -E md5` of it.
const ED: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29 test@canopy";
const ED_MD5: &str = "d9:ac:c1:44:3e:98:ce:38:7a:71:0e:df:74:75:2a:8e";

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v["sshkeypair"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|k| k["name"].as_str().expect("name").to_string())
                .collect()
        })
        .unwrap_or_default();
    n.sort();
    n
}

#[tokio::test]
async fn create_register_list_delete_and_scoping() {
    let ts = TestServer::start().await;
    let admin = &ts.admin;
    let dom = create_domain(admin, "tenants", None).await;
    let (alice_acct, _, alice) = account_with_keys(&ts, admin, "alice", Some(&dom), "0").await;
    let (_, _, bob) = account_with_keys(&ts, admin, "bob", Some(&dom), "0").await;

    // createSSHKeyPair: a new RSA key; the private key is returned once.
    let k = alice
        .ok(&[("command", "createSSHKeyPair"), ("name", "laptop")])
        .await["keypair"]
        .clone();
    let pem = k["privatekey"].as_str().expect("privatekey");
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pem}");
    let fp = k["fingerprint"].as_str().expect("fingerprint").to_string();
    assert_eq!(fp.len(), 47, "{fp}");
    assert_eq!(k["account"], "alice");
    assert_eq!(k["accountid"], alice_acct.as_str());
    assert_eq!(k["domainid"], dom.as_str());
    assert_eq!(k["domain"], "tenants");

    // registerSSHKeyPair: the fingerprint is OpenSSH's MD5 one.
    let r = alice
        .ok(&[
            ("command", "registerSSHKeyPair"),
            ("name", "ed"),
            ("publickey", ED),
        ])
        .await["keypair"]
        .clone();
    assert_eq!(r["fingerprint"], ED_MD5);
    assert!(r.get("privatekey").is_none());

    // CloudStack's refusals, as 431s.
    let e = alice
        .err(&[("command", "createSSHKeyPair"), ("name", "laptop")], 431)
        .await;
    assert!(e.contains("already exists"), "{e}");
    let e = alice
        .err(
            &[
                ("command", "registerSSHKeyPair"),
                ("name", "ed-again"),
                ("publickey", ED),
            ],
            431,
        )
        .await;
    assert!(e.contains("already exists for this account"), "{e}");
    for bad in [
        "ssh-rsa",
        "not a key",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAICbbeT8ColB7mBxNy+TbMw16q3ol0aHZNeflEUglLH29",
    ] {
        let e = alice
            .err(
                &[
                    ("command", "registerSSHKeyPair"),
                    ("name", "bad"),
                    ("publickey", bad),
                ],
                431,
            )
            .await;
        assert_eq!(e, "Public key is invalid");
    }
    alice
        .err(&[("command", "registerSSHKeyPair"), ("name", "x")], 431)
        .await;

    // The same key and name in another account are fine; each account sees its own.
    bob.ok(&[
        ("command", "registerSSHKeyPair"),
        ("name", "ed"),
        ("publickey", ED),
    ])
    .await;
    let l = alice.ok(&[("command", "listSSHKeyPairs")]).await;
    assert_eq!(l["count"], 2);
    assert_eq!(names(&l), ["ed", "laptop"]);
    assert!(l["sshkeypair"][0].get("privatekey").is_none());
    let l = alice
        .ok(&[("command", "listSSHKeyPairs"), ("fingerprint", &fp)])
        .await;
    assert_eq!(names(&l), ["laptop"]);
    let l = alice
        .ok(&[("command", "listSSHKeyPairs"), ("keyword", "LAP")])
        .await;
    assert_eq!(names(&l), ["laptop"]);
    let l = alice
        .ok(&[
            ("command", "listSSHKeyPairs"),
            ("page", "2"),
            ("pagesize", "1"),
        ])
        .await;
    assert_eq!((l["count"].as_u64(), names(&l).len()), (Some(2), 1));
    // Users cannot act for another account, or list it.
    let e = alice
        .err(
            &[
                ("command", "createSSHKeyPair"),
                ("name", "sneaky"),
                ("account", "bob"),
                ("domainid", &dom),
            ],
            531,
        )
        .await;
    assert!(e.contains("permission"), "{e}");
    let l = alice
        .ok(&[("command", "listSSHKeyPairs"), ("listall", "true")])
        .await;
    assert_eq!(l["count"], 2);
    // Admins see everything with listall, and manage keys for an account.
    let l = admin
        .ok(&[("command", "listSSHKeyPairs"), ("listall", "true")])
        .await;
    assert_eq!(l["count"], 3);
    let l = admin
        .ok(&[
            ("command", "listSSHKeyPairs"),
            ("account", "bob"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(names(&l), ["ed"]);
    admin
        .ok(&[
            ("command", "createSSHKeyPair"),
            ("name", "ops"),
            ("account", "bob"),
            ("domainid", &dom),
        ])
        .await;
    assert_eq!(
        names(&bob.ok(&[("command", "listSSHKeyPairs")]).await),
        ["ed", "ops"]
    );

    // deleteSSHKeyPair by name, in the caller's account.
    let e = alice
        .err(&[("command", "deleteSSHKeyPair"), ("name", "nope")], 431)
        .await;
    assert!(e.contains("does not exist"), "{e}");
    let d = alice
        .ok(&[("command", "deleteSSHKeyPair"), ("name", "laptop")])
        .await;
    assert_eq!(d["success"], true);
    assert_eq!(
        names(&alice.ok(&[("command", "listSSHKeyPairs")]).await),
        ["ed"]
    );
    assert_eq!(
        names(&bob.ok(&[("command", "listSSHKeyPairs")]).await),
        ["ed", "ops"]
    );

    // Deleting the account deletes its key pairs.
    let j = admin
        .job(&[("command", "deleteAccount"), ("id", &alice_acct)])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    let l = admin
        .ok(&[("command", "listSSHKeyPairs"), ("listall", "true")])
        .await;
    assert_eq!(l["count"], 2);
    ts.stop().await;
}
