import Graph

/// An `ElementwiseProgram` recognised as one parameter's Adam update (the ops `Adam.append`
/// makes), so the runtime can run it as one loop instead of step by step:
///
///     m' = m·β1 + g·(1−β1)
///     v' = v·β2 + g²·(1−β2)
///     p' = p − (m' / (√v' + ε))·s [·f] [− p·d]
///
/// with s the step-size input, f a constant rate factor and d the decay input. Recognition is
/// by the expression each output computes, not by step order; anything else (a different
/// association, a broadcast operand) is not recognised and runs through the interpreter, so a
/// miss costs speed, never correctness. The loop computes the same operations in the same order,
/// so its results are bit-identical.
public struct AdamProgram: Hashable, Sendable {
    /// Input positions: moments, gradient, parameter, step size, decay (nil: no decay term).
    public var m: Int, v: Int, g: Int, p: Int, stepSize: Int
    public var decay: Int?
    public var beta1: Float, oneMinusBeta1: Float, beta2: Float, oneMinusBeta2: Float, epsilon: Float
    public var factor: Float?
    /// Output positions of m', v' and p'.
    public var outM: Int, outV: Int, outP: Int

    /// A step's value as an expression over the program's inputs.
    indirect enum Expression: Hashable {
        case full(Int), scalar(Int), constant(Float)
        case unary(UnaryFunction, Expression)
        case binary(BinaryFunction, Expression, Expression)
        case other
    }

    public init?(_ program: ElementwiseProgram) {
        guard program.outputs.count == 3, program.steps.count <= 24 else { return nil }
        var values: [Expression] = []
        func value(_ o: ElementwiseProgram.Operand) -> Expression {
            switch o {
            case .full(let k): return .full(k)
            case .scalar(let k): return .scalar(k)
            case .constant(let c): return .constant(c)
            case .step(let s): return values[s]
            case .suffix, .blocks, .runs: return .other
            }
        }
        for step in program.steps {
            switch step {
            case .unary(let f, let a): values.append(.unary(f, value(a)))
            case .binary(let f, let a, let b): values.append(.binary(f, value(a), value(b)))
            case .compare, .select: return nil
            }
        }
        let outputs = program.outputs.map { values[$0] }
        // m' = m·β1 + g·(1−β1)
        guard let outM = outputs.firstIndex(where: { Self.moment($0, squared: false) != nil }),
            let (m, beta1, g, oneMinusBeta1) = Self.moment(outputs[outM], squared: false),
            let outV = outputs.firstIndex(where: { Self.moment($0, squared: true)?.2 == g }),
            let (v, beta2, _, oneMinusBeta2) = Self.moment(outputs[outV], squared: true)
        else { return nil }
        let outP = 3 - outM - outV
        guard outP != outM, outP != outV, (0..<3).contains(outP) else { return nil }
        // p' = p − u [− p·d], u = (m' / (√v' + ε))·s [·f]
        var update = outputs[outP]
        var decay: Int?
        if case .binary(.sub, let core, .binary(.mul, .full(let p), .scalar(let d))) = update,
            case .binary(.sub, .full(p), _) = core
        {
            decay = d
            update = core
        }
        guard case .binary(.sub, .full(let p), var u) = update else { return nil }
        var factor: Float?
        if case .binary(.mul, let inner, .constant(let f)) = u {
            factor = f
            u = inner
        }
        guard case .binary(.mul, .binary(.div, let numerator, let denominator), .scalar(let s)) = u,
            numerator == outputs[outM],
            case .binary(.add, .unary(.sqrt, let root), .constant(let epsilon)) = denominator,
            root == outputs[outV]
        else { return nil }
        let distinct = Set([m, v, g, p])
        guard distinct.count == 4 else { return nil }
        self.m = m
        self.v = v
        self.g = g
        self.p = p
        self.stepSize = s
        self.decay = decay
        (self.beta1, self.oneMinusBeta1, self.beta2, self.oneMinusBeta2, self.epsilon) =
            (beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon)
        self.factor = factor
        (self.outM, self.outV, self.outP) = (outM, outV, outP)
    }

    /// `x·β + g·c` (or `x·β + square(g)·c`): the moment input, β, the gradient input and c.
    static func moment(_ e: Expression, squared: Bool) -> (Int, Float, Int, Float)? {
        guard case .binary(.add, .binary(.mul, .full(let x), .constant(let beta)), .binary(.mul, let gradient, .constant(let c))) = e
        else { return nil }
        if squared {
            guard case .unary(.square, .full(let g)) = gradient else { return nil }
            return (x, beta, g, c)
        }
        guard case .full(let g) = gradient else { return nil }
        return (x, beta, g, c)
    }
}
