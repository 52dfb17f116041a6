import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// How the process uses glibc's allocator. Shoal moves data in buffers of about 1 MiB (chunks,
/// frames, sealed objects), allocated and freed thousands of times a second during a transfer.
enum ProcessMemory {
    /// Two arenas instead of one per thread, so many threads moving 1 MiB buffers do not each
    /// keep their own; buffers up to 16 MiB come from the heap, where a freed one is reused at
    /// once, rather than from a fresh mmap whose every page the kernel must fault in and zero;
    /// the top of the heap goes back to the system beyond 4 MiB free. Call before the first
    /// allocation that matters (first thing a command does).
    static func configureAllocator() {
        #if canImport(Glibc)
        _ = glibcMallopt(-8, 2)  // M_ARENA_MAX
        _ = glibcMallopt(-3, 16 << 20)  // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, 4 << 20)  // M_TRIM_THRESHOLD
        #endif
    }

    /// Gives free heap memory back to the system, including free pages inside the heap that
    /// the top-of-heap trim cannot reach (after a transfer, the buffers it used).
    static func trim() {
        #if canImport(Glibc)
        _ = glibcMallocTrim(0)
        #endif
    }
}

/// Trims the heap every `interval` while the node runs, so the memory a transfer used is returned
/// soon after it ends; during a transfer the buffers are reused, so trimming costs only a few
/// page faults per interval.
struct MemoryTrimService: Service {
    var interval: Duration = .seconds(5)

    func run() async throws {
        // Ends at graceful shutdown (the sleep is cancelled); one trim per interval until then.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                ProcessMemory.trim()
            }
        }
    }
}

#if canImport(Glibc)
/// glibc's `mallopt(3)`, which the Glibc module does not export.
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// glibc's `malloc_trim(3)`, which the Glibc module does not export.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
