//! Key encoding, written once: big-endian integers (so byte order is numeric order and
//! range scans come out sorted), fixed-width parts first, at most one variable-length
//! string part and only at the end, so no separator is ever needed.

pub fn id(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn pair(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

pub fn read_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Case-insensitive unique names (emails, usernames) are indexed by their lowercase form.
pub fn fold(s: &str) -> Vec<u8> {
    s.trim().to_lowercase().into_bytes()
}

/// A one-byte tag followed by a folded string.
pub fn tagged(tag: u8, s: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + s.len());
    k.push(tag);
    k.extend_from_slice(&fold(s));
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_sort_numerically() {
        let mut ks = [id(256), id(1), id(255), id(u64::MAX), id(0)];
        ks.sort();
        let back: Vec<u64> = ks.iter().map(|k| read_id(k).unwrap()).collect();
        assert_eq!(back, [0, 1, 255, 256, u64::MAX]);
        assert!(pair(1, u64::MAX) < pair(2, 0));
        assert_eq!(read_id(&pair(7, 9)), Some(7));
        assert_eq!(read_id(&[1, 2]), None);
    }

    #[test]
    fn names_fold_case() {
        assert_eq!(fold(" Alice@Example.COM "), b"alice@example.com");
        assert_eq!(tagged(1, "Bob"), b"\x01bob");
    }
}
