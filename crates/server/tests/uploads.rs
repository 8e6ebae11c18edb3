//! Browser uploads and uploadVolume (SQLite and PostgreSQL): getUploadParamsForTemplate and
//! getUploadParamsForVolume hand out a signed ticket; the file POSTed to its postURL
//! (multipart, as CloudStack's UI sends it, or raw) lands in the image store — a template
//! becomes ready and deploys, a volume becomes Uploaded and its host makes the disk from it
//! when it is attached. Forged, replayed, oversized and corrupt uploads are refused;
//! uploadVolume downloads from a URL.

mod common;

use common::*;
use serde_json::Value;

/// A qcow2 header (magic, version 3) claiming `virtual` bytes, padded to `len`.
fn qcow2(virtual_size: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(512)];
    b[0..4].copy_from_slice(b"QFI\xfb");
    b[4..8].copy_from_slice(&3u32.to_be_bytes());
    b[24..32].copy_from_slice(&virtual_size.to_be_bytes());
    b
}

fn md5_hex(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

async fn post(
    http: &reqwest::Client,
    p: &Value,
    body: Vec<u8>,
    multipart: bool,
    tamper: Option<(&str, &str)>,
) -> (u16, String) {
    let mut headers = vec![
        ("X-signature", s(&p["signature"])),
        ("X-metadata", s(&p["metadata"])),
        ("X-expires", s(&p["expires"])),
    ];
    if let Some((k, v)) = tamper {
        for h in headers.iter_mut() {
            if h.0 == k {
                h.1 = v.to_string();
            }
        }
    }
    let mut req = http.post(s(&p["postURL"]));
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = if multipart {
        let boundary = "----canopyuploadboundary7MA4YWxkTrZu0gW";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"disk.qcow2\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        form.extend(body);
        form.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        req.header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
    } else {
        req.body(body)
    };
    let r = req.send().await.expect("upload request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

async fn uploads(ts: TestServer) {
    let admin = ts.admin.clone();
    let z = VmZone::new(&ts, 1).await;
    let (_, _, u) = account_with_keys(&ts, &admin, "uploader", None, "0").await;
    let http = reqwest::Client::new();

    // A template, uploaded from the "browser".
    let p = u
        .ok(&[
            ("command", "getUploadParamsForTemplate"),
            ("name", "up-tmpl"),
            ("displaytext", "up-tmpl"),
            ("format", "QCOW2"),
            ("hypervisor", "Simulator"),
            ("zoneid", &z.zone),
            ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
        ])
        .await["getuploadparams"]
        .clone();
    let tmpl = s(&p["id"]);
    assert!(
        s(&p["postURL"]).ends_with(&format!("/client/upload/{tmpl}")),
        "{p}"
    );
    let l = u
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "self"),
            ("id", &tmpl),
        ])
        .await;
    assert_eq!(l["template"][0]["isready"], false, "{l}");
    assert_eq!(l["template"][0]["status"], "NotUploaded", "{l}");
    let img = qcow2(1 << 30, 64 * 1024);
    // Forged: another signature, another expiry (covered by the signature), no headers.
    let (code, _) = post(&http, &p, img.clone(), true, Some(("X-signature", "00ff"))).await;
    assert_eq!(code, 403);
    let (code, _) = post(
        &http,
        &p,
        img.clone(),
        true,
        Some(("X-expires", "2099-01-01T00:00:00+0000")),
    )
    .await;
    assert_eq!(code, 403);
    let r = http
        .post(s(&p["postURL"]))
        .body(img.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let (code, text) = post(&http, &p, img.clone(), true, None).await;
    assert_eq!(code, 200, "{text}");
    // Replayed: taken.
    let (code, _) = post(&http, &p, img.clone(), true, None).await;
    assert_eq!(code, 409);
    let l = u
        .ok(&[
            ("command", "listTemplates"),
            ("templatefilter", "self"),
            ("id", &tmpl),
        ])
        .await;
    assert_eq!(l["template"][0]["isready"], true, "{l}");
    let j = u
        .job(&[
            ("command", "deployVirtualMachine"),
            ("zoneid", &z.zone),
            ("templateid", &tmpl),
            ("serviceofferingid", &z.offering),
            ("name", "from-upload"),
        ])
        .await;
    assert_eq!(j["jobresult"]["virtualmachine"]["state"], "Running", "{j}");
    let vm = s(&j["jobresult"]["virtualmachine"]["id"]);

    // A volume, raw body, with its checksum; then attached: its host makes the disk.
    let vimg = qcow2(3 << 30, 32 * 1024);
    let vol_params = |name: &str, checksum: String| {
        let u = Client::new(&u.base, &u.key, &u.secret);
        let (zone, name) = (z.zone.clone(), name.to_string());
        async move {
            u.ok(&[
                ("command", "getUploadParamsForVolume"),
                ("name", &name),
                ("zoneid", &zone),
                ("format", "QCOW2"),
                ("checksum", &checksum),
            ])
            .await["getuploadparams"]
                .clone()
        }
    };
    let p = vol_params("up-vol", md5_hex(&vimg)).await;
    let vol = s(&p["id"]);
    let l = u.ok(&[("command", "listVolumes"), ("id", &vol)]).await;
    assert_eq!(l["volume"][0]["state"], "NotUploaded", "{l}");
    let (code, text) = post(&http, &p, vimg.clone(), false, None).await;
    assert_eq!(code, 200, "{text}");
    let l = u.ok(&[("command", "listVolumes"), ("id", &vol)]).await;
    assert_eq!(l["volume"][0]["state"], "Uploaded", "{l}");
    assert_eq!(l["volume"][0]["size"], 3u64 << 30, "{l}");
    let j = u
        .job(&[
            ("command", "attachVolume"),
            ("id", &vol),
            ("virtualmachineid", &vm),
        ])
        .await;
    assert_eq!(j["jobresult"]["volume"]["state"], "Ready", "{j}");
    assert!(z.stored_volumes().contains(&vol));

    // A wrong checksum, a file that is not qcow2, an oversized file: refused, recorded.
    let p = vol_params("bad-sum", md5_hex(b"something else")).await;
    let (code, text) = post(&http, &p, vimg.clone(), true, None).await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("Checksum"), "{text}");
    let l = u
        .ok(&[("command", "listVolumes"), ("id", &s(&p["id"]))])
        .await;
    assert_eq!(l["volume"][0]["state"], "UploadError", "{l}");
    u.ok(&[("command", "deleteVolume"), ("id", &s(&p["id"]))])
        .await;
    let p = u
        .ok(&[
            ("command", "getUploadParamsForVolume"),
            ("name", "not-qcow"),
            ("zoneid", &z.zone),
            ("format", "QCOW2"),
        ])
        .await["getuploadparams"]
        .clone();
    let (code, text) = post(&http, &p, vec![7u8; 4096], false, None).await;
    assert_eq!(code, 400, "{text}");
    admin
        .ok(&[
            ("command", "updateConfiguration"),
            ("name", "storage.max.volume.upload.size"),
            ("value", "1"),
        ])
        .await;
    let p = u
        .ok(&[
            ("command", "getUploadParamsForVolume"),
            ("name", "huge"),
            ("zoneid", &z.zone),
            ("format", "RAW"),
        ])
        .await["getuploadparams"]
        .clone();
    // The ticket carries the limit (sending 1 GiB is not this test's business).
    use base64::Engine;
    let meta: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s(&p["metadata"]))
            .expect("metadata"),
    )
    .expect("ticket");
    assert_eq!(meta["max"], 1u64 << 30, "{meta}");
    let e = u
        .err(
            &[
                ("command", "getUploadParamsForVolume"),
                ("name", "vhd"),
                ("zoneid", &z.zone),
                ("format", "VHD"),
            ],
            431,
        )
        .await;
    assert!(e.contains("QCOW2"), "{e}");

    // uploadVolume from a URL (an admin: a file staged on the management server).
    let file = ts.staging().join("data.qcow2");
    std::fs::write(&file, qcow2(2 << 30, 16 * 1024)).expect("staged");
    let j = admin
        .job(&[
            ("command", "uploadVolume"),
            ("name", "from-url"),
            ("zoneid", &z.zone),
            ("format", "QCOW2"),
            ("url", &format!("file://{}", file.display())),
        ])
        .await;
    assert_eq!(j["jobstatus"], 1, "{j}");
    assert_eq!(j["jobresult"]["volume"]["state"], "Uploaded", "{j}");
    assert_eq!(j["jobresult"]["volume"]["size"], 2u64 << 30, "{j}");
    // A user may not read the management server's files.
    let e = u
        .err(
            &[
                ("command", "uploadVolume"),
                ("name", "steal"),
                ("zoneid", &z.zone),
                ("format", "QCOW2"),
                ("url", "file:///etc/passwd"),
            ],
            431,
        )
        .await;
    assert!(!e.is_empty());

    // A read-only image store takes nothing new; writable again, it does.
    let store = s(&admin
        .ok(&[("command", "listImageStores"), ("zoneid", &z.zone)])
        .await["imagestore"][0]["id"]);
    let pending = vol_params("before-ro", md5_hex(&vimg)).await;
    let r = admin
        .ok(&[
            ("command", "updateImageStore"),
            ("id", &store),
            ("readonly", "true"),
            ("name", "sec-ro"),
            ("capacitybytes", "1099511627776"),
        ])
        .await;
    assert_eq!(r["imagestore"]["readonly"], true, "{r}");
    assert_eq!(r["imagestore"]["name"], "sec-ro", "{r}");
    assert_eq!(r["imagestore"]["disksizetotal"], 1u64 << 40, "{r}");
    let e = u
        .err(
            &[
                ("command", "getUploadParamsForTemplate"),
                ("name", "ro"),
                ("format", "QCOW2"),
                ("hypervisor", "Simulator"),
                ("zoneid", &z.zone),
                ("ostypeid", "4e3f2c1a-7b6d-4e5f-8a9b-000000000001"),
            ],
            431,
        )
        .await;
    assert!(e.contains("writable"), "{e}");
    let (code, _) = post(&http, &pending, vimg.clone(), false, None).await;
    assert_eq!(code, 409, "a read-only store took an upload");
    u.err(
        &[
            ("command", "updateImageStore"),
            ("id", &store),
            ("readonly", "false"),
        ],
        401,
    )
    .await;
    admin
        .ok(&[
            ("command", "updateImageStore"),
            ("id", &store),
            ("readonly", "false"),
        ])
        .await;
    let p = vol_params("after-ro", md5_hex(&vimg)).await;
    let (code, text) = post(&http, &p, vimg.clone(), false, None).await;
    assert_eq!(code, 200, "{text}");
    ts.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_uploads_and_upload_volume() {
    uploads(TestServer::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_uploads_and_upload_volume_postgres() {
    let Some(pg) = testkit::Postgres::start_for_test() else {
        return;
    };
    uploads(TestServer::start_with(Some(pg.fresh_database().expect("db"))).await).await;
}
