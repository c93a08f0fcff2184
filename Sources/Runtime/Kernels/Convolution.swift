import Graph

/// Convolutions by im2col + GEMM (NCHW): forward, transposed (the input gradient), filter gradient.
struct ConvGeometry {
    var channels: Int, height: Int, width: Int  // the large ("image") side
    var kernelH: Int, kernelW: Int, stride: Int
    var outH: Int, outW: Int  // the small ("convolved") side
    var padTop: Int, padLeft: Int

    init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int, stride: Int, padding: Padding) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelH, self.kernelW, self.stride) = (kernelH, kernelW, stride)
        outH = Op.windowOutputSize(height, kernel: kernelH, stride: stride, padding: padding)
        outW = Op.windowOutputSize(width, kernel: kernelW, stride: stride, padding: padding)
        padTop = padding == .same ? Op.samePaddingTotal(height, kernel: kernelH, stride: stride) / 2 : 0
        padLeft = padding == .same ? Op.samePaddingTotal(width, kernel: kernelW, stride: stride) / 2 : 0
    }

    var columnRows: Int { channels * kernelH * kernelW }
    var columnCols: Int { outH * outW }

    /// col[(c·kh + i)·kw + j][oy·outW + ox] = image[c, oy·s + i − padTop, ox·s + j − padLeft] (0 outside).
    func im2col(_ image: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + ((c * kernelH + i) * kernelW + j) * columnCols
                    for oy in 0..<outH {
                        let y = oy * stride + i - padTop
                        let dst = row + oy * outW
                        if y < 0 || y >= height {
                            dst.update(repeating: 0, count: outW)
                            continue
                        }
                        let src = image + (c * height + y) * width
                        for ox in 0..<outW {
                            let x = ox * stride + j - padLeft
                            dst[ox] = x >= 0 && x < width ? src[x] : 0
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: image += scattered columns (image must start zeroed).
    func col2im(_ col: UnsafePointer<Float>, _ image: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + ((c * kernelH + i) * kernelW + j) * columnCols
                    for oy in 0..<outH {
                        let y = oy * stride + i - padTop
                        if y < 0 || y >= height { continue }
                        let dst = image + (c * height + y) * width
                        let src = row + oy * outW
                        for ox in 0..<outW {
                            let x = ox * stride + j - padLeft
                            if x >= 0 && x < width { dst[x] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}

enum Convolution {
    /// `y [N, O, oh, ow] = conv(x [N, C, H, W], w [O, C, kh, kw])`.
    static func forward(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, _ y: UnsafeMutablePointer<Float>, scratch col: UnsafeMutablePointer<Float>
    ) {
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: wShape[2], kernelW: wShape[3],
            stride: stride, padding: padding)
        for n in 0..<xShape[0] {
            g.im2col(x + n * g.channels * g.height * g.width, col)
            GEMM.sgemm(
                transposeA: false, transposeB: false, m: wShape[0], n: g.columnCols, k: g.columnRows, w,
                lda: g.columnRows, col, ldb: g.columnCols, y + n * wShape[0] * g.columnCols, ldc: g.columnCols)
        }
    }

    /// The adjoint of `forward` in its input: `x [N, C, h, w]` (the convolved side) with
    /// `w [C, O, kh, kw]` gives `y [N, O, H, W]`.
    static func transposed(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ w: UnsafePointer<Float>, _ wShape: [Int], stride: Int,
        padding: Padding, height: Int, width: Int, _ y: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>
    ) {
        let out = wShape[1]
        let g = ConvGeometry(
            channels: out, height: height, width: width, kernelH: wShape[2], kernelW: wShape[3], stride: stride,
            padding: padding)
        let image = out * height * width
        y.update(repeating: 0, count: xShape[0] * image)
        for n in 0..<xShape[0] {
            // col [O·kh·kw, h·w] = wᵀ [O·kh·kw, C] · x_n [C, h·w]
            GEMM.sgemm(
                transposeA: true, transposeB: false, m: g.columnRows, n: g.columnCols, k: xShape[1], w,
                lda: g.columnRows, x + n * xShape[1] * g.columnCols, ldb: g.columnCols, col, ldc: g.columnCols)
            g.col2im(col, y + n * image)
        }
    }

    /// `dw [O, C, kh, kw] = Σ_n dy_n [O, oh·ow] · im2col(x_n)ᵀ`.
    static func filterGrad(
        _ x: UnsafePointer<Float>, _ xShape: [Int], _ dy: UnsafePointer<Float>, _ dyShape: [Int], stride: Int,
        padding: Padding, kernelH: Int, kernelW: Int, _ dw: UnsafeMutablePointer<Float>,
        scratch col: UnsafeMutablePointer<Float>
    ) {
        let g = ConvGeometry(
            channels: xShape[1], height: xShape[2], width: xShape[3], kernelH: kernelH, kernelW: kernelW,
            stride: stride, padding: padding)
        let out = dyShape[1]
        dw.update(repeating: 0, count: out * g.columnRows)
        for n in 0..<xShape[0] {
            g.im2col(x + n * g.channels * g.height * g.width, col)
            GEMM.sgemm(
                transposeA: false, transposeB: true, m: out, n: g.columnRows, k: g.columnCols,
                dy + n * out * g.columnCols, lda: g.columnCols, col, ldb: g.columnCols, beta: 1, dw, ldc: g.columnRows)
        }
    }
}
