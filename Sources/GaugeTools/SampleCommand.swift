import ArgumentParser
import Datasets
import Experiments
import Foundation
import Models
import Runtime

/// `gauge sample MODEL --checkpoint PATH`: dreamed-up samples of one class from a trained ACE
/// checkpoint, without a training step.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Draw samples of a class from an ACE checkpoint (the prior through that class's decoder).",
        discussion: """
            Reads only the decoder's parameters from the checkpoint (names and shapes checked), draws \
            --count latent points from the prior the model was trained with (Gaussian or Laplace) from \
            --seed, and writes the canonical-frame images to --out: a PNG grid (.png) or a float32 \
            array [count, channels, height, width] in NumPy's .npy format (.npy).
            Example: gauge sample ace-rts --checkpoint runs/ace-rts-…/checkpoint.safetensors --class 3 --count 16 --out threes.png
            """)

    @Argument(help: "An ACE model of `gauge models` (ace-mnist, ace-rts, ace-tc, ace-cifar, … and their -nosym twins).")
    var model: String

    @Option(help: "The checkpoint a training run wrote (checkpoint.safetensors).")
    var checkpoint: String

    @Option(name: .customLong("class"), help: "The class: an index, or a CIFAR-10 class name.")
    var chosenClass: String = "0"

    @Option(help: "How many samples.")
    var count: Int = 16

    @Option(help: "Seed of the latent points.")
    var seed: UInt64 = 1

    @Option(help: "Output file: .png or .npy.")
    var out: String

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be a positive integer, got \(count)") }
        guard out.hasSuffix(".png") || out.hasSuffix(".npy") else {
            throw ValidationError("--out must end in .png or .npy, got \(out)")
        }
    }

    func run() throws {
        guard let config = ACEConfiguration.named(model) else {
            let names = ACEConfiguration.builtIn.map(\.name).joined(separator: ", ")
            throw ValidationError("gauge sample draws from ACE models: \(names); not '\(model)'")
        }
        let label = Int(chosenClass) ?? (config.channels == 3 ? CIFAR10.classNames.firstIndex(of: chosenClass) : nil)
        guard let label, (0..<config.classes).contains(label) else {
            throw ValidationError("--class \(chosenClass) is not one of 0-\(config.classes - 1)\(config.classes == 10 && config.channels == 3 ? " or a CIFAR-10 class name" : "")")
        }
        let renderer = try Renderer(config, batch: min(count, 100))
        let parameters = try Parameters.load(checkpoint, for: ACE.renderer(config))
        let z = Figures(renderer).priorLatents(count * config.latentPerClass, seed: seed)
        let requests = (0..<count).map { k in
            Renderer.Request(latent: Array(z[(k * config.latentPerClass)..<((k + 1) * config.latentPerClass)]), label: label)
        }
        let images = try renderer.render(requests, parameters: parameters, seed: seed)
        if out.hasSuffix(".png") {
            let columns = Int(Double(count).squareRoot().rounded(.up))
            try PNG.write(
                tiledPicture(images, count: count, channels: config.channels, height: config.height, width: config.width, columns: columns, scale: 2),
                to: out)
        } else {
            try NPY.write(images, shape: [count, config.channels, config.height, config.width], to: out)
        }
        print("wrote \(out): \(count) samples of class \(label) from \(checkpoint)")
    }
}

/// NumPy's .npy format, version 1.0: the magic, a header dict padded to a multiple of 64 bytes,
/// then little-endian float32 data in C order.
enum NPY {
    static func write(_ values: [Float], shape: [Int], to path: String) throws {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data += Data([UInt8(length & 0xFF), UInt8(length >> 8)])
        data += Data(header.utf8)
        values.withUnsafeBufferPointer { data += Data(buffer: $0) }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
