/// Lays images `[count, channels, height, width]` (values in [0, 1]) out on a grid picture,
/// each pixel repeated `scale` times, with `gap` pixels of dark gray between tiles. The caller's
/// contract (as for an array index): 1 or 3 channels, and `images` of exactly that many values.
public func tiledPicture(
    _ images: [Float], count: Int, channels: Int, height: Int, width: Int, columns: Int, scale: Int = 1,
    gap: Int = 2
) -> Picture {
    precondition(channels == 1 || channels == 3, "tiles are gray or RGB")
    precondition(images.count == count * channels * height * width, "image data does not match the count and size")
    let rows = (count + columns - 1) / columns
    let (tileW, tileH) = (width * scale, height * scale)
    let pictureW = columns * tileW + (columns - 1) * gap
    let pictureH = rows * tileH + (rows - 1) * gap
    var pixels = [UInt8](repeating: 40, count: pictureW * pictureH * channels)
    let plane = height * width
    for n in 0..<count {
        let (originX, originY) = ((n % columns) * (tileW + gap), (n / columns) * (tileH + gap))
        for y in 0..<tileH {
            for x in 0..<tileW {
                let source = n * channels * plane + (y / scale) * width + x / scale
                let target = ((originY + y) * pictureW + originX + x) * channels
                for c in 0..<channels {
                    let v = images[source + c * plane]
                    pixels[target + c] = UInt8((min(max(v, 0), 1) * 255).rounded())
                }
            }
        }
    }
    return Picture(width: pictureW, height: pictureH, channels: channels, pixels: pixels)
}
