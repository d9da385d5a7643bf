// The crash explorer: a bounded sweep finds no violation in the real pool code, and the same
// sweep with one flush or one fence removed finds one (a harness that cannot fail proves nothing).

import Testing
import LLFreeSimulation

@Suite struct ExplorerTests {
    func explore(seed: UInt64, operations: Int = 300, threads: Int = 1, mode: CrashMode = .adr, broken: BrokenStep? = nil) throws -> ExplorerResult {
        var config = ExplorerConfig()
        config.seed = seed
        config.operations = operations
        config.threads = threads
        config.mode = mode
        config.broken = broken
        return try Explorer(config: config).run()
    }

    @Test(arguments: [UInt64(11), 12])
    func singleThreadedSweepHasNoViolation(seed: UInt64) throws {
        let r = try explore(seed: seed)
        #expect(r.failures.map(\.description) == [])
        #expect(r.disciplineViolations == [])
        #expect(r.images > 1000)
        #expect(r.recoveryCrashes > 10)
    }

    @Test func interleavedThreadsHaveNoViolation() throws {
        let r = try explore(seed: 21, operations: 300, threads: 3)
        #expect(r.failures.map(\.description) == [])
        #expect(r.images > 1000)
    }

    @Test(arguments: [CrashMode.eadr, .process])
    func otherCrashModesHaveNoViolation(mode: CrashMode) throws {
        let r = try explore(seed: 31, operations: 200, mode: mode)
        #expect(r.failures.map(\.description) == [])
    }

    @Test(arguments: [BrokenStep.flush, .fence])
    func removingAPersistenceStepIsFound(step: BrokenStep) throws {
        let r = try explore(seed: 41, operations: 300, broken: step)
        #expect(!r.failures.isEmpty, "the harness missed a removed \(step)")
        // The failure replays exactly from what it prints.
        let f = try #require(r.failures.first)
        var config = ExplorerConfig()
        config.seed = f.seed
        config.operations = f.operationIndex + 1
        config.broken = step
        config.replay = (f.event, f.image)
        let again = try Explorer(config: config).run()
        #expect(again.failures.first?.violations == f.violations)
        #expect(again.images <= 2)
    }

    @Test func reportsWastedPersistenceWork() throws {
        let r = try explore(seed: 51, operations: 200)
        #expect(r.fences > 0 && r.flushes > 0)
        // One fence per operation at most, plus format and open.
        #expect(r.fences <= 2 * 200 + 64)
    }
}
