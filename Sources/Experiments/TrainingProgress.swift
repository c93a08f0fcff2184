import Foundation

/// TrainingProgress of a long run: on a terminal, one line redrawn in place with a bar; otherwise
/// (a log file, a pipe) a plain line every `every` updates and at the end of each epoch.
public struct TrainingProgress {
    public let every: Int
    public let isTerminal: Bool
    let write: (String) -> Void

    public init(every: Int, isTerminal: Bool = isatty(STDOUT_FILENO) != 0, write: @escaping (String) -> Void = TrainingProgress.standardOutput) {
        self.every = every
        self.isTerminal = isTerminal
        self.write = write
    }

    /// Writes through the C standard output stream, as `print` does, and flushes: progress and
    /// printed lines keep their order in a pipe.
    public static func standardOutput(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }

    /// Reports `done` of `total` steps of this epoch. `status` is made only when a line is
    /// written: on a terminal at most ten redraws a second (and always the last), otherwise
    /// every `every` steps and the last.
    public func update(done: Int, total: Int, status: @autoclosure () -> String) {
        if isTerminal {
            let now = Date().timeIntervalSinceReferenceDate
            guard done == total || now - redraw.last >= 0.1 else { return }
            redraw.last = now
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\u{1B}[K[\(bar)] \(status())" + (done == total ? "\n" : ""))
        } else if done % every == 0 || done == total {
            write(status() + "\n")
        }
    }

    /// When the bar was last drawn.
    final class Redraw { var last = 0.0 }
    let redraw = Redraw()

    /// A whole line of its own (ends any bar in progress first).
    public func line(_ text: String) {
        write((isTerminal ? "\r\u{1B}[K" : "") + text + "\n")
    }

    /// Seconds as 41s, 6m05s or 2h07m.
    public static func duration(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded()))
        return s >= 3600
            ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
            : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
