#if canImport(Glibc)
    import Glibc
#endif

/// Work split into parts that may run on different threads: `run(part:worker:)` once for each
/// part. `worker` is the slot (0 ..< the job's workers) of the thread running the part, the same
/// for every part that thread runs in this job: per-worker scratch is indexed by it, never by the
/// part. Which thread runs which part changes from run to run, so a part's result must depend
/// only on the part. Jobs are small structs of pointers and sizes, so handing one to the workers
/// allocates nothing (a closure would be boxed on the heap).
protocol ParallelJob {
    func run(part: Int, worker: Int)
}

/// A job held by a pointer to the caller's stack: one word, so the existential that the workers
/// read keeps it inline.
private struct BorrowedJob<J: ParallelJob>: ParallelJob {
    let job: UnsafePointer<J>
    func run(part: Int, worker: Int) { job.pointee.run(part: part, worker: worker) }
}

/// Gauge's own worker threads, started once and parked between jobs: running a kernel on
/// several cores allocates nothing. The caller takes part 0 of a job and wakes parked workers;
/// then every thread in the job takes the next part not yet taken until none is left. A job cut
/// into more parts than workers is so balanced as it runs: a core that the machine slows down,
/// or a worker that wakes late, takes fewer parts (with one part per worker, the caller waited
/// for the slower of the two: 4–5 % of an ace-cifar step).
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()
    /// Parts per worker for a job balanced as it runs: enough that the last part taken is a
    /// small share of the job.
    static let partsPerWorker = 16

    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var finished = pthread_cond_t()
    private var threads = 0
    private var job: (any ParallelJob)?
    private var parts = 0
    private var nextPart = 0
    private var slots = 0
    private var nextSlot = 0
    /// Pool threads inside the current job.
    private var running = 0
    /// While set (by a profiling executor, between jobs), every parallel job adds its idle core
    /// time to its calling thread's `callerIdleSeconds`: its wall time times its workers, less
    /// the time its threads spent in parts (a worker that wakes late, or runs out of parts
    /// before the others finish theirs, idles). By calling thread, so a profiling executor never
    /// counts the jobs of another executor running on another thread.
    var measuring = false
    private var idleByCaller: [pthread_t: Double] = [:]
    /// Parallel jobs started (with more than one worker), for `gauge bench --profile`.
    private(set) var jobsStarted = 0
    /// The pool threads' time in the current job's parts, while measuring.
    private var partSeconds = 0.0

    private init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        pthread_cond_init(&finished, nil)
    }

    /// Runs every part of `job` once, on up to `workers` threads (default: one per part), the
    /// caller among them; returns when all are done. A job started while another runs (a kernel
    /// inside a parallel kernel, or a second executor on another thread) runs its parts one
    /// after another on the calling thread, as worker 0.
    func run<J: ParallelJob>(parts: Int, workers: Int? = nil, _ job: J) {
        let workers = min(workers ?? parts, parts)
        if workers <= 1 {
            for k in 0..<parts { job.run(part: k, worker: 0) }
            return
        }
        pthread_mutex_lock(&mutex)
        if self.job != nil {
            pthread_mutex_unlock(&mutex)
            for k in 0..<parts { job.run(part: k, worker: 0) }
            return
        }
        withUnsafePointer(to: job) { pointer in
            while threads < workers - 1 { startThread() }
            self.job = BorrowedJob(job: pointer)
            self.parts = parts
            nextPart = 1
            slots = workers
            nextSlot = 1
            partSeconds = 0
            jobsStarted += 1
            let start = measuring ? Clock.now() : 0
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            var part = 0
            var callerSeconds = 0.0
            while true {
                let partStart = start > 0 ? Clock.now() : 0
                pointer.pointee.run(part: part, worker: 0)
                if start > 0 { callerSeconds += Clock.now() - partStart }
                pthread_mutex_lock(&mutex)
                if nextPart >= parts { break }
                part = nextPart
                nextPart += 1
                pthread_mutex_unlock(&mutex)
            }
            while running > 0 { pthread_cond_wait(&finished, &mutex) }
            self.job = nil
            if start > 0 {
                idleByCaller[pthread_self(), default: 0] += (Clock.now() - start) * Double(workers) - callerSeconds - partSeconds
            }
            pthread_mutex_unlock(&mutex)
        }
    }

    private func startThread() {
        var thread = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().work()
        }, context)
        // Not user input: the system refused a thread (out of memory or a process limit), at
        // start-up, when nothing is lost yet.
        precondition(status == 0, "cannot start a worker thread (pthread_create: \(status))")
        threads += 1
    }

    /// A worker: waits for a job with a slot and a part left, takes the slot, runs parts until
    /// none is left, leaves the job.
    private func work() -> Never {
        pthread_mutex_lock(&mutex)
        while true {
            while job == nil || nextPart >= parts || nextSlot >= slots { pthread_cond_wait(&wake, &mutex) }
            let worker = nextSlot
            nextSlot += 1
            running += 1
            let current = job!
            let timing = measuring
            while nextPart < parts {
                let part = nextPart
                nextPart += 1
                pthread_mutex_unlock(&mutex)
                let partStart = timing ? Clock.now() : 0
                current.run(part: part, worker: worker)
                let seconds = timing ? Clock.now() - partStart : 0
                pthread_mutex_lock(&mutex)
                partSeconds += seconds
            }
            running -= 1
            if running == 0 { pthread_cond_signal(&finished) }
        }
    }
}

extension WorkerPool {
    /// What starting a job costs beyond its work: the median over `count` jobs of one
    /// `partSeconds`-long part per worker, less `partSeconds` — the time to wake the parked
    /// workers and hear from the last one (a worker that wakes too late leaves its part to
    /// another thread, which then shows as a whole part's time).
    func dispatchSeconds(workers: Int, partSeconds: Double = 50e-6, count: Int = 400) -> Double {
        struct Busy: ParallelJob {
            let seconds: Double
            func run(part: Int, worker: Int) {
                let end = Clock.now() + seconds
                while Clock.now() < end {}
            }
        }
        var times: [Double] = []
        for _ in 0..<count {
            let start = Clock.now()
            run(parts: workers, workers: workers, Busy(seconds: partSeconds))
            times.append(Clock.now() - start - partSeconds)
        }
        return times.sorted()[count / 2]
    }

    /// The idle core seconds of the parallel jobs this thread has started while measuring.
    func callerIdleSeconds() -> Double {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return idleByCaller[pthread_self()] ?? 0
    }

    /// How many parts to cut `units` of work into for `workers` threads balanced as they run:
    /// `partsPerWorker` each, at most one unit a part.
    static func balancedParts(_ units: Int, workers: Int) -> Int { min(units, workers * partsPerWorker) }

    /// The items of part `part` when `count` items, in groups of `unit` (the last one may be
    /// short), are cut into `parts` contiguous runs of whole groups: a cut fixed by the counts
    /// alone, so which part makes an item never depends on the threads.
    static func share(_ part: Int, of parts: Int, count: Int, unit: Int = 1) -> Range<Int> {
        let groups = (count + unit - 1) / unit
        return min(count, groups * part / parts * unit)..<min(count, groups * (part + 1) / parts * unit)
    }
}
