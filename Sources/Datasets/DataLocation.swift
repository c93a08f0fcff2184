import Foundation

/// Where data sets are looked for, in order: an explicit directory (`--data DIR`), the
/// `GAUGE_DATA` environment variable, then `~/.cache/gauge`. Inside: `mnist/`,
/// `cifar-10-batches-bin/`, `fashion-mnist/`. Fashion-MNIST is also found where Debian's
/// `dataset-fashion-mnist` installs it.
public struct DataLocation: Sendable {
    public var roots: [String]
    /// Where `--download` puts data sets: `~/.cache/gauge`.
    public var cache: String

    public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"

    public init(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var roots: [String] = []
        if let explicit { roots.append(explicit) }
        if let env = environment["GAUGE_DATA"], !env.isEmpty { roots.append(env) }
        let home = environment["HOME"] ?? NSHomeDirectory()
        cache = home + "/.cache/gauge"
        roots.append(cache)
        self.roots = roots
    }

    func find(_ folder: String, containing files: [String], extra: [String] = []) -> String? {
        let candidates = roots.map { $0 + "/" + folder } + extra
        return candidates.first { dir in files.allSatisfy { FileManager.default.fileExists(atPath: dir + "/" + $0) } }
    }

    /// MNIST (or Fashion-MNIST with `fashion`): train or test split.
    public func mnist(train: Bool, fashion: Bool = false) throws(DataError) -> Dataset {
        let prefix = train ? "train" : "t10k"
        let names = ["\(prefix)-images-idx3-ubyte", "\(prefix)-labels-idx1-ubyte"]
        let folder = fashion ? "fashion-mnist" : "mnist"
        let extra = fashion ? [Self.debianFashionMNIST] : []
        for suffix in [".gz", ""] {
            if let dir = find(folder, containing: names.map { $0 + suffix }, extra: extra) {
                return try IDX.dataset(
                    name: "\(folder) \(train ? "train" : "test")", images: dir + "/" + names[0] + suffix,
                    labels: dir + "/" + names[1] + suffix)
            }
        }
        throw .notFound(dataset: fashion ? "Fashion-MNIST" : "MNIST", searched: roots.map { $0 + "/" + folder } + extra)
    }

    /// CIFAR-10, binary version: train or test split.
    public func cifar10(train: Bool) throws(DataError) -> Dataset {
        let files = train ? CIFAR10.trainFiles : [CIFAR10.testFile]
        guard let dir = find("cifar-10-batches-bin", containing: files) else {
            throw .notFound(dataset: "CIFAR-10", searched: roots.map { $0 + "/cifar-10-batches-bin" })
        }
        return try CIFAR10.load(directory: dir, train: train)
    }
}
