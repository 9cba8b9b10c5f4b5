//! Natter on the open internet, usually behind a reverse proxy: which `Host` it answers
//! (`public_url`), and who the client is (`trusted_proxies`).
//!
//! A request whose `Host` is not Natter's is refused before anything else: otherwise a
//! page of another site whose name points at this server (DNS rebinding) would be the
//! same origin as its answers and could read them. IP addresses are always answered (no
//! other site can be one), so a proxy on the same machine may pass its own upstream
//! address as `Host`, as nginx does by default.
//!
//! The client's address is the TCP peer's, unless the peer is a trusted proxy: then it is
//! the rightmost address of its `X-Forwarded-For` header, the one that proxy added (read by
//! the `client-ip` crate). Logins, sign-ups and logs use it. Only that header: nginx, Caddy,
//! HAProxy and Apache append the address they saw to it, while they pass a client's own
//! `Forwarded` header on untouched, so believing `Forwarded` would let a client name any
//! address it likes (and so escape its login throttle).

use super::config::{canonical, PublicUrl};
use super::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};

/// The address of the client a request came from, as [`guard`] found it; in every
/// request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client behind `peer`: the peer itself, or what a trusted proxy says.
pub fn client_addr(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &super::config::ProxyList,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    client_ip::rightmost_x_forwarded_for(headers)
        .map(canonical)
        .unwrap_or(peer)
}

/// The host a request is for: its `Host` header, or the authority of its URI (HTTP/2).
fn request_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
}

/// Whether Natter answers requests for `host` (`name[:port]`, as in `Host`).
pub fn host_allowed(host: &str, public_url: &PublicUrl) -> bool {
    if public_url
        .get()
        .is_some_and(|p| p.host.eq_ignore_ascii_case(host))
    {
        return true;
    }
    let name = match host.strip_prefix('[') {
        // [v6]:port or [v6]
        Some(rest) => rest.split_once(']').map_or(rest, |(addr, _)| addr),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
}

/// Refuses requests for a host that is not Natter's (421 Misdirected Request, saying
/// what to set), and records the client's address ([`ClientAddr`]) for the rest.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let settings = state.settings();
    // No Host at all is no browser's (they always send one), so no page of another site:
    // an HTTP/1.0 client or a health check, answered as usual.
    let host = request_host(&request).map(str::to_string);
    if let Some(host) = host.filter(|h| !host_allowed(h, &settings.public_url)) {
        tracing::warn!(host = %host, "refused a request for another host");
        let message = match settings.public_url.get() {
            Some(p) => format!("This server answers at {} only.", p.origin),
            None => format!(
                "This server answers IP addresses and localhost only. To reach it as {host}, \
                 set public_url to the address people type (for example https://{host})."
            ),
        };
        return (StatusCode::MISDIRECTED_REQUEST, message).into_response();
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
    let client = client_addr(peer, request.headers(), &settings.trusted_proxies);
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::ProxyList;

    fn url(s: &str) -> PublicUrl {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_public_host_ip_addresses_and_localhost_are_answered() {
        let public = url("https://Chat.Example.com/");
        assert!(host_allowed("chat.example.com", &public));
        assert!(host_allowed("CHAT.example.COM", &public));
        assert!(!host_allowed("chat.example.com:8443", &public));
        assert!(!host_allowed("attacker.example:3000", &public));
        assert!(!host_allowed("", &public));
        for ours in [
            "127.0.0.1:3000",
            "[::1]:3000",
            "[::1]",
            "10.1.2.3",
            "localhost:3000",
            "a.localhost",
        ] {
            assert!(host_allowed(ours, &public), "{ours}");
            assert!(host_allowed(ours, &PublicUrl::default()), "{ours}");
        }
        // Without public_url no name is Natter's.
        assert!(!host_allowed("chat.example.com", &PublicUrl::default()));
        assert!(!host_allowed(
            "127.0.0.1.attacker.example",
            &PublicUrl::default()
        ));
        // A port other than the scheme's default is part of the host.
        let odd = url("http://chat.example.com:8080");
        assert!(host_allowed("chat.example.com:8080", &odd));
        assert!(!host_allowed("chat.example.com", &odd));
    }

    #[test]
    fn a_public_url_is_a_bare_origin() {
        let p = url("https://chat.example.com:443");
        let o = p.get().unwrap();
        assert_eq!(
            (o.origin.as_str(), o.host.as_str(), o.https),
            ("https://chat.example.com", "chat.example.com", true)
        );
        for bad in [
            "chat.example.com",
            "ftp://x",
            "https://x/chat",
            "https://u:p@x",
            "https://x/?a=1",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
        assert_eq!("".parse::<PublicUrl>(), Ok(PublicUrl::default()));
    }

    fn forwarded(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_says_who_the_client_is() {
        let trusted: ProxyList = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        let xff = forwarded(&[("x-forwarded-for", "203.0.113.9, 192.0.2.1")]);
        // The rightmost entry is the one the proxy added; the rest the client could write.
        assert_eq!(
            client_addr(proxy, &xff, &trusted),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_addr(stranger, &xff, &trusted), stranger);
        // A Forwarded header the proxy passed on from the client says nothing.
        let both = forwarded(&[
            ("forwarded", "for=10.9.9.9"),
            ("x-forwarded-for", "192.0.2.60"),
        ]);
        assert_eq!(
            client_addr("10.9.8.7".parse().unwrap(), &both, &trusted),
            "192.0.2.60".parse::<IpAddr>().unwrap()
        );
        let only_forwarded = forwarded(&[("forwarded", "for=10.9.9.9")]);
        assert_eq!(client_addr(proxy, &only_forwarded, &trusted), proxy);
        // A trusted proxy that says nothing (or nonsense) is the client.
        assert_eq!(client_addr(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(
            client_addr(proxy, &forwarded(&[("x-forwarded-for", "junk")]), &trusted),
            proxy
        );
        // An IPv4 peer seen through an IPv6 socket is still the proxy.
        assert_eq!(
            client_addr("::ffff:127.0.0.1".parse().unwrap(), &xff, &trusted),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert!("10.0.0.0/33".parse::<ProxyList>().is_err());
    }
}
