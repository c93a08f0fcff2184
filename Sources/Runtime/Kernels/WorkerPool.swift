#if canImport(Glibc)
    import Glibc
#endif

/// Work split into parts that may run on different threads: `run(part:)` for each part.
/// Jobs are small structs of pointers and sizes, so handing one to the workers allocates
/// nothing (a closure would be boxed on the heap).
protocol ParallelJob {
    func run(part: Int)
}

/// A job held by a pointer to the caller's stack: one word, so the existential that the workers
/// read keeps it inline.
private struct BorrowedJob<J: ParallelJob>: ParallelJob {
    let job: UnsafePointer<J>
    func run(part: Int) { job.pointee.run(part: part) }
}

/// Gauge's own worker threads, started once and parked between jobs: running a kernel on
/// several cores allocates nothing. The caller takes part 0 of a job; parked workers take the
/// others.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var finished = pthread_cond_t()
    private var threads = 0
    private var job: (any ParallelJob)?
    private var parts = 0
    private var nextPart = 0
    private var unfinished = 0

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&finished, nil)
    }

    /// Runs every part of `job` once, on up to `parts` threads; returns when all are done. A job
    /// started while another runs (a kernel inside a parallel kernel, or a second executor on
    /// another thread) runs its parts one after another on the calling thread: parts are
    /// positions, so results are the same either way.
    func run<J: ParallelJob>(parts: Int, _ job: J) {
        if parts <= 1 {
            if parts == 1 { job.run(part: 0) }
            return
        }
        pthread_mutex_lock(&mutex)
        if self.job != nil {
            pthread_mutex_unlock(&mutex)
            for k in 0..<parts { job.run(part: k) }
            return
        }
        withUnsafePointer(to: job) { pointer in
            while threads < parts - 1 { startThread() }
            self.job = BorrowedJob(job: pointer)
            self.parts = parts
            nextPart = 1
            unfinished = parts - 1
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            pointer.pointee.run(part: 0)
            pthread_mutex_lock(&mutex)
            while unfinished > 0 { pthread_cond_wait(&finished, &mutex) }
            self.job = nil
            pthread_mutex_unlock(&mutex)
        }
    }

    private func startThread() {
        var thread = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().work()
        }, context)
        precondition(status == 0, "cannot start a worker thread (pthread_create: \(status))")
        threads += 1
    }

    /// A worker: waits for a job with a part left, runs it, reports it done.
    private func work() -> Never {
        pthread_mutex_lock(&mutex)
        while true {
            while job == nil || nextPart >= parts { pthread_cond_wait(&wake, &mutex) }
            let part = nextPart
            nextPart += 1
            let current = job!
            pthread_mutex_unlock(&mutex)
            current.run(part: part)
            pthread_mutex_lock(&mutex)
            unfinished -= 1
            if unfinished == 0 { pthread_cond_signal(&finished) }
        }
    }
}
