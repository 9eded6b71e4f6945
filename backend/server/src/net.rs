//! Addresses: blocks of them (`10.0.0.0/8`), and the client's address of a request, taking
//! `X-Forwarded-For` only from the proxies `server.trusted_proxies` names.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, request::Parts},
    middleware::Next,
    response::Response,
};

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an address or a network like 10.0.0.0/8 or fd00::/8");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        match prefix {
            Some(p) => Ok(Self {
                addr,
                prefix: p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            }),
            // one address, in the form it is compared in
            None => {
                let addr = addr.to_canonical();
                let prefix = if addr.is_ipv4() { 32 } else { 128 };
                Ok(Self { addr, prefix })
            }
        }
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let keep = u32::from(prefix).min(width);
            if keep == 0 { 0 } else { bits >> (width - keep) }
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The address a request came from, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl ClientAddress {
    /// The address of the peer at `peer`, or, when that peer is a trusted proxy, the last
    /// address in `X-Forwarded-For` that is not one (the client as the first proxy we trust
    /// saw it; what a client writes further left is its own claim).
    pub fn of(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[Net]) -> Self {
        let Some(peer) = peer.map(|p| p.ip().to_canonical()) else {
            return Self("unknown".into());
        };
        let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
        if !is_trusted(peer) {
            return Self(peer.to_string());
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let client = forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(*ip))
            .unwrap_or(peer);
        Self(client.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Self>()
            .cloned()
            .unwrap_or_else(|| Self("unknown".into())))
    }
}

/// The middleware that puts every request's [`ClientAddress`] in its extensions.
pub async fn remember_client(
    State(trusted): State<Arc<Vec<Net>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|info| info.remote_addr());
    let address = ClientAddress::of(peer, request.headers(), &trusted);
    request.extensions_mut().insert(address);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", forwarded.parse().unwrap());
        h
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let trusted: Vec<Net> = vec!["10.0.0.0/24".parse().unwrap()];
        let h = headers("198.51.100.1, 203.0.113.9");
        assert_eq!(ClientAddress::of(Some(proxy), &h, &[]).0, "10.0.0.5");
        assert_eq!(
            ClientAddress::of(Some(proxy), &h, &trusted).0,
            "203.0.113.9"
        );
        // a chain of trusted proxies: the first untrusted address from the right
        let chain = headers("203.0.113.9, 10.0.0.7");
        assert_eq!(
            ClientAddress::of(Some(proxy), &chain, &trusted).0,
            "203.0.113.9"
        );
        // garbage is not believed: the proxy itself is the client then
        let bad = headers("not-an-address");
        assert_eq!(ClientAddress::of(Some(proxy), &bad, &trusted).0, "10.0.0.5");
        let direct: SocketAddr = "[::ffff:192.0.2.1]:1".parse().unwrap();
        assert_eq!(ClientAddress::of(Some(direct), &h, &trusted).0, "192.0.2.1");
        assert_eq!(ClientAddress::of(None, &h, &trusted).0, "unknown");
    }
}
