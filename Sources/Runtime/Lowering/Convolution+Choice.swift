import Graph

/// The convolution family's table: which kernel runs a convolution, its adjoint or its filter
/// gradient, and the scratch each needs. The compiler plans shapes and buffers; this is where
/// the runtime lowers a `conv2d`, `transposedConv2d` or `conv2dFilterGrad` to im2col + GEMM,
/// Winograd (`CKernels/Winograd.c`) or the direct few-channel kernel (`CKernels/FewChannelConv.c`).
extension Convolution {
    /// Most workers a convolution uses; its scratch holds one im2col matrix per worker, and the
    /// filter gradient `filterGradBlocks` partial sums.
    static let maxWorkers = 8
    static let filterGradBlocks = 8

    /// Whether a convolution (or its adjoint) of `channels` input planes of `height × width` into
    /// `outputs` planes runs by Winograd's F(2×2, 3×3) (with AVX2): a 3×3 kernel, stride 1, same
    /// padding, one filter for all images, the blocks 8 at a time (width a multiple of 8, height
    /// even, height·width/4 a multiple of 8), and at least 16 channels on both sides (the GEMMs'
    /// inner and outer dimensions; below, im2col's GEMMs were faster: `docs/kernels.md`).
    /// Stride 1 and same padding keep the adjoint the same size.
    static func usesWinograd(
        channels: Int, outputs: Int, height: Int, width: Int, kernel: (Int, Int), stride: Int, padding: Padding,
        perClass: Bool
    ) -> Bool {
        kernel == (3, 3) && stride == 1 && padding == .same && !perClass && channels >= 16 && outputs >= 16
            && width % 8 == 0 && height % 2 == 0 && (height * width / 4) % 8 == 0
    }

    /// Images a Winograd GEMM takes at once: at least 64 blocks (an 8×8 image has 16; the
    /// GEMMs' outer dimension for a convolution, inner for a filter gradient).
    static func winogradImages(height: Int, width: Int) -> Int { max(1, 64 / (height * width / 4)) }

    /// Floats of scratch per worker for a Winograd convolution or filter gradient: the
    /// transformed input [16, C, ·] and products or output gradient [16, O, ·] of
    /// `winogradImages` images, and a zero-padded plane.
    static func winogradWorkerFloats(channels: Int, outputs: Int, height: Int, width: Int) -> Int {
        4 * height * width * (channels + outputs) * winogradImages(height: height, width: width)
            + (height + 2) * (width + 2)
    }

    /// Whether a convolution whose image side (the convolution's input, the adjoint's output) has
    /// `imageChannels` planes runs directly (with AVX2 and FMA): a 3×3 kernel, stride 1, same
    /// padding, one filter for all images, at most 4 image channels (im2col's GEMMs then have an
    /// inner dimension of at most 36, too thin for OpenBLAS to run fast — `docs/kernels.md`) and
    /// rows of whole vectors (width a multiple of 8).
    static func usesDirect(
        imageChannels: Int, width: Int, kernel: (Int, Int), stride: Int, padding: Padding, perClass: Bool
    ) -> Bool {
        kernel == (3, 3) && stride == 1 && padding == .same && !perClass && imageChannels <= 4 && width % 8 == 0
    }

    /// Floats of scratch per worker for a direct convolution whose input, or for the filter
    /// gradient whose image, has `channels` planes: three shifted copies of the image with a zero
    /// row above and below (enough for the forward's zero-bordered copy as well).
    static func directWorkerFloats(channels: Int, height: Int, width: Int) -> Int {
        3 * channels * (height + 2) * width
    }

    /// A Winograd convolution's: per worker `winogradWorkerFloats`, then the transformed filters [16, O, C].
    static func winogradScratch(channels: Int, outputs: Int, height: Int, width: Int) -> Int {
        maxWorkers * winogradWorkerFloats(channels: channels, outputs: outputs, height: height, width: width)
            + 16 * outputs * channels
    }

    /// Scratch floats for a convolution (`s`: its operands' shapes) with room for any kernel
    /// that may run it.
    static func scratchFloats(stride: Int, padding: Padding, classes: Int?, _ s: [[Int]]) -> Int {
        let f = Array(s[1].suffix(4))  // one image's filter [O, C, kh, kw]
        let oh = Op.windowOutputSize(s[0][2], kernel: f[2], stride: stride, padding: padding)
        let ow = Op.windowOutputSize(s[0][3], kernel: f[3], stride: stride, padding: padding)
        let im2col = maxWorkers * f[1] * f[2] * f[3] * oh * ow
        let perClass = classes != nil
        if usesDirect(imageChannels: f[1], width: s[0][3], kernel: (f[2], f[3]), stride: stride, padding: padding, perClass: perClass) {
            return max(im2col, maxWorkers * directWorkerFloats(channels: f[1], height: oh, width: ow))
        }
        guard usesWinograd(
            channels: f[1], outputs: f[0], height: oh, width: ow, kernel: (f[2], f[3]), stride: stride, padding: padding,
            perClass: perClass)
        else { return im2col }
        return max(im2col, winogradScratch(channels: f[1], outputs: f[0], height: oh, width: ow))
    }

    /// Scratch floats for a transposed convolution (the adjoint; `s`: its operands' shapes).
    static func transposedScratchFloats(stride: Int, padding: Padding, classes: Int?, _ s: [[Int]]) -> Int {
        let f = Array(s[1].suffix(4))  // [C, O, kh, kw]
        let im2col = maxWorkers * f[1] * f[2] * f[3] * s[0][2] * s[0][3]
        let perClass = classes != nil
        if usesDirect(imageChannels: f[1], width: s[0][3], kernel: (f[2], f[3]), stride: stride, padding: padding, perClass: perClass) {
            // The workers' copies of the [N, C] side, then the flipped filter [O, C, 3, 3].
            let direct = maxWorkers * directWorkerFloats(channels: f[0], height: s[0][2], width: s[0][3])
            return max(im2col, direct + f[0] * f[1] * 9)
        }
        guard usesWinograd(
            channels: f[0], outputs: f[1], height: s[0][2], width: s[0][3], kernel: (f[2], f[3]), stride: stride,
            padding: padding, perClass: perClass)
        else { return im2col }
        return max(im2col, winogradScratch(channels: f[0], outputs: f[1], height: s[0][2], width: s[0][3]))
    }

    /// Scratch floats for a filter gradient (`s`: image and output-gradient shapes; `filter`: its
    /// output's element count).
    static func filterGradScratchFloats(
        stride: Int, padding: Padding, kernel: (Int, Int), classes: Int?, _ s: [[Int]], filter: Int
    ) -> Int {
        let columns = s[0][1] * kernel.0 * kernel.1 * s[1][2] * s[1][3]
        // Per class, each class's images sum straight into its slice: no block partials.
        let im2col = maxWorkers * columns + (classes == nil ? filterGradBlocks * filter : 0)
        let (c, o, h, w) = (s[0][1], s[1][1], s[0][2], s[0][3])
        let perClass = classes != nil
        if usesDirect(imageChannels: c, width: w, kernel: kernel, stride: stride, padding: padding, perClass: perClass) {
            return max(im2col, maxWorkers * directWorkerFloats(channels: c, height: h, width: w) + filterGradBlocks * filter)
        }
        guard usesWinograd(
            channels: c, outputs: o, height: h, width: w, kernel: kernel, stride: stride, padding: padding, perClass: perClass)
        else { return im2col }
        let partials = filterGradBlocks * 16 * o * c
        return max(im2col, maxWorkers * winogradWorkerFloats(channels: c, outputs: o, height: h, width: w) + partials)
    }
}
