import Graph

extension Optimizer {
    /// A training step graph: the gradients' graph with the optimizer's update appended, and the
    /// scalars the host feeds it each step.
    public struct Appended: Sendable {
        public var graph: Graph
        public var fedScalars: [FedScalar]
    }

    /// Appends the update of every (parameter, gradient) pair, each parameter with its group's
    /// rate factor and weight decay; with `clipGradientNorm`, the gradients are scaled by the
    /// global-norm factor first.
    ///
    /// Adam:  m' = m·β1 + g·(1−β1), v' = v·β2 + g²·(1−β2), p' = p − (m'/(√v' + ε))·s[·f] − p·d
    /// SGD:   b' = b·μ + g, p' = p − b'·s[·f] − p·d (Nesterov: (g + b'·μ) for b'; μ = 0: g)
    ///
    /// with s the fed step size, f the group's rate factor and d the fed decay. (Adam's form is
    /// the one `AdamProgram` recognises and runs as one loop.)
    public func append(to result: Autodiff.Result) throws(CompilerError) -> Appended {
        var editor = GraphEditor(result.graph)
        let scope = scopeName
        editor.scope = [scope]
        editor.call = scope
        var fed: [FedScalar] = []
        let stepSize = editor.addLeaf(.input(name: "\(scope)/step_size"), type: TensorType(.scalar), name: "step_size")
        fed.append(FedScalar(name: "\(scope)/step_size", kind: .stepSize))
        // One fed decay per distinct weight decay among the groups, made before the updates.
        var decayInputs: [Float: NodeID] = [:]
        for (parameter, _) in result.gradients {
            let weightDecay = weightDecay(of: result.graph[parameter].name)
            guard weightDecay != 0, decayInputs[weightDecay] == nil else { continue }
            let name = decayInputs.isEmpty ? "decay" : "decay_\(decayInputs.count + 1)"
            decayInputs[weightDecay] = editor.addLeaf(.input(name: "\(scope)/\(name)"), type: TensorType(.scalar), name: name)
            fed.append(FedScalar(name: "\(scope)/\(name)", kind: .decay(weightDecay)))
        }
        let clip = try clippingFactor(&editor, result.gradients.map(\.gradient))
        var updates: [Graph.Update] = []
        for (parameter, rawGradient) in result.gradients {
            let node = result.graph[parameter]
            editor.scope = [scope, node.name]
            editor.location = node.location
            var gradient = rawGradient
            if let clip { gradient = try editor.mul(rawGradient, clip) }
            let factor = group(of: node.name)?.rateFactor ?? 1
            let weightDecay = weightDecay(of: node.name)
            let change: NodeID
            switch rule {
            case .adam(let beta1, let beta2, let epsilon):
                let m = editor.addLeaf(.variable(name: "\(node.name)/adam_m"), type: node.type, name: "m")
                let v = editor.addLeaf(.variable(name: "\(node.name)/adam_v"), type: node.type, name: "v")
                let m2 = try editor.add(editor.mul(m, beta1), editor.mul(gradient, 1 - beta1))
                let v2 = try editor.add(editor.mul(v, beta2), editor.mul(editor.unary(.square, gradient), 1 - beta2))
                let denominator = try editor.add(editor.unary(.sqrt, v2), editor.constant(epsilon))
                change = try editor.mul(editor.div(m2, denominator), stepSize)
                updates += [Graph.Update(target: m, value: m2), Graph.Update(target: v, value: v2)]
            case .sgd(let momentum, let nesterov):
                var direction = gradient
                if momentum != 0 {
                    let b = editor.addLeaf(.variable(name: "\(node.name)/momentum"), type: node.type, name: "momentum")
                    let b2 = try editor.add(editor.mul(b, momentum), gradient)
                    updates.append(Graph.Update(target: b, value: b2))
                    direction = nesterov ? try editor.add(gradient, editor.mul(b2, momentum)) : b2
                }
                change = try editor.mul(direction, stepSize)
            }
            var p2 = try editor.sub(parameter, factor != 1 ? editor.mul(change, factor) : change)
            if let decay = decayInputs[weightDecay] { p2 = try editor.sub(p2, editor.mul(parameter, decay)) }
            updates.append(Graph.Update(target: parameter, value: p2))
        }
        var graph = editor.graph
        graph.updates = updates
        return Appended(graph: graph, fedScalars: fed)
    }

    /// min(1, clip / ‖g‖) over all gradients, in scope `clip` (nil without clipping).
    func clippingFactor(_ editor: inout GraphEditor, _ gradients: [NodeID]) throws(CompilerError) -> NodeID? {
        guard let clip = clipGradientNorm, !gradients.isEmpty else { return nil }
        editor.scope = [scopeName, "clip"]
        editor.call = "clipGradientNorm(\(clip))"
        editor.location = .generated
        var total: NodeID?
        for g in gradients {
            let rank = editor.shape(g).rank
            var squares = try editor.unary(.square, g)
            if rank > 0 { squares = try editor.add(.reduce(.sum, axes: Array(0..<rank), keepDims: false), [squares]) }
            if let sum = total { total = try editor.add(sum, squares) } else { total = squares }
        }
        let norm = try editor.unary(.sqrt, total!)
        let factor = try editor.binary(.min, editor.constant(1), editor.div(editor.constant(clip), norm))
        editor.call = scopeName
        return factor
    }
}
