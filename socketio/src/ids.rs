//! Random ids for sessions, sockets and recovery, shared by both servers and the in-memory
//! adapter's recovery store.

/// Session, socket and recovery ids: 15 bytes from the operating system's CSPRNG (as the
/// reference's `crypto.randomBytes`), so ids cannot be guessed. Should the OS source ever fail,
/// the bytes come from SipHash keyed by the OS (`RandomState`) over a counter instead.
pub(crate) fn id_generator() -> impl FnMut() -> [u8; 15] + Send + 'static {
    use std::hash::{BuildHasher, Hasher};
    let keys = std::collections::hash_map::RandomState::new();
    let mut counter: u64 = 0;
    move || {
        let mut id = [0u8; 15];
        if getrandom::fill(&mut id).is_ok() {
            return id;
        }
        tracing::warn!("OS random source failed; falling back to keyed SipHash ids");
        let mut out = [0u8; 16];
        for chunk in out.chunks_mut(8) {
            counter = counter.wrapping_add(1);
            let mut hasher = keys.build_hasher();
            hasher.write_u64(counter);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
        id.copy_from_slice(&out[..15]);
        id
    }
}
