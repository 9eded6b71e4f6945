//! Where notifications may go. Channels are an admin's to point anywhere the server reaches
//! (internal relays and webhooks are the feature), except the places that only make sense to
//! an attacker: the server itself (loopback, `0.0.0.0`), link-local addresses and cloud
//! metadata endpoints. These are refused *after* name resolution, so a host name that
//! resolves there is refused too, and the HTTP client connects only to the addresses that
//! passed (no second lookup to rebind). `notifications.allowed_networks` opens what an
//! operator needs (a relay on the same host, the tests' receivers on loopback).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use crate::net::Net;

/// Denied unless `notifications.allowed_networks` opens them: this host, link-local (which
/// holds most clouds' metadata at 169.254.169.254), Alibaba's and AWS's other metadata
/// addresses.
const DENIED: [&str; 8] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.100.100.200/32",
    "::/128",
    "::1/128",
    "fe80::/10",
    "fd00:ec2::254/128",
];

/// The addresses notifications may be sent to.
#[derive(Debug, Clone)]
pub struct Network {
    denied: Vec<Net>,
    allowed: Vec<Net>,
}

impl Default for Network {
    fn default() -> Self {
        Self::new(&[]).unwrap_or_else(|_| unreachable!("no allowed networks"))
    }
}

impl Network {
    /// The default denials, minus what `allowed` (from `notifications.allowed_networks`)
    /// opens.
    pub fn new(allowed: &[String]) -> Result<Self, String> {
        let allowed = allowed
            .iter()
            .map(|n| {
                n.parse()
                    .map_err(|e| format!("notifications.allowed_networks: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let denied = DENIED.iter().filter_map(|n| n.parse().ok()).collect();
        Ok(Self { denied, allowed })
    }

    /// Why nothing may be sent to `ip`, if nothing may.
    pub fn refuses(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        let open = self.allowed.iter().any(|n| n.contains(ip));
        let denied = self.denied.iter().find(|n| n.contains(ip))?;
        (!open).then(|| {
            format!(
                "{ip} is in {denied}, where jitroles sends nothing (this host, link-local or cloud \
                 metadata); notifications.allowed_networks in the server's configuration opens it"
            )
        })
    }

    /// The addresses of `host` that may be sent to (a literal address is its own).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("{host} cannot be resolved: {e}"))?
            .collect();
        let mut refusals = Vec::new();
        let permitted: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.refuses(a.ip()) {
                Some(why) => {
                    refusals.push(why);
                    false
                }
                None => true,
            })
            .collect();
        if permitted.is_empty() {
            return Err(match refusals.first() {
                Some(why) => format!("{host}: {why}"),
                None => format!("{host} has no address"),
            });
        }
        Ok(permitted)
    }
}

/// The HTTP client's resolver: only permitted addresses reach the connector.
pub struct Resolver(pub Arc<Network>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let network = self.0.clone();
        Box::pin(async move {
            let addrs = network.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn loopback_link_local_and_metadata_are_refused_by_default_in_every_spelling() {
        let network = Network::default();
        for refused in [
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "169.254.169.254",
            "100.100.100.200",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(network.refuses(ip(refused)).is_some(), "{refused}");
        }
        for permitted in [
            "10.1.2.3",
            "192.168.1.1",
            "8.8.8.8",
            "2001:db8::1",
            "fd00::1",
        ] {
            assert_eq!(network.refuses(ip(permitted)), None, "{permitted}");
        }
    }

    #[test]
    fn allowed_networks_open_exactly_what_they_name() {
        let network = Network::new(&["127.0.0.0/8".into(), "::1".into()]).unwrap();
        assert_eq!(network.refuses(ip("127.0.0.1")), None);
        assert_eq!(network.refuses(ip("::1")), None);
        assert_eq!(network.refuses(ip("::ffff:127.0.0.1")), None);
        assert!(network.refuses(ip("169.254.169.254")).is_some());
        let err = Network::new(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("notifications.allowed_networks"), "{err}");
        assert!(Network::new(&["localhost".into()]).is_err());
    }

    #[tokio::test]
    async fn a_host_name_is_judged_by_the_addresses_it_resolves_to() {
        let refused = Network::default()
            .resolve("localhost", 80)
            .await
            .unwrap_err();
        assert!(
            refused.contains("where jitroles sends nothing"),
            "{refused}"
        );
        let opened = Network::new(&["127.0.0.0/8".into(), "::1".into()]).unwrap();
        let addrs = opened.resolve("localhost", 80).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
