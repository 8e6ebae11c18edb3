//! getUser, moveUser and the regions commands through the API.

mod common;

use common::*;

/// getUser (root admins): the user an API key belongs to; an unknown key, or a user out of a
/// domain admin's reach, is 431 alike; users may not call it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_user_finds_the_owner_of_an_api_key() {
    let ts = TestServer::start().await;
    let admin = ts.admin.clone();
    let (_, uid, u) = account_with_keys(&ts, &admin, "keyowner", None, "0").await;
    let r = admin
        .ok(&[("command", "getUser"), ("userapikey", &u.key)])
        .await;
    assert_eq!(r["user"]["id"], uid.as_str(), "{r}");
    assert_eq!(r["user"]["account"], "keyowner", "{r}");
    admin
        .err(
            &[("command", "getUser"), ("userapikey", "no-such-key")],
            431,
        )
        .await;
    u.err(&[("command", "getUser"), ("userapikey", &u.key)], 401)
        .await;
    ts.stop().await;
}

/// Regions: this cloud is region 1; root admins add, rename and remove others; users list
/// them; bad endpoints, taken ids and region 1's removal are refused.
async fn regions(ts: TestServer) {
    let admin = ts.admin.clone();
    let (_, _, u) = account_with_keys(&ts, &admin, "regionuser", None, "0").await;
    let l = u.ok(&[("command", "listRegions")]).await;
    assert_eq!(l["region"][0]["id"], 1, "{l}");
    let r = admin
        .ok(&[
            ("command", "addRegion"),
            ("id", "2"),
            ("name", "west"),
            ("endpoint", "https://west.example/client/"),
        ])
        .await;
    assert_eq!(r["region"]["name"], "west", "{r}");
    for (id, name, ep) in [
        ("2", "other", "https://x.example/client/"),
        ("3", "west", "https://x.example/client/"),
        ("4", "bad", "not a url"),
    ] {
        admin
            .err(
                &[
                    ("command", "addRegion"),
                    ("id", id),
                    ("name", name),
                    ("endpoint", ep),
                ],
                431,
            )
            .await;
    }
    u.err(
        &[
            ("command", "addRegion"),
            ("id", "5"),
            ("name", "mine"),
            ("endpoint", "https://m.example/"),
        ],
        401,
    )
    .await;
    let r = admin
        .ok(&[("command", "updateRegion"), ("id", "2"), ("name", "west-2")])
        .await;
    assert_eq!(r["region"]["name"], "west-2", "{r}");
    admin
        .err(&[("command", "removeRegion"), ("id", "1")], 431)
        .await;
    admin.ok(&[("command", "removeRegion"), ("id", "2")]).await;
    assert_eq!(u.ok(&[("command", "listRegions")]).await["count"], 1);
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regions_are_listed_and_kept() {
    regions(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn regions_are_listed_and_kept_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    regions(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}

/// moveUser: a user goes to another account of its domain, and then acts as that account;
/// an account's last user, another domain's account and users themselves are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn move_user_changes_the_users_account() {
    let ts = TestServer::start().await;
    let admin = ts.admin.clone();
    let (_, first, _) = account_with_keys(&ts, &admin, "mover", None, "0").await;
    let (_, _, _) = account_with_keys(&ts, &admin, "dest", None, "0").await;
    let second = s(&admin
        .ok(&[
            ("command", "createUser"),
            ("account", "mover"),
            ("username", "mover2"),
            ("password", "pw-123"),
            ("email", "m@example.org"),
            ("firstname", "M"),
            ("lastname", "V"),
        ])
        .await["user"]["id"]);
    let keys = admin
        .ok(&[("command", "registerUserKeys"), ("id", &second)])
        .await;
    let c = ts.client(
        keys["userkeys"]["apikey"].as_str().expect("k"),
        keys["userkeys"]["secretkey"].as_str().expect("s"),
    );
    c.err(
        &[
            ("command", "moveUser"),
            ("id", &second),
            ("account", "dest"),
        ],
        401,
    )
    .await;
    admin
        .ok(&[
            ("command", "moveUser"),
            ("id", &second),
            ("account", "dest"),
        ])
        .await;
    let me = c.ok(&[("command", "listAccounts")]).await;
    assert_eq!(me["account"][0]["name"], "dest", "{me}");
    // The last user of an account stays.
    let e = admin
        .err(
            &[("command", "moveUser"), ("id", &first), ("account", "dest")],
            431,
        )
        .await;
    assert!(e.contains("last user"), "{e}");
    let d = create_domain(&admin, "elsewhere", None).await;
    let (far, _, _) = account_with_keys(&ts, &admin, "far", Some(&d), "0").await;
    let e = admin
        .err(
            &[
                ("command", "moveUser"),
                ("id", &second),
                ("accountid", &far),
            ],
            431,
        )
        .await;
    assert!(e.contains("another domain"), "{e}");
    ts.stop().await;
}
