import Graph
import Testing

/// The result builders: loops, conditionals, scopes and layer stacks make the expected nodes.
@Suite struct BuilderTests {
    func ops(_ graph: Graph) -> [String] { graph.nodes.map(\.op.name) }

    @Test func forLoopMakesOneBranchPerIteration() throws {
        let model = try Model("loop") {
            let x = Input("x", [.batch, 4])
            for c in 0..<3 {
                Output("y\(c)", Scope("decoder\(c)") { x.dense(2) })
            }
        }
        #expect(model.graph.outputs.map(\.name) == ["y0", "y1", "y2"])
        #expect(model.graph.parameters.map(\.name) == [
            "decoder0/dense/weight", "decoder0/dense/bias", "decoder1/dense/weight", "decoder1/dense/bias",
            "decoder2/dense/weight", "decoder2/dense/bias",
        ])
        #expect(model.graph.parameterCount == 3 * (4 * 2 + 2))
        #expect(model.graph.nodes.filter { $0.op.name == "matmul" }.map(\.scope) == [["decoder0"], ["decoder1"], ["decoder2"]])
    }

    @Test func ifAndIfElseChooseStatements() throws {
        for (useTanh, addExtra) in [(true, false), (false, true)] {
            let model = try Model("branches") {
                let x = Input("x", [.batch, 4])
                if useTanh {
                    Output("y", x.tanh())
                } else {
                    Output("y", x.sigmoid())
                }
                if addExtra {
                    Output("extra", x.relu())
                }
            }
            #expect(ops(model.graph) == (useTanh ? ["input", "tanh"] : ["input", "sigmoid", "relu"]))
            #expect(model.graph.outputs.map(\.name) == (addExtra ? ["y", "extra"] : ["y"]))
        }
    }

    @Test func nestedScopesNameNodesAndReturnValues() throws {
        let model = try Model("scopes") {
            let x = Input("x", [.batch, 4])
            let h = Scope("ace") { Scope("ssn") { x.dense(6) } }
            Output("y", h)
        }
        let matmul = try #require(model.graph.nodes.first { $0.op.name == "matmul" })
        #expect(matmul.scope == ["ace", "ssn"])
        #expect(matmul.name == "ace/ssn/dense/matmul")
        #expect(matmul.call == "dense(6)")
        #expect(model.graph.parameters.map(\.name) == ["ace/ssn/dense/weight", "ace/ssn/dense/bias"])
    }

    @Test func repeatedLayersGetNumberedNames() throws {
        let model = try Model("names") {
            let x = Input("x", [.batch, 4])
            Output("y", x.dense(3).dense(2))
        }
        #expect(model.graph.parameters.map(\.name) == ["dense/weight", "dense/bias", "dense_1/weight", "dense_1/bias"])
    }

    @Test func sequentialStackWithLoopAndConditional() throws {
        let deep = true
        let model = try Model("stack") {
            let x = Input("x", [.batch, 1, 28, 28])
            let y = x.apply(
                Sequential("features") {
                    Conv2D(32, kernel: 3)
                    ReLU()
                    MaxPool(2)
                    for _ in 0..<2 {
                        Conv2D(8, kernel: 3, activation: .relu)
                    }
                    if deep {
                        MaxPool(2)
                    }
                    Flatten()
                    Dense(10)
                })
            Output("y", y)
        }
        #expect(ops(model.graph) == [
            "input", "parameter", "conv2d", "parameter", "add", "relu", "maxPool",
            "parameter", "conv2d", "parameter", "add", "relu",
            "parameter", "conv2d", "parameter", "add", "relu",
            "maxPool", "reshape", "parameter", "matmul", "parameter", "add",
        ])
        let output = try #require(model.graph.outputs.first)
        #expect(model.graph[output.node].shape == [.batch, 10])
        #expect(model.graph.nodes.dropFirst().allSatisfy { $0.scope == ["features"] })
        // A layer value's nodes carry the line where the layer was written.
        let relu = try #require(model.graph.nodes.first { $0.op.name == "relu" })
        #expect(relu.location.fileID == "GraphTests/BuilderTests.swift")
        #expect(relu.location.line == #line - 25)
    }

    @Test func everyNodeRecordsTheUsersLine() throws {
        let line = #line + 3
        let model = try Model("locations") {
            let x = Input("x", [.batch, 4])
            Output("y", x.dense(2, activation: .tanh))
        }
        let made = model.graph.nodes.filter { !$0.isInput }
        #expect(made.count == 5)
        #expect(made.allSatisfy { $0.location.fileID == "GraphTests/BuilderTests.swift" && $0.location.line == line })
    }

    @Test func oneMistakeGivesOneErrorAndLaterMistakesStillReport() {
        let errors = buildErrors {
            let x = Input("x", [.batch, 3, 32, 32])
            let h = x.dense(128)  // rank error
            let g = h.tanh().dense(10)  // poisoned: no second error
            Output("y", g)
            Output("z", x.flattened().matmul(Input("w", [5, 5])))  // independent error
        }
        #expect(errors.map(\.call) == ["dense(128)", "matmul"])
        #expect(errors.map(\.location.line) == [#line - 6, #line - 3])
    }

    @Test func diagnosticShowsTheSourceLineAndACaretUnderTheCall() throws {
        let errors = buildErrors {
            let x = Input("x", [.batch, 3, 32, 32])
            Output("y", x.dense(128))
        }
        let error = try #require(errors.first)
        let lines = error.diagnostic.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 3)
        #expect(lines[1] == "            Output(\"y\", x.dense(128))")
        #expect(lines[2] == "                          ^")
        #expect(lines[0] == "GraphTests/BuilderTests.swift:\(#line - 7):27: error: dense(128): input has shape [batch, 3, 32, 32]; expected rank 2 — flatten first")
    }

    /// A helper that forwards its caller's location with `Located`: its nodes (operators too)
    /// and its shape errors are at the line that called it, with the caret under the call.
    func helper(
        _ x: Tensor, units: Int, file: StaticString = #fileID, filePath: StaticString = #filePath, line: UInt = #line,
        column: UInt = #column
    ) -> Tensor {
        Located(file, filePath, line, column) { x.dense(units) * 2 + x.flattened().dense(units) }
    }

    @Test func aHelperForwardsItsCallersLine() throws {
        let line = #line + 3
        let model = try Model("helper") {
            let x = Input("x", [.batch, 4])
            let y = helper(x, units: 3)
            Output("y", y)
        }
        let made = model.graph.nodes.filter { !$0.isInput }
        #expect(made.count == 12)  // dense: 4, "* 2": 2, flattened: 1, dense: 4, "+": 1
        #expect(made.allSatisfy { $0.location.fileID == "GraphTests/BuilderTests.swift" && $0.location.line == line })
        let errors = buildErrors {
            let image = Input("image", [.batch, 1, 4, 4])
            Output("y", helper(image, units: 3))
        }
        #expect(errors.count == 1)
        let lines = try #require(errors.first).diagnostic.split(separator: "\n").map(String.init)
        #expect(lines[0] == "GraphTests/BuilderTests.swift:\(#line - 4):25: error: dense(3): input has shape [batch, 1, 4, 4]; expected rank 2 — flatten first")
        #expect(lines[2] == "                        ^")
    }

    /// An explicit layer name replaces the automatic one, so two models share parameters by
    /// name whatever their layer order; a name used twice in one model is an error.
    @Test func layersTakeExplicitNames() throws {
        let training = try Model("training") {
            let x = Input("x", [.batch, 4])
            Output("y", Scope("decoder") { x.dense(5).dense(3, name: "head").dense(2) })
        }
        #expect(training.graph.parameters.map(\.name) == [
            "decoder/dense/weight", "decoder/dense/bias", "decoder/head/weight", "decoder/head/bias",
            "decoder/dense_1/weight", "decoder/dense_1/bias",
        ])
        let sampler = try Model("sampler") {
            Output("y", Scope("decoder") { Input("h", [.batch, 5]).dense(3, name: "head") })
        }
        #expect(sampler.graph.parameters.map(\.name) == ["decoder/head/weight", "decoder/head/bias"])
        let line = #line + 3
        let errors = buildErrors {
            let x = Input("x", [.batch, 4])
            Output("y", x.dense(3, name: "head").dense(3, name: "head"))
        }
        #expect(errors.map(\.description) == [
            "GraphTests/BuilderTests.swift:\(line):55: error: dense(3): the layer name \"head\" is used twice — give each layer its own name"
        ])
    }

    /// A tensor kept from one model's body and used in another's is a shape error at the use
    /// (it was a precondition failure).
    final class Kept: @unchecked Sendable { var tensor: Tensor? }

    /// A DSL call outside any Model body makes no crash (it was a fatalError): the tensor is
    /// refused, naming the call, where a model uses it.
    @Test func aTensorMadeOutsideAnyModelIsAnError() throws {
        let outside = Input("x", [.batch, 4])
        let noise = random(.normal, [2])
        let line = #line + 2
        let errors = buildErrors {
            Output("y", outside.dense(2))
            Loss(noise.sum())
        }
        #expect(errors.map(\.description) == [
            "GraphTests/BuilderTests.swift:\(line):38: error: dense(2): a tensor made by Input(\"x\") outside any Model body was used in model \"test\" — call it inside the Model(\"…\") { … } body",
            "GraphTests/BuilderTests.swift:\(line + 1):27: error: sum: a tensor made by random outside any Model body was used in model \"test\" — call it inside the Model(\"…\") { … } body",
        ])
    }

    @Test func aTensorOfAnotherModelIsAnError() throws {
        let box = Kept()
        _ = try Model("first") {
            let x = Input("x", [.batch, 4])
            Output("y", { box.tensor = x; return x.tanh() }())
        }
        let kept = box.tensor
        let line = #line + 3
        let errors = buildErrors {
            let z = Input("z", [.batch, 4])
            Output("y", z + kept!)
            Output("w", kept!)
        }
        #expect(errors.map(\.description) == [
            "GraphTests/BuilderTests.swift:\(line - 1):26: error: add: a tensor of model \"first\" was used in model \"test\" — make it in this model's body, or share parameters by name",
            "GraphTests/BuilderTests.swift:\(line + 1):19: error: Output(\"w\"): a tensor of model \"first\" was used in model \"test\" — make it in this model's body, or share parameters by name",
        ])
    }

    @Test func duplicateOutputNamesAreAnError() {
        let errors = buildErrors {
            let x = Input("x", [.batch, 3])
            Output("y", x)
            Output("y", x.tanh())
        }
        #expect(errors.map(\.description) == [
            "GraphTests/BuilderTests.swift:\(#line - 2):19: error: Output(\"y\"): the name \"y\" is used twice"
        ])
    }

    @Test func randomNodesGetDistinctStreams() throws {
        let model = try Model("random") {
            let a = random(.normal, [.batch, 2])
            let b = random(.normal, [.batch, 2])
            Output("y", a + b)
        }
        let streams = model.graph.nodes.compactMap { node -> Int? in
            if case .random(_, _, let stream) = node.op { return stream }
            return nil
        }
        #expect(streams.count == 2)
        #expect(Set(streams).count == 2)
    }
}
