//! Which networks chatgate may reach for user-supplied URLs: the SSRF policy.
//!
//! A consumer's webhook URL must not point chatgate at itself, at the host's
//! private network or at a cloud metadata service. [`NetworkPolicy`] refuses
//! every special-purpose address class (loopback, private, link-local,
//! unique-local, shared, multicast, reserved, …) unless the operator allowed
//! its network explicitly (e.g. `127.0.0.0/8` for a receiver on the same
//! host). IPv6 addresses that embed an IPv4 address are judged by the IPv4
//! address they carry.
//!
//! This module is pure logic: names are checked on the addresses they
//! resolve to, at connect time, by the HTTP adapter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The networks chatgate may reach besides the public internet.
///
/// [`NetworkPolicy::strict`] (the default) allows no special-purpose address
/// at all; [`NetworkPolicy::new`] and [`NetworkPolicy::parse_allowed`] allow
/// the networks given, whatever their class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

impl NetworkPolicy {
    /// Only public addresses: nothing loopback, private, link-local or
    /// otherwise special is allowed.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Public addresses plus everything inside `allowed`.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    /// Parses a list of allowed networks: CIDRs (`10.0.0.0/8`, `fd00::/8`)
    /// or bare addresses (`10.1.2.3`, `::1`), separated by commas and/or
    /// whitespace. An empty list is [`NetworkPolicy::strict`].
    ///
    /// # Errors
    ///
    /// A text naming the first entry that is neither a CIDR nor an address.
    pub fn parse_allowed(list: &str) -> Result<Self, String> {
        let allowed = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(allowed))
    }

    /// The networks allowed besides the public internet.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// Whether chatgate may connect to `ip`.
    ///
    /// # Errors
    ///
    /// Why not, naming the address and its class, e.g.
    /// `"127.0.0.1 is a loopback address"`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.is_allowed(ip) {
            return Ok(());
        }
        match ip {
            IpAddr::V4(v4) => match v4_class(v4) {
                Some(class) => Err(format!("{v4} is {class}")),
                None => Ok(()),
            },
            IpAddr::V6(v6) => {
                if let Some(class) = v6_class(v6) {
                    return Err(format!("{v6} is {class}"));
                }
                let Some((embedded, form)) = embedded_v4(v6) else {
                    return Ok(());
                };
                if self.is_allowed(IpAddr::V4(embedded)) {
                    return Ok(());
                }
                match v4_class(embedded) {
                    Some(class) => Err(format!("{v6} is {form} of {embedded}, {class}")),
                    None => Ok(()),
                }
            }
        }
    }

    /// Whether chatgate may connect to the host of `url`.
    ///
    /// An IP literal host (`http://10.0.0.1/`, `http://[::1]/`) is checked
    /// with [`NetworkPolicy::check_ip`]; `localhost` and names ending in
    /// `.localhost` are loopback (allowed when `127.0.0.1` or `::1` is);
    /// any other name passes here and must be checked on the addresses it
    /// resolves to when connecting.
    ///
    /// # Errors
    ///
    /// Why not: the URL does not parse or has no host, or its host is refused.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("the URL is not valid: {e}"))?;
        match parsed.host() {
            None => Err("the URL has no host".to_owned()),
            Some(url::Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(url::Host::Domain(name)) => {
                if !is_localhost(name) {
                    return Ok(());
                }
                let v4 = self.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
                let v6 = self.check_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
                if v4.is_ok() || v6.is_ok() {
                    Ok(())
                } else {
                    Err(format!("{name} is a loopback address"))
                }
            }
        }
    }

    fn is_allowed(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|net| net.contains(&ip))
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, String> {
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!(
            "\"{entry}\" is neither a network in CIDR notation nor an IP address \
             (expected e.g. 10.0.0.0/8 or 127.0.0.1)"
        )
    })
}

/// `localhost` or a name under `.localhost` (RFC 6761), with or without the
/// trailing root dot, in any case.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// An IPv4 network, checked at compile time.
const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

