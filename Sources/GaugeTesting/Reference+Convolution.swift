import Graph

extension Reference {
    /// The padding before the first row or column: half the total `same` adds (the rest
    /// after), none for `valid`.
    static func before(_ size: Int, kernel: Int, stride: Int, _ padding: Padding) -> Int {
        padding == .same ? Op.samePaddingTotal(size, kernel: kernel, stride: stride) / 2 : 0
    }

    /// Image n's filter offset: 0, or its label's slice of a per-class filter.
    static func filterBase(_ x: [ReferenceTensor], classes: Int?, image n: Int, size: Int) throws(BadIndex) -> Int {
        guard let classes else { return 0 }
        let c = Int(x[2].values[n])
        guard c >= 0 && c < classes else { throw BadIndex(value: c, limit: classes) }
        return c * size
    }

    /// Visits every (image, output channel, input channel, output pixel, filter tap) whose
    /// input pixel is inside the image, with the flat offsets of the input pixel (in
    /// `[N, C, H, W]`), the output pixel (in `[N, O, oh, ow]`) and the tap (in `[O, C, kh, kw]`
    /// after `base`).
    static func taps(
        input: [Int], outputSize: (Int, Int), channels o: Int, kernel: (Int, Int), stride: Int, padding: Padding,
        base: (Int) throws(BadIndex) -> Int, _ visit: (Int, Int, Int) -> Void
    ) throws(BadIndex) {
        let (n, c, h, w) = (input[0], input[1], input[2], input[3])
        let (oh, ow) = outputSize
        let (kh, kw) = kernel
        let (top, left) = (before(h, kernel: kh, stride: stride, padding), before(w, kernel: kw, stride: stride, padding))
        for image in 0..<n {
            let filter = try base(image)
            for out in 0..<o {
                for channel in 0..<c {
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            for ky in 0..<kh {
                                let y = oy * stride + ky - top
                                if y < 0 || y >= h { continue }
                                for kx in 0..<kw {
                                    let x = ox * stride + kx - left
                                    if x < 0 || x >= w { continue }
                                    visit(
                                        ((image * c + channel) * h + y) * w + x, ((image * o + out) * oh + oy) * ow + ox,
                                        filter + ((out * c + channel) * kh + ky) * kw + kx)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `input [N, C, H, W]`, `filter [O, C, kh, kw]` (or per class, labels third).
    static func conv2d(_ x: [ReferenceTensor], stride: Int, padding: Padding, classes: Int?) throws(BadIndex) -> ReferenceTensor {
        let f = Array(x[1].dims.suffix(4))
        let (h, w) = (x[0].dims[2], x[0].dims[3])
        let oh = Op.windowOutputSize(h, kernel: f[2], stride: stride, padding: padding)
        let ow = Op.windowOutputSize(w, kernel: f[3], stride: stride, padding: padding)
        var out = ReferenceTensor(zeros: [x[0].dims[0], f[0], oh, ow])
        try taps(
            input: x[0].dims, outputSize: (oh, ow), channels: f[0], kernel: (f[2], f[3]), stride: stride, padding: padding,
            base: { (n) throws(BadIndex) in try filterBase(x, classes: classes, image: n, size: f.reduce(1, *)) }
        ) { i, o, t in out.values[o] += x[0].values[i] * x[1].values[t] }
        return out
    }

    /// The adjoint of `conv2d`: `input [N, C, h, w]`, `filter [C, O, kh, kw]` →
    /// `[N, O, height, width]`: each input pixel spreads over the window that conv2d would
    /// have gathered it from.
    static func transposedConv2d(_ x: [ReferenceTensor], stride: Int, padding: Padding, size: (Int, Int), classes: Int?)
        throws(BadIndex) -> ReferenceTensor
    {
        let f = Array(x[1].dims.suffix(4))
        let n = x[0].dims[0]
        var out = ReferenceTensor(zeros: [n, f[1], size.0, size.1])
        // conv2d from the result's shape (channels f[1]) to the input's (channels f[0]).
        try taps(
            input: out.dims, outputSize: (x[0].dims[2], x[0].dims[3]), channels: f[0], kernel: (f[2], f[3]), stride: stride,
            padding: padding, base: { (n) throws(BadIndex) in try filterBase(x, classes: classes, image: n, size: f.reduce(1, *)) }
        ) { i, o, t in out.values[i] += x[0].values[o] * x[1].values[t] }
        return out
    }

    /// `input [N, C, H, W]`, `outputGrad [N, O, oh, ow]` → `[O, C, kh, kw]` (per class: each
    /// image's sum into its label's slice).
    static func conv2dFilterGrad(_ x: [ReferenceTensor], stride: Int, padding: Padding, kernel: (Int, Int), classes: Int?)
        throws(BadIndex) -> ReferenceTensor
    {
        let (o, c) = (x[1].dims[1], x[0].dims[1])
        var out = ReferenceTensor(zeros: (classes.map { [$0] } ?? []) + [o, c, kernel.0, kernel.1])
        try taps(
            input: x[0].dims, outputSize: (x[1].dims[2], x[1].dims[3]), channels: o, kernel: kernel, stride: stride,
            padding: padding, base: { (n) throws(BadIndex) in try filterBase(x, classes: classes, image: n, size: o * c * kernel.0 * kernel.1) }
        ) { i, g, t in out.values[t] += x[0].values[i] * x[1].values[g] }
        return out
    }

    /// Max over each `window × window` patch every `stride` pixels.
    static func maxPool(_ x: ReferenceTensor, window: Int, stride: Int, _ dims: [Int]) -> ReferenceTensor {
        var out = ReferenceTensor(zeros: dims)
        poolWindows(x.dims, dims, window: window, stride: stride) { o, at in out.values[o] = at.map { x.values[$0] }.max()! }
        return out
    }

    /// Each output gradient added to the first maximum of its window (row-major order).
    static func maxPoolGrad(_ x: ReferenceTensor, _ g: ReferenceTensor, window: Int, stride: Int) -> ReferenceTensor {
        var out = ReferenceTensor(zeros: x.dims)
        poolWindows(x.dims, g.dims, window: window, stride: stride) { o, at in
            let peak = at.map { x.values[$0] }.max()!
            let first = at.first { x.values[$0] == peak }!
            out.values[first] += g.values[o]
        }
        return out
    }

    /// Each pooling window: the output's flat offset and the input offsets it covers, row-major.
    static func poolWindows(_ input: [Int], _ output: [Int], window: Int, stride: Int, _ visit: (Int, [Int]) -> Void) {
        let (h, w, oh, ow) = (input[2], input[3], output[2], output[3])
        for plane in 0..<(input[0] * input[1]) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let at = (0..<(window * window)).map { k in
                        plane * h * w + (oy * stride + k / window) * w + ox * stride + k % window
                    }
                    visit((plane * oh + oy) * ow + ox, at)
                }
            }
        }
    }
}
