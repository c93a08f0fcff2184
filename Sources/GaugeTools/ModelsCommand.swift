import ArgumentParser
import Models

/// `gauge models`: the models (a user's own, then the built-ins) with a one-line description each.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the models: the built-in ones and any the executable adds.")

    func run() throws {
        let width = GaugeTools.catalog.map(\.name.count).max() ?? 0
        for entry in GaugeTools.catalog {
            print(entry.name + String(repeating: " ", count: width - entry.name.count + 2) + entry.summary)
        }
    }
}