/// An IPv6 network, checked at compile time.
const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// The special-purpose IPv4 networks, each with the end of the sentence
/// "<address> is …". More specific networks come first: the broadcast
/// address is inside 240/4, the metadata address inside 169.254/16.
const V4_CLASSES: &[(Ipv4Net, &str)] = &[
    (v4(255, 255, 255, 255, 32), "the broadcast address"),
    (v4(169, 254, 169, 254, 32), "a link-local address (the cloud metadata service)"),
    (v4(127, 0, 0, 0, 8), "a loopback address"),
    (v4(0, 0, 0, 0, 8), "an unspecified (\"this network\") address"),
    (v4(10, 0, 0, 0, 8), "a private address"),
    (v4(172, 16, 0, 0, 12), "a private address"),
    (v4(192, 168, 0, 0, 16), "a private address"),
    (v4(100, 64, 0, 0, 10), "a shared (carrier-grade NAT) address"),
    (v4(169, 254, 0, 0, 16), "a link-local address"),
    (v4(192, 0, 0, 0, 24), "an IETF protocol assignment address"),
    (v4(198, 18, 0, 0, 15), "a benchmarking address"),
    (v4(224, 0, 0, 0, 4), "a multicast address"),
    (v4(240, 0, 0, 0, 4), "a reserved address"),
];

/// The special-purpose IPv6 networks (besides the forms that embed an IPv4
/// address), as [`V4_CLASSES`].
const V6_CLASSES: &[(Ipv6Net, &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "a loopback address"),
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "the unspecified address"),
    (
        v6([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254], 128),
        "a unique-local address (the cloud metadata service)",
    ),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "a link-local address"),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), "a unique-local address"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "a multicast address"),
];

/// The special-purpose IPv4 class of `ip`; `None` for a public address.
fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    V4_CLASSES.iter().find(|(net, _)| net.contains(&ip)).map(|(_, class)| *class)
}

/// The special-purpose IPv6 class of `ip`, not counting the forms that
/// embed an IPv4 address; `None` otherwise.
fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    V6_CLASSES.iter().find(|(net, _)| net.contains(&ip)).map(|(_, class)| *class)
}

