//! Slice operations without a panic path. The C library has none (scripts/build-capi.sh fails
//! the build if one survives), so where the compiler cannot prove an index or a length from the
//! checks made before, the code says what to do instead of panicking. Callers pass valid
//! arguments; the fallbacks are never taken.

/// `dst ← src` over their common length (callers pass equal lengths): a `memcpy` without
/// `copy_from_slice`'s length-mismatch panic.
pub(crate) fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len().min(src.len());
    dst[..n].copy_from_slice(&src[..n]);
}

/// `s.split_at_mut(mid)`; two empty slices if `mid` is past the end.
pub(crate) fn split_at_mut<T>(s: &mut [T], mid: usize) -> (&mut [T], &mut [T]) {
    s.split_at_mut_checked(mid).unwrap_or_default()
}

/// `v.swap(a, b)`; nothing if either is out of range.
pub(crate) fn swap<T: Copy>(v: &mut [T], a: usize, b: usize) {
    let (Some(&x), Some(&y)) = (v.get(a), v.get(b)) else { return };
    if let Some(s) = v.get_mut(a) {
        *s = y;
    }
    if let Some(s) = v.get_mut(b) {
        *s = x;
    }
}
