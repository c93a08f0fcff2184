import CZlib
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A file to fetch: where from, and the SHA-256 and size it must have.
public struct DownloadSource: Sendable {
    public var url: String
    public var sha256: String
    public var bytes: Int?

    public init(url: String, sha256: String, bytes: Int? = nil) {
        self.url = url
        self.sha256 = sha256
        self.bytes = bytes
    }

    public var fileName: String { String(url.split(separator: "/").last ?? "") }
}

/// Fetches MNIST and CIFAR-10 from their official addresses into a cache folder: each file to
/// a `.partial` name, checked against its published SHA-256, then renamed into place, so the
/// folder never holds a half-written or wrong file under its real name.
public enum Download {
    /// MNIST's four files (the sums are those of the distributed `.gz` files).
    public static let mnist = [
        ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9_912_422),
        ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28_881),
        ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1_648_877),
        ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4_542),
    ].map { DownloadSource(url: "https://ossci-datasets.s3.amazonaws.com/mnist/" + $0.0, sha256: $0.1, bytes: $0.2) }

    /// CIFAR-10's binary version, one archive holding `cifar-10-batches-bin/`.
    public static let cifar10 = DownloadSource(
        url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd", bytes: 170_052_171)

    /// Fetches `sources` into `folder` (made if missing). Files already there are kept.
    public static func files(
        _ sources: [DownloadSource], into folder: String, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(DataError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .unreadable(file: folder, reason: "cannot make the folder (\(error.localizedDescription))")
        }
        for source in sources {
            let target = folder + "/" + source.fileName
            if FileManager.default.fileExists(atPath: target) { continue }
            try fetch(source, to: target, progress: progress)
        }
    }

    /// Fetches the CIFAR-10 archive and unpacks its six `.bin` files (and `batches.meta.txt`)
    /// into `cache/cifar-10-batches-bin`, which appears only when complete.
    public static func cifar10Batches(
        _ source: DownloadSource = cifar10, into cache: String, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(DataError) {
        let final = cache + "/cifar-10-batches-bin"
        if FileManager.default.fileExists(atPath: final) { return }
        let archive = cache + "/" + source.fileName
        try files([source], into: cache, progress: progress)
        let partial = final + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        } catch {
            throw .unreadable(file: partial, reason: "cannot make the folder")
        }
        let wanted = Set(CIFAR10.trainFiles + [CIFAR10.testFile, "batches.meta.txt"])
        let found = try Tar.extract(archive, names: wanted, into: partial)
        guard found.isSuperset(of: CIFAR10.trainFiles + [CIFAR10.testFile]) else {
            try? FileManager.default.removeItem(atPath: partial)
            throw .badHeader(file: archive, reason: "the archive lacks \(Set(CIFAR10.trainFiles + [CIFAR10.testFile]).subtracting(found).sorted().joined(separator: ", "))")
        }
        guard rename(partial, final) == 0 else { throw .unreadable(file: final, reason: "cannot rename \(partial) into place") }
        try? FileManager.default.removeItem(atPath: archive)
        progress("unpacked \(final)\n")
    }

    /// One file: streamed to `target.partial` while hashing, checked, renamed.
    static func fetch(_ source: DownloadSource, to target: String, progress: @escaping @Sendable (String) -> Void) throws(DataError) {
        guard let url = URL(string: source.url) else { throw .unreadable(file: source.url, reason: "not a URL") }
        let partial = target + ".partial"
        let receiver = Receiver(path: partial, name: source.fileName, expected: source.bytes, progress: progress)
        let session = URLSession(configuration: .ephemeral, delegate: receiver, delegateQueue: nil)
        session.dataTask(with: url).resume()
        receiver.done.wait()
        session.finishTasksAndInvalidate()
        if let failure = receiver.failure {
            try? FileManager.default.removeItem(atPath: partial)
            throw .unreadable(file: source.url, reason: failure)
        }
        let digest = receiver.digest
        guard digest == source.sha256.lowercased() else {
            try? FileManager.default.removeItem(atPath: partial)
            throw .badHeader(file: source.url, reason: "SHA-256 \(digest) does not match the published \(source.sha256); nothing was kept")
        }
        guard rename(partial, target) == 0 else { throw .unreadable(file: target, reason: "cannot rename \(partial) into place") }
        progress("fetched \(target) (\(receiver.received) bytes, SHA-256 checked)\n")
    }

    /// Writes a response to disk as it arrives, hashing and reporting progress.
    final class Receiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        let path: String
        let name: String
        let expected: Int?
        let progress: @Sendable (String) -> Void
        var file: UnsafeMutablePointer<FILE>?
        var hasher = SHA256()
        var received = 0
        var failure: String?
        var digest = ""
        var lastReport = Date.distantPast

        init(path: String, name: String, expected: Int?, progress: @escaping @Sendable (String) -> Void) {
            self.path = path
            self.name = name
            self.expected = expected
            self.progress = progress
        }

        func urlSession(
            _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
            completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
        ) {
            if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                failure = "the server answered HTTP \(http.statusCode)"
                completionHandler(.cancel)
                return
            }
            file = fopen(path, "wb")
            if file == nil { failure = "cannot write \(path)" }
            completionHandler(file == nil ? .cancel : .allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard let file, failure == nil else { return }
            data.withUnsafeBytes { raw in
                if fwrite(raw.baseAddress, 1, raw.count, file) != raw.count { failure = "cannot write \(path) (disk full?)" }
                hasher.update(UnsafeRawBufferPointer(raw).bindMemory(to: UInt8.self))
            }
            received += data.count
            if Date().timeIntervalSince(lastReport) > 0.5 {
                lastReport = Date()
                let total = expected ?? Int(dataTask.countOfBytesExpectedToReceive)
                let share = total > 0 ? min(1, Double(received) / Double(total)) : 0
                let bar = String(repeating: "█", count: Int(share * 24)) + String(repeating: "·", count: 24 - Int(share * 24))
                progress(String(format: "\r%@ [%@] %.1f of %.1f MB", name, bar, Double(received) / 1e6, Double(total) / 1e6))
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let file { fclose(file) }
            if failure == nil, let error { failure = error.localizedDescription }
            digest = hasher.hexDigest()
            progress("\r")
            done.signal()
        }
    }
}

