import Datasets
import Foundation
import Runtime

/// Recovering from a non-finite loss: the run is deterministic, so the state before any step
/// is the last checkpoint with the steps since run again (skipped ones left out), and the
/// failing step replayed with numeric checks names the first value that went bad.
extension Trainer {
    /// After step `failing` gave a non-finite loss: the state before it, rebuilt from the last
    /// checkpoint with every skipped step left out (`onNonFiniteLoss = .skip`), or the error.
    func undoNonFinite(
        _ losses: [String: Float], step failing: Int, epoch: Int, _ train: DataSource, checkpoint: String?,
        skipped: inout Set<Int>, skippedBefore: Int
    ) throws -> TrainingState {
        guard case .skip(let limit) = onNonFiniteLoss else {
            let first = try locateNonFinite(train, failing: failing, checkpoint: checkpoint)
            throw TrainingError.diverged(step: failing, epoch: epoch, losses: losses, firstNonFinite: first, checkpoint: checkpoint)
        }
        guard skipped.count < limit else {
            throw TrainingError.tooManySkippedSteps(step: failing, epoch: epoch, limit: limit, checkpoint: checkpoint)
        }
        skipped.insert(failing)
        let state = try stateBefore(failing, train, checkpoint: checkpoint, skipping: skipped)
        state.step = failing + 1
        state.epoch = epoch
        state.metadata[Self.skippedKey] = String(skippedBefore + skipped.count)
        progress.line(
            "skipped step \(failing + 1) (epoch \(epoch + 1)): its loss is not finite (\(skipped.count) of at most \(limit) skipped)")
        return state
    }

    /// The last checkpoint's state (or the initial one) and the batches from its data cursor.
    func lastGoodState(_ train: DataSource, checkpoint: String?) throws -> (TrainingState, Batches) {
        let state = try checkpoint.map { try step.loadState(from: $0) } ?? step.initialState(seed: seed)
        var batches = Batches(count: train.count, batchSize: batch, seed: state.seed)
        batches.cursor = (state.epoch, Int(state.metadata["data.position"] ?? "0") ?? 0)
        return (state, batches)
    }

    /// Runs the steps from `state` up to (not including) `target` again, except the `skipped`
    /// ones (their step numbers and batches are used up, as in the run being rebuilt).
    func advance(_ state: TrainingState, _ batches: inout Batches, to target: Int, _ train: DataSource, skipping skipped: Set<Int> = [])
        throws
    {
        while state.step < target {
            let (epoch, records) = batches.next()
            state.epoch = epoch
            if skipped.contains(state.step) {
                state.step += 1
                continue
            }
            try trainStep(state, train, records, timed: false)
        }
    }

    /// The state as it was before step `target`: the last checkpoint (or the initial state) with
    /// the steps up to `target` run again, except the `skipped` ones.
    func stateBefore(_ target: Int, _ train: DataSource, checkpoint: String?, skipping skipped: Set<Int>) throws -> TrainingState {
        let (replay, start) = try lastGoodState(train, checkpoint: checkpoint)
        var batches = start
        if target > replay.step {
            progress.line("undoing step \(target + 1): running \(target - replay.step) step(s) again from \(checkpoint ?? "the start")")
        }
        try advance(replay, &batches, to: target, train, skipping: skipped)
        return replay
    }

    /// Replays the steps from the last checkpoint (or the start) to `failing`, then the failing
    /// one with numeric checks; the run is deterministic, so the same value goes bad again.
    func locateNonFinite(_ train: DataSource, failing: Int, checkpoint: String?) throws -> String? {
        let (replay, start) = try lastGoodState(train, checkpoint: checkpoint)
        var batches = start
        progress.line("a loss is not finite at step \(failing + 1); replaying \(failing - replay.step + 1) step(s) from \(checkpoint ?? "the start") to find where")
        try advance(replay, &batches, to: failing, train)
        let (epoch, records) = batches.next()
        replay.epoch = epoch
        step.checkNumerics = true
        defer { step.checkNumerics = false }
        var feeds = self.feeds(train, records)
        transform?(&feeds, replay.step)
        do {
            try step.run(replay, feeding: feeds)
        } catch let error as RuntimeError {
            return error.description
        }
        return nil
    }
}
