#if canImport(Glibc)
    import Glibc
#endif

/// Large buffers (parameters, optimizer moments, the arena, scratch) asked to be backed by 2 MiB
/// pages, which Linux gives where transparent huge pages are enabled for advised memory (the
/// `madvise` setting; a no-op elsewhere). The per-class layers read their weights in rows 8–12
/// KiB apart, one 4 KiB page each, so with small pages most reads missed the TLB (an ace-cifar
/// step is a few per cent faster with huge pages: `docs/kernels.md`).
enum HugePages {
    static let size = 1 << 21

    /// Advises the whole 2 MiB pages inside `bytes` from `pointer` (nothing for smaller buffers).
    static func advise(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        #if canImport(Glibc)
            let start = (Int(bitPattern: pointer) + size - 1) / size * size
            let end = (Int(bitPattern: pointer) + bytes) / size * size
            guard end > start, let base = UnsafeMutableRawPointer(bitPattern: start) else { return }
            _ = madvise(base, end - start, MADV_HUGEPAGE)
        #endif
    }
}
