//! One rule for every client (the CLI and the desktop app): a token sent over
//! plain `http://` to a host that is not loopback can be read and reused by
//! anyone on the network path, so the user is warned first.

/// The host of `server` when it is a plain `http://` URL to a host that is
/// not loopback (`127.0.0.0/8`, `::1`, `localhost`, `*.localhost`); `None`
/// for `https://`, loopback, or a URL that does not parse.
pub fn plain_remote_host(server: &str) -> Option<String> {
    let url = url::Url::parse(server.trim()).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let loopback = match url.host()? {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    (!loopback).then(|| url.host_str().unwrap_or_default().to_string())
}

/// The warning to show before a token goes to `server`, if it is a plain
/// `http://` URL to a host that is not loopback (see [`plain_remote_host`]).
pub fn plain_token_warning(server: &str) -> Option<String> {
    plain_remote_host(server).map(|host| {
        format!(
            "the token is sent over plain http:// to {host}, which is not loopback: \
             anyone on the network path can read and reuse it (use https://)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_to_remote_hosts_is_noticed() {
        assert_eq!(
            plain_remote_host("http://10.0.0.5:4000").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            plain_remote_host("http://pulse.example.com/base").as_deref(),
            Some("pulse.example.com")
        );
        assert_eq!(
            plain_remote_host("http://[2001:db8::1]:4000").as_deref(),
            Some("[2001:db8::1]")
        );
        // A name that only starts like loopback is not loopback.
        assert_eq!(
            plain_remote_host("http://localhost.evil.example").as_deref(),
            Some("localhost.evil.example")
        );
        for safe in [
            "http://127.0.0.1:4000",
            "http://127.8.9.10",
            "http://localhost:4000",
            "http://LOCALHOST",
            "http://app.localhost:4000",
            "http://[::1]:4000",
            "https://pulse.example.com",
            "https://10.0.0.5",
            "not a url",
        ] {
            assert_eq!(plain_remote_host(safe), None, "{safe}");
        }
    }

    #[test]
    fn the_warning_names_the_host_and_says_why() {
        let w = plain_token_warning("http://10.0.0.5:4000").unwrap();
        assert!(w.contains("10.0.0.5") && w.contains("https://"), "{w}");
        assert!(w.contains("not loopback"), "{w}");
        assert_eq!(plain_token_warning("http://127.0.0.1:4000"), None);
    }
}
