import ArgumentParser
import Models

/// `gauge models`: the built-in models with a one-line description each.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the built-in models.")

    func run() throws {
        let width = ModelCatalog.all.map(\.name.count).max() ?? 0
        for entry in ModelCatalog.all {
            print(entry.name + String(repeating: " ", count: width - entry.name.count + 2) + entry.summary)
        }
    }
}
