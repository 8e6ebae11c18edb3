//! Signature verification over arbitrary parameters, secrets and signatures, and the
//! property that what `sign` produces, `verify` accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{1}');
    let secret = parts.next().unwrap_or_default().to_string();
    let signature = parts.next().unwrap_or_default().to_string();
    let pairs: Vec<(String, String)> = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    let _ = api::sign::verify(&pairs, &secret, &signature);
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let good = api::sign::sign(&refs, &secret);
    assert!(
        api::sign::verify(&pairs, &secret, &good),
        "sign/verify disagree"
    );
});
