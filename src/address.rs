//! Socket addresses read by hand: `0.0.0.0:5000`, `127.0.0.1:0`, `[::]:5000`,
//! `[fe80::1%2]:5000`, exactly what `SocketAddr::from_str` accepts (a unit test holds the two
//! side by side on random text). Why: core's parser is generic over every address kind and
//! number type, and cost ~2 KB of the release binary for the one address on the command line.
//! Never resolves names (musl's resolver would cost 24.5 KB).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Parses `a.b.c.d:port` or `[ipv6(%scope)]:port`, as `SocketAddr::from_str` does.
pub fn parse(text: &str) -> Option<SocketAddr> {
    let mut cursor = Cursor(text.as_bytes());
    let address = match cursor.ipv4() {
        Some(ip) => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), cursor.port()?)),
        None => {
            cursor.eat(b'[').then_some(())?;
            let ip = Ipv6Addr::from(cursor.ipv6()?);
            let scope = cursor.scope();
            cursor.eat(b']').then_some(())?;
            SocketAddr::V6(SocketAddrV6::new(ip, cursor.port()?, 0, scope))
        }
    };
    cursor.0.is_empty().then_some(address)
}

/// What is left to read. A reader that fails may leave it anywhere; the callers that try
/// another reading put it back themselves.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    /// Takes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        match self.0.split_first() {
            Some((&next, rest)) if next == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    /// Reads a number in `radix` of at most `max_digits` digits (0: any number of them) and
    /// at most `max`; without `zero_prefix`, one of more than one digit may not start with 0.
    fn number(&mut self, radix: u32, max_digits: u32, zero_prefix: bool, max: u32) -> Option<u32> {
        let leading_zero = self.0.first() == Some(&b'0');
        let (mut value, mut digits) = (0u64, 0u32);
        while let Some((&byte, rest)) = self.0.split_first() {
            let Some(digit) = char::from(byte).to_digit(radix) else {
                break;
            };
            self.0 = rest;
            value = value * u64::from(radix) + u64::from(digit);
            digits += 1;
            if value > u64::from(max) || (max_digits != 0 && digits > max_digits) {
                return None;
            }
        }
        let refused = digits == 0 || (!zero_prefix && leading_zero && digits > 1);
        (!refused).then_some(value as u32)
    }

    /// `:port`, any number of digits, leading zeros allowed.
    fn port(&mut self) -> Option<u16> {
        self.eat(b':').then_some(())?;
        self.number(10, 0, true, u32::from(u16::MAX))
            .map(|port| port as u16)
    }

    /// `%scope` if it comes next (and is a number), else 0.
    fn scope(&mut self) -> u32 {
        let start = self.0;
        match self.eat(b'%').then(|| self.number(10, 0, true, u32::MAX)) {
            Some(Some(scope)) => scope,
            _ => {
                self.0 = start;
                0
            }
        }
    }

    /// Four decimal octets, dot-separated, without leading zeros; nothing read if they are not
    /// there.
    fn ipv4(&mut self) -> Option<[u8; 4]> {
        let start = self.0;
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            match (i == 0 || self.eat(b'.'))
                .then(|| self.number(10, 3, false, 255))
                .flatten()
            {
                Some(value) => *octet = value as u8,
                None => {
                    self.0 = start;
                    return None;
                }
            }
        }
        Some(octets)
    }

    /// Eight groups of hex digits, at most one `::` standing for one or more zero groups, the
    /// last two groups possibly written as an IPv4 address.
    fn ipv6(&mut self) -> Option<[u16; 8]> {
        let mut head = [0u16; 8];
        let (head_len, head_ipv4) = self.groups(&mut head);
        if head_len == 8 {
            return Some(head);
        }
        if head_ipv4 || !(self.eat(b':') && self.eat(b':')) {
            return None; // an IPv4 part must come last; fewer than 8 groups need a `::`
        }
        let mut tail = [0u16; 7];
        let (tail_len, _) = self.groups(tail.get_mut(..7 - head_len)?);
        let tail = tail.iter().take(tail_len).rev();
        for (slot, group) in head.iter_mut().rev().zip(tail) {
            *slot = *group;
        }
        Some(head)
    }

    /// Reads up to `groups.len()` colon-separated groups; returns how many, and whether the
    /// last two were an IPv4 address. Stops before the first `:` not followed by a group.
    fn groups(&mut self, groups: &mut [u16]) -> (usize, bool) {
        let limit = groups.len();
        for i in 0..limit {
            let start = self.0;
            let separated = i == 0 || self.eat(b':');
            if let (true, Some([high, low, ..])) = (separated, groups.get_mut(i..)) {
                if let Some([a, b, c, d]) = self.ipv4() {
                    *high = u16::from_be_bytes([a, b]);
                    *low = u16::from_be_bytes([c, d]);
                    return (i + 2, true);
                }
            }
            match (
                separated.then(|| self.number(16, 4, true, 0xffff)),
                groups.get_mut(i),
            ) {
                (Some(Some(group)), Some(slot)) => *slot = group as u16,
                _ => {
                    self.0 = start;
                    return (i, false);
                }
            }
        }
        (limit, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    fn same_as_std(text: &str) {
        assert_eq!(parse(text), text.parse::<SocketAddr>().ok(), "{text:?}");
    }

    #[test]
    fn addresses_read_as_std_reads_them() {
        for text in [
            "0.0.0.0:5000",
            "127.0.0.1:0",
            "255.255.255.255:65535",
            "1.2.3.4:065535",
            "1.2.3.4:65536",
            "1.2.3.4:",
            "1.2.3:80",
            "1.2.3.4.5:80",
            "01.2.3.4:80",
            "0.0.0.00:80",
            "256.1.1.1:80",
            "1.2.3.4:80 ",
            " 1.2.3.4:80",
            "[::]:5000",
            "[::1]:80",
            "[::1%2]:80",
            "[::1%]:80",
            "[::1%4294967295]:80",
            "[::1%4294967296]:80",
            "[fe80::1:2:3:4:5:6]:80",
            "[fe80::1:2:3:4:5:6:7]:80",
            "[1:2:3:4:5:6:7:8]:80",
            "[1:2:3:4:5:6:7:8:9]:80",
            "[1:2:3:4:5:6:7::]:80",
            "[::1:2:3:4:5:6:7]:80",
            "[::ffff:1.2.3.4]:80",
            "[1:2:3:4:5:6:1.2.3.4]:80",
            "[1:2:3:4:5:6:7:1.2.3.4]:80",
            "[1.2.3.4::]:80",
            "[::1.2.3.4:5]:80",
            "[1::2::3]:80",
            "[:1::2]:80",
            "[1::2:]:80",
            "[00000::1]:80",
            "[0000::1]:80",
            "[ABCD:ef01::]:80",
            "[::]",
            "::1:80",
            "localhost:5000",
            "",
            ":80",
        ] {
            same_as_std(text);
        }
    }

    #[test]
    fn random_text_reads_as_std_reads_it() {
        let mut rng = Rng(0x5eed_add7);
        let pieces = [
            "0", "1", "9", "00", "255", "256", "65535", "65536", "f", "ffff", "1ffff", "a", ".",
            ":", "::", "[", "]", "%", "1.2.3.4", "x",
        ];
        for _ in 0..200_000 {
            let mut text = String::new();
            for _ in 0..rng.below(12) {
                text.push_str(rng.pick(&pieces));
            }
            same_as_std(&text);
            let mut bracketed = String::from("[");
            for _ in 0..rng.below(12) {
                bracketed.push_str(rng.pick(&pieces));
            }
            bracketed.push_str("]:80");
            same_as_std(&bracketed);
        }
    }
}
