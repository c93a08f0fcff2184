/// The graph under construction while a `Model { … }` body runs.
///
/// DSL calls find it through a task-local, so model code reads like ordinary Swift. It records
/// each node with its scope and source location, runs the node's shape rule at once, and keeps
/// every shape error. A node whose rule failed is "poisoned": later calls on it make no node and
/// report nothing more, so one mistake gives one error, as in a compiler.
public final class GraphBuilder: @unchecked Sendable {
    @TaskLocal static var current: GraphBuilder?

    private(set) var graph: Graph
    private(set) var errors: [ShapeError] = []
    private(set) var scope: [String] = []
    /// Layer name prefixes (`dense_1`): part of node names but not DOT clusters.
    private var layerPath: [String] = []
    /// The DSL call of the layer being built; its primitives report errors under it.
    private var layerCall: String?
    private var nameCounts: [String: Int] = [:]
    private var nextStream = 0
    /// While set (inside `Located`), the location of every node and error made.
    private var callerLocation: SourceLocation?

    /// For a DSL call outside any `Model` body: the call that made this builder.
    let detachedCall: String?

    init(name: String, detachedCall: String? = nil) {
        graph = Graph(name: name)
        self.detachedCall = detachedCall
    }

    /// The builder of the model being built. A DSL call outside any `Model` body (no crash: a
    /// library cannot tell a script's top level from a helper) gets a builder of its own; a
    /// tensor made there is refused, naming that call, by the model that uses it.
    static func active(_ call: String) -> GraphBuilder {
        current ?? GraphBuilder(name: "", detachedCall: call)
    }

    /// Why a tensor made by `origin` cannot be used in this model.
    func foreignProblem(_ origin: GraphBuilder) -> ShapeProblem {
        if let call = origin.detachedCall {
            return ShapeProblem(
                "a tensor made by \(call) outside any Model body was used in model \"\(graph.name)\"",
                hint: "call it inside the Model(\"…\") { … } body")
        }
        return ShapeProblem(
            "a tensor of model \"\(origin.graph.name)\" was used in model \"\(graph.name)\"",
            hint: "make it in this model's body, or share parameters by name")
    }

    /// Runs `body` with `name` pushed onto the scope path.
    func withScope<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        scope.append(name)
        defer { scope.removeLast() }
        return try body()
    }

    /// Runs `body` as the inside of one layer call: its nodes are named `layer/…` and its
    /// shape errors are reported as errors of `call` (`dense(128)`), not of a primitive.
    func withLayer<T>(_ base: String, call: String, explicit: Bool = false, _ body: () throws -> T) rethrows -> T {
        let name = explicit ? base : String(uniqueName(base).split(separator: "/").last!)
        layerPath.append(name)
        let outerCall = layerCall
        layerCall = outerCall ?? call
        defer {
            layerPath.removeLast()
            layerCall = outerCall
        }
        return try body()
    }

    /// Runs `body` with `location` on everything it makes, unless an outer call set one.
    func located<T>(_ location: SourceLocation, _ body: () throws -> T) rethrows -> T {
        guard callerLocation == nil else { return try body() }
        callerLocation = location
        defer { callerLocation = nil }
        return try body()
    }

    /// A unique name under the current scope: `base`, then `base_1`, `base_2`, …
    func uniqueName(_ base: String) -> String {
        let full = (scope + layerPath + [base]).joined(separator: "/")
        let count = nameCounts[full, default: 0]
        nameCounts[full] = count + 1
        return count == 0 ? full : "\(full)_\(count)"
    }

    /// Layer names given explicitly (`dense(…, name:)`), by their full path.
    private var explicitLayers: Set<String> = []

    /// Records an explicit layer name under the current scope; false when it was taken.
    func claimLayerName(_ name: String) -> Bool {
        explicitLayers.insert((scope + layerPath + [name]).joined(separator: "/")).inserted
    }

    /// A fresh random stream id: two random nodes never share one.
    func newStream() -> Int {
        defer { nextStream += 1 }
        return nextStream
    }

    /// Records an error at the DSL call and returns a poisoned tensor.
    func fail(_ call: String, _ problem: ShapeProblem, at location: SourceLocation) -> Tensor {
        let location = callerLocation ?? location
        errors.append(ShapeError(call: layerCall ?? call, problem: problem, location: location))
        return Tensor(builder: self, id: nil)
    }

    /// Adds a leaf (input or parameter) whose type is declared.
    func leaf(_ op: Op, type: TensorType, name: String, call: String, at location: SourceLocation) -> Tensor {
        let location = callerLocation ?? location
        let unique = uniqueName(name)
        var op = op
        if case .parameter(_, let initializer) = op { op = .parameter(name: unique, initializer: initializer) }
        let id = graph.append(
            op, inputs: [], type: type, name: unique, scope: scope, call: layerCall ?? call, location: location)
        return Tensor(builder: self, id: id)
    }

    /// Adds a primitive applied to `operands`, checking its shape rule now.
    func apply(
        _ op: Op, _ operands: [Tensor], call: String? = nil, name: String? = nil, at location: SourceLocation
    ) -> Tensor {
        let location = callerLocation ?? location
        var ids: [NodeID] = []
        for operand in operands {
            guard operand.origin === self else {
                return fail(layerCall ?? call ?? op.name, foreignProblem(operand.origin), at: location)
            }
            guard let id = operand.id else { return Tensor(builder: self, id: nil) }
            ids.append(id)
        }
        let type: TensorType
        do {
            type = try op.inferType(ids.map { graph[$0].type })
        } catch {
            return fail(layerCall ?? call ?? op.name, error, at: location)
        }
        let id = graph.append(
            op, inputs: ids, type: type, name: uniqueName(name ?? op.name), scope: scope,
            call: layerCall ?? call ?? op.name, location: location)
        return Tensor(builder: self, id: id)
    }

    /// Marks a named output of the graph.
    func addOutput(_ name: String, _ tensor: Tensor) {
        if let id = tensor.id { graph.outputs.append(.init(name: name, node: id)) }
    }

    /// Marks a scalar loss term.
    func addLoss(_ name: String, _ tensor: Tensor) {
        if let id = tensor.id { graph.losses.append(.init(name: name, node: id)) }
    }

    func record(_ error: ShapeError) { errors.append(error) }
}
