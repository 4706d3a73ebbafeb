//! Dotted keys (`Swarm.ConnMgr.HighWater`): splitting, setting and removing
//! them in the document, and the keys `config` must not show or change.

use serde_json::{Map, Value};

use crate::error::{ConfigError, Result};

pub(crate) fn split_key(key: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::InvalidKey {
            key: key.to_owned(),
        });
    }
    Ok(parts)
}

/// Kubo refuses to show or change these through `config`.
pub(crate) fn check_not_secret(key: &str) -> Result<()> {
    let lower = key.to_ascii_lowercase();
    if lower == "identity" || lower == "identity.privkey" {
        return Err(ConfigError::Protected(
            "cannot show or change private key through API",
        ));
    }
    // Kubo's glob: any key that is a prefix of Pinning.RemoteServices.*.API.Key.
    const GLOB: [&str; 5] = ["pinning", "remoteservices", "*", "api", "key"];
    if lower
        .split('.')
        .zip(GLOB)
        .all(|(part, pat)| pat == "*" || part == pat)
    {
        return Err(ConfigError::Protected(
            "cannot show or change pinning services credentials",
        ));
    }
    Ok(())
}

/// Sets a dotted key, creating missing or `null` parents (Kubo's MapSetKV).
pub(crate) fn put(doc: &mut Value, key: &str, value: Value) -> Result<()> {
    let parts = split_key(key)?;
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut cur = doc;
    for (i, part) in parents.iter().enumerate() {
        let Value::Object(m) = cur else {
            return Err(ConfigError::NotAMap {
                key: key.to_owned(),
                parent: parts[..i].join("."),
            });
        };
        let slot = m.entry(*part).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        cur = slot;
    }
    match cur {
        Value::Object(m) => {
            m.insert((*last).to_owned(), value);
            Ok(())
        }
        _ => Err(ConfigError::NotAMap {
            key: key.to_owned(),
            parent: parents.join("."),
        }),
    }
}

/// Removes a dotted key if present, keeping the order of the rest.
pub(crate) fn remove(doc: &mut Value, key: &str) {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut cur = doc;
    for part in parents {
        match cur.get_mut(*part) {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.shift_remove(*last);
    }
}

/// Every object under `Pinning.RemoteServices`.
pub(crate) fn remote_services_mut(
    doc: &mut Value,
) -> impl Iterator<Item = &mut Map<String, Value>> {
    doc.get_mut("Pinning")
        .and_then(|p| p.get_mut("RemoteServices"))
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|m| m.values_mut())
        .filter_map(Value::as_object_mut)
}

/// Puts back the secrets `show` hides when a replacement leaves them out.
pub(crate) fn carry_over_secrets(old: &Value, new: &mut Value) {
    let old_auth = old.get("API").and_then(|a| a.get("Authorizations"));
    if let Some(old_auth) = old_auth.filter(|a| a.as_object().is_some_and(|m| !m.is_empty())) {
        let new_auth = new.get("API").and_then(|a| a.get("Authorizations"));
        let missing = match new_auth {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(_) => false,
        };
        if missing && new.get("API").is_none_or(|a| a.is_object() || a.is_null()) {
            // Cannot fail: API is absent, null or an object.
            let _ = put(new, "API.Authorizations", old_auth.clone());
        }
    }
    let old_services = old
        .get("Pinning")
        .and_then(|p| p.get("RemoteServices"))
        .and_then(Value::as_object);
    let Some(old_services) = old_services else {
        return;
    };
    let Some(new_services) = new
        .get_mut("Pinning")
        .and_then(|p| p.get_mut("RemoteServices"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (name, svc) in new_services.iter_mut() {
        let Some(old_key) = old_services
            .get(name)
            .and_then(|s| s.get("API"))
            .and_then(|a| a.get("Key"))
        else {
            continue;
        };
        if let Some(api) = svc.get_mut("API").and_then(Value::as_object_mut) {
            let has_key = api
                .get("Key")
                .and_then(Value::as_str)
                .is_some_and(|k| !k.is_empty());
            if !has_key {
                api.insert("Key".into(), old_key.clone());
            }
        }
    }
}

/// Whether one dotted key is the other or lies inside it.
pub(crate) fn related_keys(a: &str, b: &str) -> bool {
    let inside =
        |x: &str, y: &str| x.len() > y.len() && x.starts_with(y) && x.as_bytes()[y.len()] == b'.';
    a == b || inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn key_relations() {
        assert!(related_keys("Import", "Import"));
        assert!(related_keys("Import.CidVersion", "Import"));
        assert!(related_keys("Swarm", "Swarm.ConnMgr"));
        assert!(!related_keys("Swarm.ConnMgrX", "Swarm.ConnMgr"));
        assert!(!related_keys("Gateway", "API.HTTPHeaders"));
    }

    #[test]
    fn secret_keys() {
        assert!(check_not_secret("Identity").is_err());
        assert!(check_not_secret("identity.privkey").is_err());
        assert!(check_not_secret("Identity.PeerID").is_ok());
        assert!(check_not_secret("Pinning").is_err());
        assert!(check_not_secret("Pinning.RemoteServices.foo.API.Key").is_err());
        assert!(check_not_secret("Pinning.RemoteServices.foo.Policies").is_ok());
        assert!(check_not_secret("Addresses").is_ok());
    }
}
