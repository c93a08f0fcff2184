import Graph
import Testing

/// The type of the output named "y" of a model body that must build.
func outputType(@ModelBuilder _ body: () -> [ModelStatement]) throws -> TensorType {
    let model = try Model("test", body)
    let output = try #require(model.graph.outputs.first { $0.name == "y" })
    return model.graph[output.node].type
}

/// The errors of a model body that must not build.
func buildErrors(@ModelBuilder _ body: () -> [ModelStatement]) -> [ShapeError] {
    do {
        _ = try Model("test", body)
        return []
    } catch {
        return error.errors
    }
}

/// Checks that a body fails with exactly one error, at `line` of this test file, with this text.
func expectError(
    line: Int, call: String, _ message: String, sourceLocation: Testing.SourceLocation = #_sourceLocation,
    @ModelBuilder _ body: () -> [ModelStatement]
) {
    let errors = buildErrors(body)
    #expect(errors.count == 1, "expected one error, got \(errors)", sourceLocation: sourceLocation)
    guard let error = errors.first else { return }
    #expect(error.location.fileID == "GraphTests/ShapeRuleTests.swift", sourceLocation: sourceLocation)
    #expect(error.location.line == line, sourceLocation: sourceLocation)
    #expect(error.call == call, sourceLocation: sourceLocation)
    #expect(error.problem.description == message, sourceLocation: sourceLocation)
    #expect(
        error.description
            == "GraphTests/ShapeRuleTests.swift:\(line):\(error.location.column): error: \(call): \(message)",
        sourceLocation: sourceLocation)
}
