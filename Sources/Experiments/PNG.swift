import CZlib
import Foundation

/// An 8-bit gray or RGB image: `pixels` row by row, `channels` interleaved bytes per pixel.
public struct Picture: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    public var pixels: [UInt8]

    /// The caller's contract (as for an array index): 1 or 3 channels and exactly
    /// `width × height × channels` bytes; the library makes pictures only from its own sizes.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "a picture is gray (1 channel) or RGB (3)")
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// PNG files: written with zlib's deflate and CRC-32 (Debian's zlib), read back for checks.
public enum PNG {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// The PNG bytes of a picture: non-interlaced, 8 bits per channel, every row filter 0.
    public static func encode(_ picture: Picture) -> [UInt8] {
        var raw = [UInt8]()
        let rowBytes = picture.width * picture.channels
        raw.reserveCapacity((rowBytes + 1) * picture.height)
        for y in 0..<picture.height {
            raw.append(0)
            raw.append(contentsOf: picture.pixels[(y * rowBytes)..<((y + 1) * rowBytes)])
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let status = compress2(&compressed, &compressedSize, raw, uLong(raw.count), 6)
        // Invariant: the buffer is compressBound's size, so only running out of memory can fail.
        precondition(status == Z_OK, "zlib compress2 failed with \(status)")
        compressed.removeLast(compressed.count - Int(compressedSize))

        var header = [UInt8]()
        header += bigEndian(UInt32(picture.width)) + bigEndian(UInt32(picture.height))
        header += [8, picture.channels == 1 ? 0 : 2, 0, 0, 0]
        return signature + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    /// Writes a picture atomically (a temporary file renamed into place).
    public static func write(_ picture: Picture, to path: String) throws {
        try Data(encode(picture)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a PNG as written by `encode` (8-bit gray or RGB, non-interlaced, any row filter
    /// of type 0), checking every chunk's CRC.
    public static func decode(_ bytes: [UInt8]) throws(Problem) -> Picture {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw Problem(description: "not a PNG file") }
        var offset = 8
        var width = 0, height = 0, channels = 0
        var data = [UInt8]()
        while offset + 12 <= bytes.count {
            let length = Int(readBigEndian(bytes, offset))
            guard offset + 12 + length <= bytes.count else { throw Problem(description: "truncated chunk") }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let stored = readBigEndian(bytes, offset + 8 + length)
            guard stored == crc(Array(bytes[(offset + 4)..<(offset + 8)]) + body) else {
                throw Problem(description: "CRC mismatch in chunk \(type)")
            }
            switch type {
            case "IHDR":
                width = Int(readBigEndian(body, 0))
                height = Int(readBigEndian(body, 4))
                guard body[8] == 8, body[9] == 0 || body[9] == 2, body[12] == 0 else {
                    throw Problem(description: "only 8-bit gray or RGB, non-interlaced PNGs are read")
                }
                channels = body[9] == 0 ? 1 : 3
            case "IDAT": data += body
            case "IEND": offset = bytes.count
            default: break
            }
            offset += 12 + length
        }
        let rowBytes = width * channels
        var rawSize = uLong((rowBytes + 1) * height)
        var raw = [UInt8](repeating: 0, count: Int(rawSize))
        guard width > 0, uncompress(&raw, &rawSize, data, uLong(data.count)) == Z_OK, Int(rawSize) == raw.count else {
            throw Problem(description: "image data does not inflate to \(width)×\(height)")
        }
        var pixels = [UInt8]()
        pixels.reserveCapacity(rowBytes * height)
        for y in 0..<height {
            guard raw[y * (rowBytes + 1)] == 0 else { throw Problem(description: "row filter \(raw[y * (rowBytes + 1)]) is not read") }
            pixels += raw[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))]
        }
        return Picture(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return bigEndian(UInt32(body.count)) + typed + bigEndian(crc(typed))
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 { UInt32(crc32(0, bytes, uInt(bytes.count))) }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }

    static func readBigEndian(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }
}
