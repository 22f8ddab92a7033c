//! SHA-512 (FIPS 180-4 §6.4), written out.
//!
//! Only `sha512:` manifests are hashed with it: a few kilobytes at start-up, so its speed does
//! not matter. The sha2 crate's SHA-512 brings a run-time selected AVX2 (or ARMv8 SHA3) path
//! beside its portable one, and its configuration cannot drop that path for SHA-512 without
//! also dropping SHA-NI for SHA-256; this plain version costs ~3 KB less in the binary. The
//! tests check it against sha2 at every length around the block boundaries.

/// The round constants: the first 64 bits of the fractional parts of the cube roots of the
/// first 80 primes.
#[rustfmt::skip]
const K: [u64; 80] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

/// The initial hash value (§5.3.5).
#[rustfmt::skip]
const INITIAL: [u64; 8] = [
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
];

const BLOCK: usize = 128;

/// A running SHA-512 hash.
#[derive(Clone)]
pub struct Sha512 {
    state: [u64; 8],
    block: [u8; BLOCK],
    /// Bytes of `block` in use.
    filled: usize,
    /// Bytes hashed so far.
    length: u64,
}

impl Default for Sha512 {
    fn default() -> Sha512 {
        Sha512 {
            state: INITIAL,
            block: [0; BLOCK],
            filled: 0,
            length: 0,
        }
    }
}

impl Sha512 {
    /// Feeds bytes.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len() as u64);
        while let Some(free) = self.block.get_mut(self.filled..) {
            let n = free.len().min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            if let Some(free) = free.get_mut(..n) {
                free.copy_from_slice(now);
            }
            bytes = rest;
            self.filled += n;
            if self.filled < BLOCK {
                return;
            }
            compress(&mut self.state, &self.block);
            self.filled = 0;
        }
    }

    /// The hash of everything fed (§5.1.2 padding: `0x80`, zeros, the length in bits).
    pub fn finalize(mut self) -> [u8; 64] {
        let (high, low) = (self.length >> 61, self.length << 3);
        self.update(&[0x80]);
        while self.filled != BLOCK - 16 {
            self.update(&[0]);
        }
        self.update(&high.to_be_bytes());
        self.update(&low.to_be_bytes());
        let mut out = [0u8; 64];
        for (bytes, word) in out.chunks_exact_mut(8).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// One block into the state (§6.4.2).
#[allow(clippy::indexing_slicing)] // constant bounds: 16 <= t < 80
fn compress(state: &mut [u64; 8], block: &[u8; BLOCK]) {
    let mut w = [0u64; 80];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(8)) {
        *word = u64::from_be_bytes(bytes.try_into().unwrap_or_default());
    }
    for t in 16..80 {
        let s0 = w[t - 15].rotate_right(1) ^ w[t - 15].rotate_right(8) ^ (w[t - 15] >> 7);
        let s1 = w[t - 2].rotate_right(19) ^ w[t - 2].rotate_right(61) ^ (w[t - 2] >> 6);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let mut v = *state;
    for (k, w) in K.iter().zip(w) {
        let [a, b, c, d, e, f, g, h] = v;
        let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(*k)
            .wrapping_add(w);
        let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        v = [
            t1.wrapping_add(s0.wrapping_add(maj)),
            a,
            b,
            c,
            d.wrapping_add(t1),
            e,
            f,
            g,
        ];
    }
    for (s, x) in state.iter_mut().zip(v) {
        *s = s.wrapping_add(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn matches_sha2_at_every_length_around_the_blocks() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in 0..data.len() {
            let mut ours = Sha512::default();
            // Fed in two pieces, so that partial blocks are joined too.
            let (a, b) = data[..len].split_at(len / 3);
            ours.update(a);
            ours.update(b);
            let theirs = sha2::Sha512::digest(&data[..len]);
            assert_eq!(ours.finalize()[..], theirs[..], "length {len}");
        }
    }

    #[test]
    fn known_value() {
        // FIPS 180-2, appendix C.1: "abc".
        let mut h = Sha512::default();
        h.update(b"abc");
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }
}
