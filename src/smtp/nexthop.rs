//! Where a message goes, written as in Postfix's `transport(5)` table.

use std::fmt;
use std::path::PathBuf;

/// The protocol spoken with the next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// SMTP (RFC 5321): one reply to the end of data for all recipients.
    Smtp,
    /// LMTP (RFC 2033): `LHLO` instead of `EHLO`, and one reply to the end of data per
    /// accepted recipient.
    Lmtp,
}

/// Where the next hop listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A TCP host (a name, an IPv4 address, or an IPv6 address without brackets) and port.
    Inet {
        /// The host name or address, as written (the TLS server name when verifying).
        host: String,
        /// The TCP port.
        port: u16,
    },
    /// A UNIX-domain stream socket.
    Unix(PathBuf),
}

/// A next hop: protocol and address, parsed from Postfix's own syntax so that the value reads
/// as it would in `transport(5)` or `relayhost`.
///
/// | written | meaning |
/// |---|---|
/// | `smtp:[relay.example]`, `smtp:[relay.example]:587` | SMTP to that host's addresses, port 25 unless given |
/// | `smtp:[192.0.2.1]:25`, `smtp:[ipv6:2001:db8::1]:25` | SMTP to that address |
/// | `lmtp:unix:/run/dovecot/lmtp` | LMTP over a UNIX-domain socket |
/// | `lmtp:inet:mail.example:24`, `lmtp:[192.0.2.1]:24`, `lmtp:mail.example` | LMTP over TCP, port 24 unless given |
///
/// The forms follow "SMTP DESTINATION SYNTAX" and "LMTP DESTINATION SYNTAX" in Postfix's
/// smtp(8). mimeinject does no MX lookup, so the SMTP form without brackets
/// (`smtp:example.com`, which Postfix would resolve through MX records) is refused rather
/// than given another meaning; write the relay in brackets, as in `relayhost`.
///
/// ```
/// use mimeinject::smtp::{Address, NextHop, Protocol};
///
/// let hop: NextHop = "smtp:[relay.example]:587".parse()?;
/// assert_eq!(hop.protocol, Protocol::Smtp);
/// assert_eq!(hop.address, Address::Inet { host: "relay.example".into(), port: 587 });
/// let hop: NextHop = "lmtp:unix:/run/dovecot/lmtp".parse()?;
/// assert_eq!(hop.address, Address::Unix("/run/dovecot/lmtp".into()));
/// assert!("smtp:example.com".parse::<NextHop>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// Where it listens.
    pub address: Address,
}

impl std::str::FromStr for NextHop {
    type Err = String;

    fn from_str(s: &str) -> Result<NextHop, String> {
        let bad = |why: &str| format!("next hop {s:?}: {why}");
        let (protocol, rest) = if let Some(rest) = s.strip_prefix("smtp:") {
            (Protocol::Smtp, rest)
        } else if let Some(rest) = s.strip_prefix("lmtp:") {
            (Protocol::Lmtp, rest)
        } else {
            return Err(bad("write smtp:[host]:port or lmtp:unix:/path (Postfix's syntax)"));
        };
        let address = match protocol {
            Protocol::Smtp => {
                if !rest.starts_with('[') {
                    return Err(bad("mimeinject does no MX lookup; put the host in brackets, \
                         smtp:[host] or smtp:[host]:port"));
                }
                inet(rest, 25).map_err(|e| bad(&e))?
            }
            Protocol::Lmtp => {
                if let Some(path) = rest.strip_prefix("unix:") {
                    if !path.starts_with('/') {
                        return Err(bad("the socket path must be absolute"));
                    }
                    Address::Unix(PathBuf::from(path))
                } else {
                    inet(rest.strip_prefix("inet:").unwrap_or(rest), 24).map_err(|e| bad(&e))?
                }
            }
        };
        Ok(NextHop { protocol, address })
    }
}

/// `host`, `host:port`, `[host]`, `[host]:port`, `[ipv6:addr]:port`.
fn inet(s: &str, default_port: u16) -> Result<Address, String> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or("no closing ']'")?;
        let host =
            host.strip_prefix("ipv6:").or_else(|| host.strip_prefix("IPv6:")).unwrap_or(host);
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':' and a port after ']'")?),
        };
        (host, port)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return Err("write an IPv6 address as [ipv6:address]".into()),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().ok().filter(|&p| p > 0).ok_or_else(|| format!("bad port {p:?}"))?,
    };
    Ok(Address::Inet { host: host.to_owned(), port })
}

impl fmt::Display for NextHop {
    /// Postfix's syntax again, as the logs write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.protocol {
            Protocol::Smtp => "smtp",
            Protocol::Lmtp => "lmtp",
        };
        match &self.address {
            Address::Unix(path) => write!(f, "{proto}:unix:{}", path.display()),
            Address::Inet { host, port } => write!(f, "{proto}:{}:{port}", bracketed(host)),
        }
    }
}

/// A host as Postfix writes a next hop that is not looked up in MX records: `[host]`, or
/// `[ipv6:address]` for an IPv6 address.
pub(super) fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[ipv6:{host}]")
    } else {
        format!("[{host}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet_hop(p: Protocol, host: &str, port: u16) -> NextHop {
        NextHop { protocol: p, address: Address::Inet { host: host.into(), port } }
    }

    #[test]
    fn postfix_forms_parse() {
        use Protocol::*;
        let ok = |s: &str| s.parse::<NextHop>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok("smtp:[relay.example]"), inet_hop(Smtp, "relay.example", 25));
        assert_eq!(ok("smtp:[relay.example]:587"), inet_hop(Smtp, "relay.example", 587));
        assert_eq!(ok("smtp:[127.0.0.1]:2525"), inet_hop(Smtp, "127.0.0.1", 2525));
        assert_eq!(ok("smtp:[ipv6:2001:db8::1]:25"), inet_hop(Smtp, "2001:db8::1", 25));
        assert_eq!(ok("lmtp:inet:mail.example"), inet_hop(Lmtp, "mail.example", 24));
        assert_eq!(ok("lmtp:mail.example:2424"), inet_hop(Lmtp, "mail.example", 2424));
        assert_eq!(ok("lmtp:[192.0.2.1]:24"), inet_hop(Lmtp, "192.0.2.1", 24));
        assert_eq!(
            ok("lmtp:unix:/run/dovecot/lmtp"),
            NextHop { protocol: Lmtp, address: Address::Unix("/run/dovecot/lmtp".into()) }
        );
    }

    #[test]
    fn display_gives_the_bracketed_form_back() {
        for s in ["smtp:[relay.example]:587", "lmtp:unix:/x/y", "smtp:[ipv6:::1]:25"] {
            assert_eq!(s.parse::<NextHop>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn what_cannot_be_meant_is_refused() {
        for s in [
            "smtp:example.com",
            "smtp:example.com:25",
            "relay.example:25",
            "esmtp:[x]",
            "smtp:[x",
            "smtp:[x]25",
            "smtp:[x]:0",
            "smtp:[x]:99999",
            "smtp:[]:25",
            "lmtp:unix:relative/path",
            "lmtp:2001:db8::1",
        ] {
            assert!(s.parse::<NextHop>().is_err(), "{s} parsed");
        }
    }
}
