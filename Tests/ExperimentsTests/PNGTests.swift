import Experiments
import Foundation
import Testing

@Suite struct PNGTests {
    @Test(arguments: [1, 3]) func writtenPicturesReadBackUnchanged(channels: Int) throws {
        let (w, h) = (37, 11)
        let pixels: [UInt8] = (0..<(w * h * channels)).map { (k: Int) -> UInt8 in UInt8((k * 37 + k / 5) % 256) }
        let picture = Picture(width: w, height: h, channels: channels, pixels: pixels)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-png-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNG.write(picture, to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes[0..<8]) == [137, 80, 78, 71, 13, 10, 26, 10])
        // IHDR: width, height, 8 bits, colour type 0 (gray) or 2 (RGB).
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        #expect(Array(bytes[16..<26]) == [0, 0, 0, 37, 0, 0, 0, 11, 8, channels == 1 ? 0 : 2])
        #expect(try PNG.decode(bytes) == picture)
    }

    @Test func aDamagedFileIsReportedByItsCRC() throws {
        var bytes = PNG.encode(Picture(width: 4, height: 4, channels: 1, pixels: .init(repeating: 9, count: 16)))
        bytes[bytes.count - 20] ^= 0xFF  // inside IDAT
        #expect(throws: PNG.Problem.self) { try PNG.decode(bytes) }
        do { _ = try PNG.decode(bytes) } catch { #expect(error.description == "CRC mismatch in chunk IDAT") }
        do { _ = try PNG.decode([1, 2, 3]) } catch { #expect(error.description == "not a PNG file") }
    }

    /// Python's zlib (an independent inflater and CRC) reads the file to the same pixels.
    @Test func anIndependentReaderGetsTheSamePixels() throws {
        let picture = tiledPicture(
            (0..<(6 * 3 * 5 * 4)).map { Float($0 % 7) / 6 }, count: 6, channels: 3, height: 5, width: 4, columns: 3,
            scale: 2, gap: 1)
        #expect(picture.width == 3 * 8 + 2 && picture.height == 2 * 10 + 1)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gauge-png-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNG.write(picture, to: path)
        let script = """
            import struct, sys, zlib
            b = open(sys.argv[1], 'rb').read(); o = 8; data = b''
            while o < len(b):
                n, = struct.unpack('>I', b[o:o+4]); t = b[o+4:o+8]; body = b[o+8:o+8+n]
                assert zlib.crc32(t + body) == struct.unpack('>I', b[o+8+n:o+12+n])[0]
                if t == b'IHDR': w, h = struct.unpack('>II', body[:8])
                if t == b'IDAT': data += body
                o += 12 + n
            raw = zlib.decompress(data); row = w * 3 + 1
            px = b''.join(raw[y*row+1:(y+1)*row] for y in range(h))
            print(w, h, len(px), sum(px), sum(i * v for i, v in enumerate(px)))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let sum = picture.pixels.reduce(0) { $0 + Int($1) }
        let weighted = picture.pixels.enumerated().reduce(0) { $0 + $1.offset * Int($1.element) }
        #expect(text == "26 21 \(picture.pixels.count) \(sum) \(weighted)\n")
    }
}
