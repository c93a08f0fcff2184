/// A problem with how an experiment was asked for (its data, its folders, its options).
public struct ExperimentError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
