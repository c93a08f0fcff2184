import Datasets
import Foundation
import Testing

/// A static HTTP server on 127.0.0.1 (Python's http.server) serving `folder`, on a free port.
final class LoopbackServer {
    let process = Process()
    let port: Int

    init(serving folder: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        var text = ""
        while !text.contains(") ...") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let words = text.split(separator: " ")
        port = words.firstIndex(of: "port").flatMap { Int(words[$0 + 1]) } ?? 0
    }

    var base: String { "http://127.0.0.1:\(port)/" }

    deinit { process.terminate() }
}

func sha256(_ bytes: [UInt8]) -> String {
    var h = SHA256()
    h.update(bytes)
    return h.hexDigest()
}

@Suite struct DownloadTests {
    @Test func sha256MatchesTheStandardVectors() {
        #expect(sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in uneven pieces: the same digest as at once.
        var pieces = SHA256()
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 998_807] {
            pieces.update(million[offset..<(offset + size)])
            offset += size
        }
        #expect(pieces.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func filesAreFetchedCheckedAndRenamedIntoPlace() throws {
        let served = temporaryDirectory(), cache = temporaryDirectory()
        defer { for d in [served, cache] { try? FileManager.default.removeItem(atPath: d) } }
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        write(content, to: served + "/good.gz")
        write(content, to: served + "/tampered.gz")
        let server = try LoopbackServer(serving: served)
        #expect(server.port > 0)

        let good = DownloadSource(url: server.base + "good.gz", sha256: sha256(content), bytes: content.count)
        try Download.files([good], into: cache + "/mnist")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: cache + "/mnist/good.gz"))) == content)

        // A wrong sum: an error naming both sums, and nothing kept under either name.
        let wrong = DownloadSource(url: server.base + "tampered.gz", sha256: String(repeating: "0", count: 64))
        #expect {
            try Download.files([wrong], into: cache + "/mnist")
        } throws: { error in
            "\(error)".contains("SHA-256 \(sha256(content)) does not match the published 0000")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/mnist") == ["good.gz"])

        // A missing file: the HTTP status, and again nothing left behind.
        let missing = DownloadSource(url: server.base + "absent.gz", sha256: sha256(content))
        #expect {
            try Download.files([missing], into: cache + "/mnist")
        } throws: { error in
            "\(error)" == "cannot read \(server.base)absent.gz: the server answered HTTP 404"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache + "/mnist") == ["good.gz"])
    }

    @Test func theCIFARArchiveIsUnpackedIntoItsFolder() throws {
        let served = temporaryDirectory(), cache = temporaryDirectory()
        defer { for d in [served, cache] { try? FileManager.default.removeItem(atPath: d) } }
        let names = CIFAR10.trainFiles + [CIFAR10.testFile, "batches.meta.txt"]
        try FileManager.default.createDirectory(atPath: served + "/cifar-10-batches-bin", withIntermediateDirectories: true)
        for (i, name) in names.enumerated() {
            write((0..<(700 + 513 * i)).map { UInt8(($0 * (i + 3)) % 251) }, to: served + "/cifar-10-batches-bin/" + name)
        }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", served + "/cifar-10-binary.tar.gz", "-C", served, "cifar-10-batches-bin"]
        try tar.run()
        tar.waitUntilExit()
        let archive = [UInt8](try Data(contentsOf: URL(fileURLWithPath: served + "/cifar-10-binary.tar.gz")))
        let server = try LoopbackServer(serving: served)

        try Download.cifar10Batches(
            DownloadSource(url: server.base + "cifar-10-binary.tar.gz", sha256: sha256(archive)), into: cache)
        for (i, name) in names.enumerated() {
            let got = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cache + "/cifar-10-batches-bin/" + name)))
            #expect(got == (0..<(700 + 513 * i)).map { UInt8(($0 * (i + 3)) % 251) }, "\(name)")
        }
        // Only the unpacked folder stays: no archive, no partial folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == ["cifar-10-batches-bin"])
    }
}
