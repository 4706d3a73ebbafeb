//! The two multiaddr shapes an HTTP listener can have, `/ip4/A/tcp/P` and
//! `/ip6/A/tcp/P`, to and from socket addresses.

use std::net::{IpAddr, SocketAddr};

/// Parses `/ip4/127.0.0.1/tcp/5001` (or `/ip6/::1/tcp/5001`).
pub fn to_socket(ma: &str) -> Result<SocketAddr, String> {
    let parts: Vec<&str> = ma.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [proto @ ("ip4" | "ip6"), ip, "tcp", port] => {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("invalid {proto} address in {ma:?}"))?;
            if (*proto == "ip4") != ip.is_ipv4() {
                return Err(format!("{ma:?}: address does not match {proto}"));
            }
            let port: u16 = port
                .parse()
                .map_err(|_| format!("invalid tcp port in {ma:?}"))?;
            Ok(SocketAddr::new(ip, port))
        }
        _ => Err(format!(
            "{ma:?} is not an HTTP listen address (expected /ip4/A/tcp/P or /ip6/A/tcp/P)"
        )),
    }
}

/// Where to reach a listener bound to `a`: a wildcard address (`0.0.0.0`,
/// `::`) becomes loopback of the same family.
pub fn dialable(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(match a.ip() {
            IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// The multiaddr of a socket address.
pub fn from_socket(a: &SocketAddr) -> String {
    match a.ip() {
        IpAddr::V4(ip) => format!("/ip4/{ip}/tcp/{}", a.port()),
        IpAddr::V6(ip) => format!("/ip6/{ip}/tcp/{}", a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_others() {
        for ma in ["/ip4/127.0.0.1/tcp/5001", "/ip6/::1/tcp/8080"] {
            assert_eq!(from_socket(&to_socket(ma).unwrap()), ma);
        }
        assert!(to_socket("/ip4/127.0.0.1/udp/1").is_err());
        assert!(to_socket("/ip4/::1/tcp/1").is_err());
        assert!(to_socket("/dns4/localhost/tcp/1").is_err());
        let d = |ma| dialable(to_socket(ma).unwrap()).to_string();
        assert_eq!(d("/ip4/0.0.0.0/tcp/5001"), "127.0.0.1:5001");
        assert_eq!(d("/ip6/::/tcp/5001"), "[::1]:5001");
        assert_eq!(d("/ip4/10.0.0.1/tcp/5001"), "10.0.0.1:5001");
    }
}
