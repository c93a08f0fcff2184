import Graph
import Testing

/// Every primitive's shape rule: a passing case and a failing case with the exact message,
/// reported at the line of this file that made the bad call.
@Suite struct ShapeRuleTests {
    @Test func leaves() throws {
        #expect(try outputType { Output("y", Input("x", [.batch, 2], dtype: .int32)) } == TensorType([.batch, 2], .int32))
        #expect(try outputType { Output("y", Parameter("w", [3, 4], initializer: .zeros)) } == TensorType([3, 4]))
        #expect(try outputType { Output("y", constant(2)) } == TensorType(.scalar))
        expectError(line: #line + 1, call: "Input(\"x\")", "shape [batch, batch] needs positive sizes and at most one batch dimension") {
            Output("y", Input("x", [.batch, .batch]))
        }
        expectError(line: #line + 2, call: "Input(\"x\")", "an input named \"x\" already exists — give each input its own name, or pass the tensor along") {
            let x = Input("x", [.batch, 2])
            Output("y", x + Input("x", [.batch, 2]))
        }
        expectError(line: #line + 1, call: "Parameter(\"w\")", "zeros: a parameter cannot have the batch dimension") {
            Output("y", Parameter("w", [.batch, 4], initializer: .zeros))
        }
        // Rank above the kernels' limit (8): declared, and made by an op (it was a crash in the
        // runtime's inline stride arrays).
        expectError(line: #line + 1, call: "Input(\"x\")", "shape [batch, 1, 1, 1, 1, 1, 1, 1, 2] has rank 9, above Gauge's limit of 8 — merge dimensions with reshape") {
            Output("y", Input("x", [.batch, 1, 1, 1, 1, 1, 1, 1, 2]))
        }
        expectError(line: #line + 1, call: "Parameter(\"w\")", "shape [1, 1, 1, 1, 1, 1, 1, 1, 2] has rank 9, above Gauge's limit of 8 — merge dimensions with reshape") {
            Output("y", Parameter("w", [1, 1, 1, 1, 1, 1, 1, 1, 2], initializer: .zeros))
        }
        expectError(line: #line + 2, call: "oneHot", "shape [batch, 1, 1, 1, 1, 1, 1, 1, 3] has rank 9, above Gauge's limit of 8 — merge dimensions with reshape") {
            let labels = Input("y", [.batch, 1, 1, 1, 1, 1, 1, 1], dtype: .int32)
            Output("y", labels.oneHot(3))
        }
        expectError(line: #line + 1, call: "Parameter(\"b\")", "identity affine: needs the last dimension 6 or the last two [2, 3], got [4]") {
            Output("y", Parameter("b", [4], initializer: .identityAffine))
        }
    }

