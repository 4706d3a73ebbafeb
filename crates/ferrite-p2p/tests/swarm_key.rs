//! `swarm.key` parsing in every form Kubo accepts, and the errors for the
//! forms it refuses.

use ferrite_p2p::{SwarmKey, SwarmKeyError};

const HEX: &str = "a3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";

fn key_bytes() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    k
}

#[test]
fn base16_as_ipfs_swarm_key_gen_writes_it() {
    let text = format!("/key/swarm/psk/1.0.0/\n/base16/\n{HEX}");
    assert_eq!(
        SwarmKey::parse(text.as_bytes()).unwrap().as_bytes(),
        &key_bytes()
    );
}

#[test]
fn base16_upper_case_trailing_newline_and_whitespace() {
    let text = format!(
        "/key/swarm/psk/1.0.0/\n/base16/\n{}\n  \n",
        HEX.to_uppercase()
    );
    assert_eq!(
        SwarmKey::parse(text.as_bytes()).unwrap().as_bytes(),
        &key_bytes()
    );
}

#[test]
fn crlf_line_ends() {
    let text = format!("/key/swarm/psk/1.0.0/\r\n/base16/\r\n{HEX}\r\n");
    assert_eq!(
        SwarmKey::parse(text.as_bytes()).unwrap().as_bytes(),
        &key_bytes()
    );
}

#[test]
fn base64() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(key_bytes());
    let text = format!("/key/swarm/psk/1.0.0/\n/base64/\n{b64}\n");
    assert_eq!(
        SwarmKey::parse(text.as_bytes()).unwrap().as_bytes(),
        &key_bytes()
    );
    let crlf = format!("/key/swarm/psk/1.0.0/\r\n/base64/\r\n{b64}\r\n");
    assert_eq!(
        SwarmKey::parse(crlf.as_bytes()).unwrap().as_bytes(),
        &key_bytes()
    );
}

#[test]
fn bin_including_newline_bytes() {
    let mut raw = key_bytes();
    raw[3] = b'\n';
    raw[4] = b'\r';
    let mut text = b"/key/swarm/psk/1.0.0/\n/bin/\n".to_vec();
    text.extend_from_slice(&raw);
    assert_eq!(SwarmKey::parse(&text).unwrap().as_bytes(), &raw);
}

#[test]
fn bad_first_header() {
    let text = format!("/key/swarm/psk/2.0.0/\n/base16/\n{HEX}");
    let err = SwarmKey::parse(text.as_bytes()).unwrap_err();
    assert!(matches!(err, SwarmKeyError::BadHeader(ref h) if h == "/key/swarm/psk/2.0.0/"));
    assert!(err
        .to_string()
        .contains("expected file header /key/swarm/psk/1.0.0/"));
}

#[test]
fn header_with_trailing_space_is_refused_as_in_go() {
    let text = format!("/key/swarm/psk/1.0.0/ \n/base16/\n{HEX}");
    assert!(matches!(
        SwarmKey::parse(text.as_bytes()),
        Err(SwarmKeyError::BadHeader(_))
    ));
}

#[test]
fn unknown_encoding() {
    let text = format!("/key/swarm/psk/1.0.0/\n/base58/\n{HEX}");
    let err = SwarmKey::parse(text.as_bytes()).unwrap_err();
    assert!(matches!(err, SwarmKeyError::UnknownEncoding(ref e) if e == "/base58/"));
}

#[test]
fn missing_lines() {
    assert!(matches!(
        SwarmKey::parse(b""),
        Err(SwarmKeyError::MissingLine("header"))
    ));
    assert!(matches!(
        SwarmKey::parse(b"/key/swarm/psk/1.0.0/"),
        Err(SwarmKeyError::MissingLine("header"))
    ));
    assert!(matches!(
        SwarmKey::parse(b"/key/swarm/psk/1.0.0/\n/base16/"),
        Err(SwarmKeyError::MissingLine("encoding"))
    ));
}

#[test]
fn short_keys() {
    let text = format!("/key/swarm/psk/1.0.0/\n/base16/\n{}\n", &HEX[..62]);
    let err = SwarmKey::parse(text.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            SwarmKeyError::TooShort {
                got: 62,
                need: 64,
                ..
            }
        ),
        "{err}"
    );
    let b64 = "/key/swarm/psk/1.0.0/\n/base64/\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
    assert!(matches!(
        SwarmKey::parse(b64.as_bytes()),
        Err(SwarmKeyError::TooShort { got: 30, .. })
    ));
    let bin = b"/key/swarm/psk/1.0.0/\n/bin/\n0123456789";
    assert!(matches!(
        SwarmKey::parse(bin),
        Err(SwarmKeyError::TooShort {
            got: 10,
            need: 32,
            ..
        })
    ));
}

#[test]
fn bad_characters() {
    let mut bad = HEX.to_string();
    bad.replace_range(10..11, "g");
    let text = format!("/key/swarm/psk/1.0.0/\n/base16/\n{bad}");
    let err = SwarmKey::parse(text.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            SwarmKeyError::BadKey {
                encoding: "base16",
                ..
            }
        ),
        "{err}"
    );
    let text = "/key/swarm/psk/1.0.0/\n/base64/\n!!!notbase64!!!\n";
    assert!(matches!(
        SwarmKey::parse(text.as_bytes()),
        Err(SwarmKeyError::BadKey {
            encoding: "base64",
            ..
        })
    ));
}

#[test]
fn generate_round_trips_in_ipfs_swarm_key_gen_form() {
    let key = SwarmKey::generate();
    let text = key.to_file_contents();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "/key/swarm/psk/1.0.0/");
    assert_eq!(lines[1], "/base16/");
    assert_eq!(lines[2].len(), 64);
    assert!(lines[2]
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    assert_eq!(SwarmKey::parse(text.as_bytes()).unwrap(), key);
    assert_ne!(SwarmKey::generate(), key);
}

#[test]
fn from_file_and_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swarm.key");
    std::fs::write(&path, format!("/key/swarm/psk/1.0.0/\n/base16/\n{HEX}\n")).unwrap();
    assert_eq!(SwarmKey::from_file(&path).unwrap().as_bytes(), &key_bytes());
    let err = SwarmKey::from_file(dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, SwarmKeyError::Io { .. }));
    assert!(err.to_string().contains("missing"));
}

#[test]
fn fingerprint_is_kubos_and_debug_hides_the_key() {
    // Kubo's pnetFingerprint: Shake-128(Salsa20(key, "finprint") over 64 zero bytes), 16 bytes.
    let zero = SwarmKey::from_bytes([0u8; 32]);
    let fp = zero.fingerprint();
    assert_eq!(fp.len(), 32);
    assert!(fp.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(fp, zero.pre_shared_key().fingerprint().to_string());
    assert_ne!(fp, SwarmKey::from_bytes(key_bytes()).fingerprint());
    // Known answers, computed independently (Python: Salsa20 checked against
    // its published zero-key vector, then hashlib.shake_128).
    assert_eq!(fp, "708a75afd05affb08736cbf17c73773e");
    let mut seq = [0u8; 32];
    for (i, b) in seq.iter_mut().enumerate() {
        *b = i as u8;
    }
    assert_eq!(
        SwarmKey::from_bytes(seq).fingerprint(),
        "41dfbf48d882a8ee665983adfa7a48f7"
    );
    let dbg = format!("{:?}", SwarmKey::from_bytes(key_bytes()));
    assert!(!dbg.contains(HEX), "{dbg}");
}
