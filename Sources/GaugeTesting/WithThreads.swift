import Foundation
import Runtime

/// Runs `body` with `Threads.count` set to `threads`, holding a process-wide lock: tests run
/// in parallel (every test target of a package in one process), and the thread count is
/// global, so two tests that set it would otherwise change it under each other (a job would
/// take more workers than its test set). For checks that a result does not depend on the
/// thread count.
public func withThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    threadCountLock.lock()
    defer { threadCountLock.unlock() }
    let previous = Threads.count
    Threads.set(threads)
    defer { Threads.set(previous) }
    return try body()
}

private let threadCountLock = NSRecursiveLock()
