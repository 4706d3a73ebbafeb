//! `Identity`: the node's peer ID and private key.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use libp2p_identity::{Keypair, PeerId};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ConfigError, Result};
use crate::keys::put;
use crate::Config;

/// The node's identity as stored in `Identity`: the peer ID and the private
/// key, base64 of the libp2p protobuf encoding (as Kubo stores it).
///
/// Read from the `Identity` section; it is not written back from this
/// struct (init writes it, and only `Identity.PeerID` may change, to the
/// key's own peer ID), so it keeps no unknown keys: they stay in the
/// document. `Debug` never prints the private key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// Base58 peer ID (`12D3KooW…` for Ed25519 keys).
    #[serde(rename = "PeerID", default)]
    pub peer_id: String,
    /// Base64 (standard, padded) protobuf-encoded private key.
    #[serde(rename = "PrivKey", default)]
    pub private_key: String,
}

impl Identity {
    /// A fresh Ed25519 identity.
    pub fn generate() -> Identity {
        Identity::from_keypair(&Keypair::generate_ed25519())
            .expect("an Ed25519 keypair always has a protobuf encoding")
    }

    /// The identity of an existing keypair.
    pub fn from_keypair(keypair: &Keypair) -> Result<Identity> {
        let encoded = keypair
            .to_protobuf_encoding()
            .map_err(|e| ConfigError::Identity(format!("cannot encode private key: {e}")))?;
        Ok(Identity {
            peer_id: keypair.public().to_peer_id().to_base58(),
            private_key: base64::engine::general_purpose::STANDARD.encode(encoded),
        })
    }

    /// The protobuf-encoded private key (base64-decoded `Identity.PrivKey`).
    pub fn private_key_bytes(&self) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.private_key.trim())
            .map_err(|e| {
                ConfigError::Identity(format!("Identity.PrivKey is not valid base64: {e}"))
            })
    }

    /// Decodes the private key and checks that `Identity.PeerID` belongs to
    /// it; the node must not start under a peer ID it cannot prove.
    pub fn keypair(&self) -> Result<Keypair> {
        let keypair = Keypair::from_protobuf_encoding(&self.private_key_bytes()?)
            .map_err(|e| ConfigError::Identity(format!("cannot decode Identity.PrivKey: {e}")))?;
        let derived = keypair.public().to_peer_id();
        let stored = PeerId::from_str(&self.peer_id).map_err(|e| {
            ConfigError::Identity(format!(
                "Identity.PeerID {:?} is not a peer ID: {e}",
                self.peer_id
            ))
        })?;
        if stored != derived {
            return Err(ConfigError::Identity(format!(
                "Identity.PeerID {} does not match the private key, whose peer ID is {derived}",
                self.peer_id
            )));
        }
        Ok(keypair)
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl Config {
    /// `Identity`: peer ID and base64 private key (both required). The
    /// private key must be valid base64; [`Identity::keypair`] decodes it.
    pub fn identity(&self) -> Result<Identity> {
        let identity = self.section::<Option<Identity>>("Identity")?;
        let identity = identity.unwrap_or(Identity {
            peer_id: String::new(),
            private_key: String::new(),
        });
        for (key, value) in [
            ("PeerID", &identity.peer_id),
            ("PrivKey", &identity.private_key),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Identity(format!("Identity.{key} is missing")));
            }
        }
        identity.private_key_bytes()?;
        Ok(identity)
    }

    /// `Identity.PeerID`.
    pub fn peer_id(&self) -> Result<String> {
        Ok(self.identity()?.peer_id)
    }

    /// The protobuf-encoded private key from `Identity.PrivKey`.
    pub fn private_key_bytes(&self) -> Result<Vec<u8>> {
        self.identity()?.private_key_bytes()
    }

    /// The node keypair, checked against `Identity.PeerID`.
    pub fn keypair(&self) -> Result<Keypair> {
        self.identity()?.keypair()
    }

    pub(crate) fn set_peer_id(&mut self, value: &Value) -> Result<()> {
        let refuse = || {
            ConfigError::Protected(
                "cannot set Identity.PeerID to a value that does not match the node's private key",
            )
        };
        let candidate = value.as_str().ok_or_else(refuse)?;
        let candidate = PeerId::from_str(candidate).map_err(|_| refuse())?;
        let own = self.identity()?.keypair()?.public().to_peer_id();
        if candidate != own {
            return Err(refuse());
        }
        put(
            &mut self.doc,
            "Identity.PeerID",
            Value::String(own.to_base58()),
        )
    }
}