/// Reads members of a (gzipped) tar archive: ustar headers of 512 bytes, data padded to 512.
enum Tar {
    /// Writes every member whose base name is in `names` into `folder`; returns the names written.
    static func extract(_ path: String, names: Set<String>, into folder: String) throws(DataError) -> Set<String> {
        guard let archive = gzopen(path, "rb") else { throw .unreadable(file: path, reason: "no such file or not readable") }
        defer { gzclose(archive) }
        var found = Set<String>()
        var header = [UInt8](repeating: 0, count: 512)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = header.withUnsafeMutableBytes { gzread(archive, $0.baseAddress, 512) }
            guard n == 512, header.contains(where: { $0 != 0 }) else { break }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            let sizeText = String(decoding: header[124..<136].prefix { $0 != 0 && $0 != 32 }, as: UTF8.self)
            guard let size = Int(sizeText, radix: 8) else { throw .badHeader(file: path, reason: "tar member \(name) has no size") }
            let base = String(name.split(separator: "/").last ?? "")
            let keep = header[156] == UInt8(ascii: "0") || header[156] == 0 ? names.contains(base) : false
            let out = keep ? fopen(folder + "/" + base, "wb") : nil
            var left = (size + 511) / 512 * 512
            var payload = size
            while left > 0 {
                let want = min(left, buffer.count)
                let got = buffer.withUnsafeMutableBytes { gzread(archive, $0.baseAddress, UInt32(want)) }
                guard got == want else {
                    if let out { fclose(out) }
                    throw .truncated(file: path, expectedBytes: want, foundBytes: Int(max(got, 0)))
                }
                if let out {
                    let useful = min(payload, want)
                    _ = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, useful, out) }
                }
                payload -= min(payload, want)
                left -= want
            }
            if let out {
                fclose(out)
                found.insert(base)
            }
        }
        return found
    }
}
