//! [`Cidr`]: an address block of `listener.trusted_proxies`, written `a.b.c.d/n` or `x::/n`
//! (a bare address is the block of that address alone).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block. **Parsed strictly**: host bits must be clear (`10.0.0.1/8` is refused, so
/// a block never means more than it appears to), and IPv4-mapped IPv6 blocks are refused,
/// since the server compares canonical addresses (an IPv4 client is always IPv4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether the block is a whole address family (`0.0.0.0/0`, `::/0`): anyone there could
    /// send a header and choose their own address.
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    /// Whether `ip` lies in the block. Addresses of the other family never do.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask32(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Cidr, &'static str> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| "not an address block, e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/8")?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= max)
                    .ok_or("the prefix length is over 32 (IPv4) or 128 (IPv6)")?
            }
            Some(_) => return Err("the prefix length is not a number"),
        };
        if let IpAddr::V6(v6) = network
            && v6.to_ipv4_mapped().is_some()
        {
            return Err("an IPv4-mapped block; write the IPv4 block instead");
        }
        let clear = match network {
            IpAddr::V4(v4) => u32::from(v4) & !mask32(prefix) == 0,
            IpAddr::V6(v6) => u128::from(v6) & !mask128(prefix) == 0,
        };
        if !clear {
            return Err("host bits are set after the prefix (write the block's first address)");
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

#[cfg(test)]
mod tests;
