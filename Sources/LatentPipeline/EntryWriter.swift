import Foundation
import LatentCore

/// Finishes cache entries on one background thread, so that `latent run` goes on to the next
/// stage (with the last one's dataset in memory) while the last one's files are compressed and
/// written.
///
/// Why one thread and first-in-first-out: an entry's write may read the files of the entries it
/// came from (carrying unchanged arrays over as stored chunks), and an entry is enqueued only
/// after every entry it depends on was enqueued, so in this order every upstream entry is
/// committed under its final name before a downstream write starts. A job whose upstream write
/// failed is abandoned, not written: its bytes could not be trusted, and the run fails anyway.
final class EntryWriter: @unchecked Sendable {
    struct Job {
        var key: String
        /// Keys of entries written by this writer that this one's bytes may depend on.
        var dependsOn: [String]
        /// Writes the files, the manifest, and commits the entry.
        var body: () throws -> Void
        /// Always called once, on the writer thread, after `body` ran (nil: success) or was
        /// abandoned (`abandoned` names the failed upstream key).
        var done: (_ error: Error?, _ abandoned: String?) -> Void
    }

    private let cond = NSCondition()
    private var queue: [Job] = []
    /// Enqueued and not yet done.
    private var pending: [String: Int] = [:]
    /// Keys whose write failed or was abandoned, with the error.
    private var failed: [String: Error] = [:]
    private var thread: Thread?
    private var stopping = false
    private var busy = false
    /// Entries waiting beyond the one being written: each holds a dataset in memory, so a fast
    /// stage after a slow write waits rather than piling datasets up.
    let limit: Int

    init(limit: Int = 2) { self.limit = max(1, limit) }

    struct WriteFailed: Error, CustomStringConvertible {
        var key: String
        var underlying: Error
        var description: String { "\(underlying)" }
    }

    func enqueue(_ job: Job) {
        cond.lock()
        defer { cond.unlock() }
        if thread == nil {
            let t = Thread { [self] in loop() }
            t.stackSize = 16 << 20
            thread = t
            t.start()
        }
        while queue.count >= limit { cond.wait() }
        queue.append(job)
        pending[job.key, default: 0] += 1
        cond.broadcast()
    }

    /// Blocks until no write of `key` is pending; throws that write's error if it failed.
    func waitCommitted(_ key: String) throws {
        cond.lock()
        defer { cond.unlock() }
        while (pending[key] ?? 0) > 0 { cond.wait() }
        if let e = failed[key] { throw e }
    }

    /// Whether `key` has a write that is queued or running.
    func isPending(_ key: String) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        return (pending[key] ?? 0) > 0
    }

    /// Waits for every queued write, then stops the thread (a later enqueue starts a new one).
    func drain() {
        cond.lock()
        while !queue.isEmpty || busy { cond.wait() }
        if thread != nil {
            stopping = true
            cond.broadcast()
            while thread != nil { cond.wait() }
            stopping = false
        }
        cond.unlock()
    }

    private func loop() {
        cond.lock()
        while true {
            if queue.isEmpty {
                if stopping { break }
                cond.wait()
                continue
            }
            let job = queue.removeFirst()
            busy = true
            let upstreamFailure = job.dependsOn.first { failed[$0] != nil }
            cond.broadcast()
            cond.unlock()
            var error: Error?
            if let bad = upstreamFailure {
                error = WriteFailed(key: bad, underlying: LatentError.internalFailure("not written: the entry it depends on (\(bad)) failed"))
            } else {
                do { try job.body() } catch let e { error = e }
            }
            job.done(error, upstreamFailure)
            cond.lock()
            if let error { failed[job.key] = error } else { failed[job.key] = nil }
            pending[job.key]! -= 1
            if pending[job.key] == 0 { pending[job.key] = nil }
            busy = false
            cond.broadcast()
        }
        thread = nil
        cond.broadcast()
        cond.unlock()
    }
}
