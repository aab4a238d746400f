@preconcurrency import CHDF5
#if canImport(Glibc)
import Glibc
#endif

/// One process-wide lock around libhdf5.
///
/// Streaming reads the next chunk on a background queue (`RowChunking.forEach` with prefetch)
/// while the main thread may write another file through a sink. libhdf5 as Debian builds it may
/// not be thread-safe (`H5is_library_threadsafe`), and even a thread-safe build serialises
/// internally, so every HDF5 call made by a streaming source or sink goes through this lock.
/// Only the HDF5 calls are inside: inflating and deflating chunks (libdeflate) runs outside it,
/// so a prefetching reader and a writer still overlap their compression work.
///
/// The lock is recursive: helpers that lock may call helpers that lock.
public enum HDF5Lock {
    private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(m, &attr)
        pthread_mutexattr_destroy(&attr)
        return m
    }()

    @inline(__always)
    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Whether the linked libhdf5 was built thread-safe (we lock either way).
    public static var libraryIsThreadSafe: Bool {
        var ok: hbool_t = false
        _ = H5is_library_threadsafe(&ok)
        return ok
    }
}