/// The IPv4 address an IPv6 address carries, and the name of the form:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((low, "the IPv4-mapped form")),
        // `::` and `::1` are IPv6 classes, judged before this.
        [0, 0, 0, 0, 0, 0, _, _] => Some((low, "the IPv4-compatible form")),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some((low, "the NAT64 form")),
        [0x2002, ..] => Some((Ipv4Addr::new(o[2], o[3], o[4], o[5]), "a 6to4 address")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn allowing(list: &str) -> NetworkPolicy {
        NetworkPolicy::parse_allowed(list).unwrap()
    }

    /// One sample per class: (address, its network, words the reason must contain).
    const CLASSES: &[(&str, &str, &str)] = &[
        ("127.0.0.1", "127.0.0.0/8", "loopback"),
        ("127.255.1.2", "127.0.0.0/8", "loopback"),
        ("::1", "::1/128", "loopback"),
        ("0.0.0.0", "0.0.0.0/8", "unspecified"),
        ("0.1.2.3", "0.0.0.0/8", "this network"),
        ("::", "::/128", "unspecified"),
        ("10.0.0.1", "10.0.0.0/8", "private"),
        ("172.16.0.1", "172.16.0.0/12", "private"),
        ("172.31.255.254", "172.16.0.0/12", "private"),
        ("192.168.1.1", "192.168.0.0/16", "private"),
        ("100.64.0.1", "100.64.0.0/10", "shared"),
        ("100.127.255.254", "100.64.0.0/10", "carrier-grade NAT"),
        ("169.254.1.1", "169.254.0.0/16", "link-local"),
        ("169.254.169.254", "169.254.0.0/16", "metadata"),
        ("fe80::1", "fe80::/10", "link-local"),
        ("fc00::1", "fc00::/7", "unique-local"),
        ("fd12:3456::1", "fc00::/7", "unique-local"),
        ("fd00:ec2::254", "fc00::/7", "metadata"),
        ("224.0.0.1", "224.0.0.0/4", "multicast"),
        ("239.255.255.250", "224.0.0.0/4", "multicast"),
        ("ff02::1", "ff00::/8", "multicast"),
        ("255.255.255.255", "255.255.255.255/32", "broadcast"),
        ("240.0.0.1", "240.0.0.0/4", "reserved"),
        ("250.1.2.3", "240.0.0.0/4", "reserved"),
        ("192.0.0.8", "192.0.0.0/24", "IETF protocol assignment"),
        ("198.18.0.1", "198.18.0.0/15", "benchmarking"),
        ("198.19.255.254", "198.18.0.0/15", "benchmarking"),
    ];

    #[test]
    fn every_special_class_is_refused_by_the_strict_policy_with_a_readable_reason() {
        let strict = NetworkPolicy::strict();
        for (addr, _, words) in CLASSES {
            let reason = strict.check_ip(ip(addr)).unwrap_err();
            assert!(reason.starts_with(&format!("{addr} is ")), "{addr}: {reason}");
            assert!(reason.contains(words), "{addr}: {reason}");
        }
    }

    #[test]
    fn every_special_class_is_accepted_when_its_network_is_allowed() {
        for (addr, net, _) in CLASSES {
            assert_eq!(allowing(net).check_ip(ip(addr)), Ok(()), "{addr} in {net}");
        }
    }

    #[test]
    fn allowing_one_network_does_not_allow_the_others() {
        let policy = allowing("127.0.0.0/8");
        assert!(policy.check_ip(ip("10.0.0.1")).is_err());
        assert!(policy.check_ip(ip("169.254.169.254")).is_err());
        assert!(policy.check_ip(ip("::1")).is_err());
    }

    #[test]
    fn reasons_read_as_sentences() {
        let strict = NetworkPolicy::strict();
        assert_eq!(
            strict.check_ip(ip("127.0.0.1")),
            Err("127.0.0.1 is a loopback address".to_owned())
        );
        assert_eq!(
            strict.check_ip(ip("10.1.2.3")),
            Err("10.1.2.3 is a private address".to_owned())
        );
        assert_eq!(
            strict.check_ip(ip("169.254.169.254")),
            Err("169.254.169.254 is a link-local address (the cloud metadata service)".to_owned())
        );
        assert_eq!(
            strict.check_ip(ip("::ffff:127.0.0.1")),
            Err("::ffff:127.0.0.1 is the IPv4-mapped form of 127.0.0.1, a loopback address"
                .to_owned())
        );
    }

    #[test]
    fn public_addresses_pass() {
        let strict = NetworkPolicy::strict();
        for addr in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(strict.check_ip(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn ipv6_forms_that_embed_ipv4_are_judged_by_the_embedded_address() {
        let strict = NetworkPolicy::strict();
        for (addr, words) in [
            ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, a loopback"),
            ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, a link-local"),
            ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1, a private"),
            ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1, a loopback"),
            ("::10.0.0.1", "IPv4-compatible form of 10.0.0.1, a private"),
            ("64:ff9b::127.0.0.1", "NAT64 form of 127.0.0.1, a loopback"),
            ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254, a link-local"),
            ("2002:7f00:1::", "6to4 address of 127.0.0.1, a loopback"),
            ("2002:c0a8:101::1", "6to4 address of 192.168.1.1, a private"),
        ] {
            let reason = strict.check_ip(ip(addr)).unwrap_err();
            assert!(reason.contains(words), "{addr}: {reason}");
        }
        for addr in
            ["::ffff:93.184.216.34", "::93.184.216.34", "64:ff9b::808:808", "2002:5db8:d822::1"]
        {
            assert_eq!(strict.check_ip(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn an_embedded_address_is_accepted_when_its_ipv4_network_is_allowed() {
        let policy = allowing("127.0.0.0/8");
        for addr in ["::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::"] {
            assert_eq!(policy.check_ip(ip(addr)), Ok(()), "{addr}");
        }
    }

    #[test]
    fn urls_with_ip_literal_hosts_are_checked() {
        let strict = NetworkPolicy::strict();
        assert_eq!(
            strict.check_url("http://127.0.0.1:8080/hook"),
            Err("127.0.0.1 is a loopback address".to_owned())
        );
        assert!(strict.check_url("http://[::1]:8080/").unwrap_err().contains("loopback"));
        assert!(strict.check_url("http://[::ffff:127.0.0.1]/").unwrap_err().contains("loopback"));
        assert!(
            strict
                .check_url("http://169.254.169.254/latest/meta-data")
                .unwrap_err()
                .contains("metadata")
        );
        assert!(strict.check_url("https://[fd00:ec2::254]/").unwrap_err().contains("metadata"));
        // The URL parser normalises other spellings of an IPv4 address.
        assert!(strict.check_url("http://2130706433/").unwrap_err().contains("127.0.0.1"));
        assert!(strict.check_url("http://0x7f.1/").unwrap_err().contains("127.0.0.1"));
        assert_eq!(strict.check_url("https://93.184.216.34/hook"), Ok(()));
        assert_eq!(strict.check_url("https://[2606:4700::1111]/hook"), Ok(()));
        assert_eq!(allowing("127.0.0.1").check_url("http://127.0.0.1:8080/"), Ok(()));
    }

    #[test]
    fn localhost_names_are_loopback() {
        let strict = NetworkPolicy::strict();
        for url in [
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "http://localhost./",
            "http://api.localhost/",
        ] {
            let reason = strict.check_url(url).unwrap_err();
            assert!(reason.contains("loopback"), "{url}: {reason}");
        }
        assert_eq!(allowing("127.0.0.0/8").check_url("http://localhost:8080/"), Ok(()));
        assert_eq!(allowing("::1").check_url("http://localhost:8080/"), Ok(()));
    }

    #[test]
    fn other_names_pass_until_they_are_resolved() {
        let strict = NetworkPolicy::strict();
        assert_eq!(strict.check_url("https://hooks.example.com/chatgate"), Ok(()));
        assert_eq!(strict.check_url("https://localhost.example.com/"), Ok(()));
        assert_eq!(strict.check_url("https://notlocalhost/"), Ok(()));
    }

    #[test]
    fn urls_that_do_not_parse_or_have_no_host_are_refused() {
        let strict = NetworkPolicy::strict();
        assert!(strict.check_url("not a url").unwrap_err().contains("not valid"));
        assert!(strict.check_url("file:///etc/passwd").unwrap_err().contains("no host"));
    }

    #[test]
    fn allowed_networks_parse_from_commas_and_whitespace() {
        let policy =
            NetworkPolicy::parse_allowed("127.0.0.0/8, 10.1.2.3 ::1/128,\n\tfd00::/8,,").unwrap();
        let expected: Vec<IpNet> = ["127.0.0.0/8", "10.1.2.3/32", "::1/128", "fd00::/8"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(policy.allowed(), expected.as_slice());
        assert_eq!(
            NetworkPolicy::parse_allowed("10.1.2.3/8").unwrap().allowed(),
            &["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn an_empty_allowed_list_is_strict() {
        assert_eq!(NetworkPolicy::parse_allowed("").unwrap(), NetworkPolicy::strict());
        assert_eq!(NetworkPolicy::parse_allowed(" , \n").unwrap(), NetworkPolicy::strict());
        assert_eq!(NetworkPolicy::default(), NetworkPolicy::strict());
        assert!(NetworkPolicy::strict().allowed().is_empty());
    }

    #[test]
    fn a_bad_allowed_entry_is_named_in_the_error() {
        for bad in ["10.0.0.300", "10.0.0.0/33", "localhost", "fd00::/129", "10.0.0.0/8/8"] {
            let error = NetworkPolicy::parse_allowed(&format!("127.0.0.0/8, {bad}")).unwrap_err();
            assert!(error.contains(&format!("\"{bad}\"")), "{bad}: {error}");
        }
    }

    #[test]
    fn new_keeps_the_networks_given() {
        let nets: Vec<IpNet> = vec!["192.168.0.0/16".parse().unwrap()];
        let policy = NetworkPolicy::new(nets.clone());
        assert_eq!(policy.allowed(), nets.as_slice());
        assert_eq!(policy.check_ip(ip("192.168.3.4")), Ok(()));
    }
}