    @Test func matmul() throws {
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).matmul(Input("b", [3, 5]))) } == TensorType([.batch, 5]))
        #expect(try outputType {
            Output("y", Input("a", [.batch, 3]).matmul(Input("b", [.batch, 5]), transposeSelf: true))
        } == TensorType([3, 5]))
        #expect(try outputType {
            Output("y", Input("a", [2, 3]).matmul(Input("b", [5, 3]), transposeOther: true))
        } == TensorType([2, 5]))
        expectError(line: #line + 1, call: "matmul", "inner dimensions differ: [batch, 3] · [4, 5] (3 ≠ 4)") {
            Output("y", Input("a", [.batch, 3]).matmul(Input("b", [4, 5])))
        }
        expectError(line: #line + 1, call: "matmul", "operands have shapes [batch, 3, 4] and [4, 5]; expected rank 2 each — flatten first") {
            Output("y", Input("a", [.batch, 3, 4]).matmul(Input("b", [4, 5])))
        }
    }

    @Test func groupedMatmul() throws {
        #expect(try outputType {
            Output("y", Input("x", [.batch, 4]).groupedMatmul(Input("w", [10, 4, 7]), labels: Input("c", [.batch], dtype: .int32)))
        } == TensorType([.batch, 7]))
        expectError(line: #line + 2, call: "groupedMatmul", "input has 5 features [batch, 5]; weights [10, 4, 7] expect 4") {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 5]).groupedMatmul(Input("w", [10, 4, 7]), labels: c))
        }
        expectError(line: #line + 1, call: "groupedMatmul", "indices are [batch] float32; expected a rank-1 int32 vector") {
            Output("y", Input("x", [.batch, 4]).groupedMatmul(Input("w", [10, 4, 7]), labels: Input("c", [.batch])))
        }
    }

    @Test func elementwise() throws {
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).tanh()) } == TensorType([.batch, 3]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).combine(.pow, Input("b", [3]))) } == TensorType([.batch, 3]))
        #expect(try outputType { Output("y", Input("a", [.batch, 1, 4]).combine(.max, Input("b", [5, 1]))) } == TensorType([.batch, 5, 4]))
        for f in UnaryFunction.allCases {
            #expect(try outputType { Output("y", Input("a", [2, 3]).map(f)) } == TensorType([2, 3]))
        }
        expectError(line: #line + 1, call: "add", "shapes [batch, 3] and [4] cannot be broadcast: 3 vs 4 at axis 1 from the left — reshape one side so the dimensions match or are 1") {
            Output("y", Input("a", [.batch, 3]).combine(.add, Input("b", [4])))
        }
        expectError(line: #line + 1, call: "exp", "operand has type int32; expected float32") {
            Output("y", Input("a", [.batch], dtype: .int32).exp())
        }
    }

    @Test func operatorsTakeTheLineOfTheirLatestOperand() {
        let errors = buildErrors {
            let a = Input("a", [.batch, 3])
            let b = Input("b", [.batch, 4])  // the later operand: its line is reported
            Output("y", a + b)
        }
        #expect(errors.count == 1)
        #expect(errors.first?.location.line == #line - 4)
        #expect(errors.first?.call == "add")
    }

    @Test func compareAndSelect() throws {
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).compare(.less, 0.5)) } == TensorType([.batch, 3]))
        #expect(try outputType {
            let a = Input("a", [.batch, 3])
            Output("y", select(a.compare(.greater, 0), a, constant(0)))
        } == TensorType([.batch, 3]))
        expectError(line: #line + 1, call: "less", "operands have types float32 and int32") {
            Output("y", Input("a", [3]).compare(.less, Input("b", [3], dtype: .int32)))
        }
        expectError(line: #line + 2, call: "select", "shapes [3], [4] and [] cannot be broadcast: 3 vs 4 at axis 0 from the left — reshape one side so the dimensions match or are 1") {
            let a = Input("a", [4])
            Output("y", select(Input("m", [3]), a, constant(0)))
        }
    }

    @Test func reductions() throws {
        #expect(try outputType { Output("y", Input("a", [.batch, 3, 4]).sum(axes: [1])) } == TensorType([.batch, 4]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3, 4]).mean(axes: [-1], keepDims: true)) } == TensorType([.batch, 3, 1]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).max()) } == TensorType(.scalar))
        expectError(line: #line + 1, call: "sum", "axes [2] are out of range for [batch, 3]") {
            Output("y", Input("a", [.batch, 3]).sum(axes: [2]))
        }
        expectError(line: #line + 1, call: "max", "axes [1, 1] are not distinct axes of [batch, 3]") {
            Output("y", Input("a", [.batch, 3]).max(axes: [1, -1]))
        }
    }

    @Test func layoutOps() throws {
        #expect(try outputType { Output("y", Input("a", [.batch, 3, 4]).reshaped([.batch, 12])) } == TensorType([.batch, 12]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3, 4]).transposed([2, 0, 1])) } == TensorType([4, .batch, 3]))
        #expect(try outputType { Output("y", Input("a", [3, 1]).broadcast(to: [.batch, 3, 5])) } == TensorType([.batch, 3, 5]))
        #expect(try outputType { Output("y", Input("a", [.batch, 6]).sliced(axis: 1, 2..<5)) } == TensorType([.batch, 3]))
        #expect(try outputType { Output("y", concat([Input("a", [.batch, 2]), Input("b", [.batch, 3])], axis: 1)) } == TensorType([.batch, 5]))
        expectError(line: #line + 1, call: "reshaped([batch, 10])", "cannot reshape [batch, 3, 4] (12 elements per batch item) to [batch, 10] (10 per batch item)") {
            Output("y", Input("a", [.batch, 3, 4]).reshaped([.batch, 10]))
        }
        expectError(line: #line + 1, call: "transpose", "[0, 0] is not a permutation of the axes of [batch, 3]") {
            Output("y", Input("a", [.batch, 3]).transposed([0, 0]))
        }
        expectError(line: #line + 1, call: "broadcast", "cannot broadcast [3, 2] to [3, 5]") {
            Output("y", Input("a", [3, 2]).broadcast(to: [3, 5]))
        }
        expectError(line: #line + 1, call: "slice", "range 4..<7 is outside axis 1 of [batch, 6] (size 6)") {
            Output("y", Input("a", [.batch, 6]).sliced(axis: 1, 4..<7))
        }
        expectError(line: #line + 1, call: "slice", "cannot slice the batch axis of [batch, 6] — use gatherRows") {
            Output("y", Input("a", [.batch, 6]).sliced(axis: 0, 0..<2))
        }
        expectError(line: #line + 1, call: "concat", "shapes [batch, 2], [4, 3] differ outside axis 1") {
            Output("y", concat([Input("a", [.batch, 2]), Input("b", [4, 3])], axis: 1))
        }
    }

    @Test func indexing() throws {
        #expect(try outputType { Output("y", Input("t", [10, 5]).gatherRows(Input("i", [.batch], dtype: .int32))) } == TensorType([.batch, 5]))
        #expect(try outputType {
            Output("y", Input("v", [.batch, 5]).scatterAddRows(Input("i", [.batch], dtype: .int32), rows: 10))
        } == TensorType([10, 5]))
        #expect(try outputType { Output("y", Input("i", [.batch], dtype: .int32).oneHot(10)) } == TensorType([.batch, 10]))
        #expect(try outputType { Output("y", Input("a", [.batch, 10]).logSoftmax()) } == TensorType([.batch, 10]))
        expectError(line: #line + 1, call: "gatherRows", "indices are [batch, 2] int32; expected a rank-1 int32 vector") {
            Output("y", Input("t", [10, 5]).gatherRows(Input("i", [.batch, 2], dtype: .int32)))
        }
        expectError(line: #line + 1, call: "scatterAddRows", "values [4, 5] and indices [batch] differ in rows") {
            Output("y", Input("v", [4, 5]).scatterAddRows(Input("i", [.batch], dtype: .int32), rows: 10))
        }
        expectError(line: #line + 1, call: "oneHot", "indices have type float32; expected int32") {
            Output("y", Input("i", [.batch]).oneHot(10))
        }
        expectError(line: #line + 1, call: "logSoftmax", "axis 2 is out of range for [batch, 10]") {
            Output("y", Input("a", [.batch, 10]).logSoftmax(axis: 2))
        }
    }

    @Test func convolutionAndPooling() throws {
        #expect(try outputType { Output("y", Input("x", [.batch, 3, 32, 32]).conv2d(8, kernel: 3)) } == TensorType([.batch, 8, 32, 32]))
        #expect(try outputType {
            Output("y", Input("x", [.batch, 3, 32, 32]).conv2d(8, kernel: 5, stride: 2, padding: .valid))
        } == TensorType([.batch, 8, 14, 14]))
        #expect(try outputType { Output("y", Input("x", [.batch, 3, 7, 9]).conv2d(4, kernel: 3, stride: 2)) } == TensorType([.batch, 4, 4, 5]))
        #expect(try outputType { Output("y", Input("x", [.batch, 64, 8, 8]).transposedConv2d(32, kernel: 5, stride: 2)) } == TensorType([.batch, 32, 16, 16]))
        #expect(try outputType {
            Output("y", Input("x", [.batch, 4, 6, 6]).transposedConv2d(2, kernel: 3, stride: 2, padding: .valid))
        } == TensorType([.batch, 2, 13, 13]))
        #expect(try outputType { Output("y", Input("x", [.batch, 3, 7, 7]).maxPool(2)) } == TensorType([.batch, 3, 3, 3]))
        expectError(line: #line + 1, call: "dense(128)", "input has shape [batch, 3, 32, 32]; expected rank 2 — flatten first") {
            Output("y", Input("x", [.batch, 3, 32, 32]).dense(128))
        }
        expectError(line: #line + 1, call: "conv2d(8, kernel: 3)", "input has shape [batch, 784]; expected rank 4 [batch, channels, height, width] — reshape to NCHW first") {
            Output("y", Input("x", [.batch, 784]).conv2d(8, kernel: 3))
        }
        expectError(line: #line + 1, call: "conv2d(8, kernel: 5)", "input [batch, 3, 4, 4] is smaller than the 5×5 filter with valid padding — use padding: .same or a smaller kernel") {
            Output("y", Input("x", [.batch, 3, 4, 4]).conv2d(8, kernel: 5, padding: .valid))
        }
        expectError(line: #line + 2, call: "conv2d", "input [batch, 3, 8, 8] has 3 channels; filter [4, 1, 3, 3] expects 1") {
            let f = Parameter("f", [4, 1, 3, 3], initializer: .convUniform)
            Output("y", Input("x", [.batch, 3, 8, 8]).convolved(with: f))
        }
        expectError(line: #line + 1, call: "transposedConv2d(2, kernel: 3)", "output 9×9 does not map back to the input's 4×4 under conv2d(stride 2, same) (it gives 5×5) — with padding .same the output is about input × stride") {
            Output("y", Input("x", [.batch, 4, 4, 4]).transposedConv2d(2, kernel: 3, stride: 2, outputSize: (9, 9)))
        }
        expectError(line: #line + 1, call: "maxPool(4)", "input [batch, 3, 3, 3] is smaller than the 4×4 window") {
            Output("y", Input("x", [.batch, 3, 3, 3]).maxPool(4))
        }
    }

    @Test func perClassConvolutions() throws {
        #expect(try outputType {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 64, 8, 8]).transposedConv2dByClass(32, kernel: 5, stride: 2, classes: 10, labels: c))
        } == TensorType([.batch, 32, 16, 16]))
        #expect(try outputType {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 3, 9, 9]).convolved(with: Input("f", [10, 4, 3, 3, 3]), stride: 2, labels: c))
        } == TensorType([.batch, 4, 5, 5]))
        expectError(line: #line + 2, call: "conv2d", "filter has shape [4, 3, 3, 3]; a per-class convolution needs one rank-4 filter per class, [4, …] (rank 5)") {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 3, 8, 8]).convolved(with: Input("f", [4, 3, 3, 3]), labels: c))
        }
        expectError(line: #line + 1, call: "transposedConv2d", "indices are [batch] float32; expected a rank-1 int32 vector") {
            Output("y", Input("x", [.batch, 4, 4, 4]).transposedConvolved(with: Input("f", [2, 4, 3, 3, 3]), height: 4, width: 4, labels: Input("c", [.batch])))
        }
        expectError(line: #line + 2, call: "conv2d", "labels [7] and input [batch, 3, 8, 8] differ in batch") {
            let c = Input("c", [7], dtype: .int32)
            Output("y", Input("x", [.batch, 3, 8, 8]).convolved(with: Input("f", [2, 4, 3, 3, 3]), labels: c))
        }
        expectError(line: #line + 2, call: "conv2dByClass(8, kernel: 3, classes: 0)", "classes 0 must be positive") {
            let c = Input("c", [.batch], dtype: .int32)
            Output("y", Input("x", [.batch, 3, 8, 8]).conv2dByClass(8, kernel: 3, classes: 0, labels: c))
        }
    }

    @Test func spatialTransformer() throws {
        #expect(try outputType {
            let x = Input("x", [.batch, 3, 32, 32])
            Output("y", x.warped(by: Input("theta", [.batch, 6]), height: 16, width: 24))
        } == TensorType([.batch, 3, 16, 24]))
        #expect(try outputType { Output("y", invertedAffine(Input("theta", [.batch, 6]))) } == TensorType([.batch, 6]))
        expectError(line: #line + 1, call: "affineGrid", "theta has shape [batch, 6]; expected [batch, 2, 3] — reshape the six affine parameters to [batch, 2, 3]") {
            Output("y", affineGrid(Input("theta", [.batch, 6]), height: 4, width: 4))
        }
        expectError(line: #line + 1, call: "bilinearSample", "grid has shape [batch, 4, 4, 3]; expected [batch, height, width, 2]") {
            Output("y", Input("x", [.batch, 1, 8, 8]).sampled(at: Input("g", [.batch, 4, 4, 3])))
        }
        expectError(line: #line + 2, call: "warped(by:)", "theta has shape [batch, 2, 2]; expected [batch, 2, 3] — reshape the six affine parameters to [batch, 2, 3]") {
            let x = Input("x", [.batch, 3, 32, 32])
            Output("y", x.warped(by: Input("theta", [.batch, 2, 2])))
        }
        expectError(line: #line + 2, call: "warped(by:)", "image [batch, 3, 8, 8] and grid [4, 8, 8, 2] differ in batch") {
            let x = Input("x", [.batch, 3, 8, 8])
            Output("y", x.warped(by: Input("theta", [4, 2, 3])))
        }
    }

    @Test func randomDropoutStopGradient() throws {
        #expect(try outputType { Output("y", random(.laplace, [.batch, 2])) } == TensorType([.batch, 2]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).dropout(0.5)) } == TensorType([.batch, 3]))
        #expect(try outputType { Output("y", Input("a", [.batch, 3]).stopGradient()) } == TensorType([.batch, 3]))
        expectError(line: #line + 1, call: "randomNormal", "shape [0, 2] needs positive sizes and at most one batch dimension") {
            Output("y", random(.normal, [0, 2]))
        }
        expectError(line: #line + 1, call: "dropout", "rate 1.0 is outside [0, 1) — pass the probability of dropping") {
            Output("y", Input("a", [.batch, 3]).dropout(1))
        }
        expectError(line: #line + 1, call: "stopGradient", "operand has type int32; expected float32") {
            Output("y", Input("a", [.batch], dtype: .int32).stopGradient())
        }
    }

    @Test func lossMustBeScalar() {
        expectError(line: #line + 1, call: "Loss", "loss has shape [batch, 3]; expected a scalar — reduce it with .sum() or .mean()") {
            Loss(Input("a", [.batch, 3]).square())
        }
    }
}

