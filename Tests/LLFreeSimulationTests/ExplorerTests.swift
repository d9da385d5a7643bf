// The crash explorer: a bounded sweep finds no violation in the real pool code, and the same
// sweep with one flush or one fence removed finds one (a harness that cannot fail proves nothing).

import Testing
import LLFreeSimulation
import LLFreeTestSupport

@Suite struct ExplorerTests {
    func explore(seed: UInt64, operations: Int = 300, threads: Int = 1, mode: CrashMode = .adr, broken: BrokenStep? = nil) async throws -> ExplorerResult {
        var config = ExplorerConfig()
        config.seed = seed
        config.operations = operations
        config.threads = threads
        config.mode = mode
        config.broken = broken
        return try await run(config)
    }

    /// A sweep runs for a minute or more in a debug build: on a thread of its own, not one of the
    /// few the other suites' tasks share.
    func run(_ config: ExplorerConfig) async throws -> ExplorerResult {
        try await onOwnThread { try Explorer(config: config).run() }
    }

    @Test(arguments: [UInt64(11), 12])
    func singleThreadedSweepHasNoViolation(seed: UInt64) async throws {
        let r = try await explore(seed: seed)
        #expect(r.failures.map(\.description) == [])
        #expect(r.disciplineViolations == [])
        #expect(r.images > 1000)
        #expect(r.recoveryCrashes > 10)
        #expect(r.leaked == 0)
    }

    @Test func interleavedThreadsHaveNoViolation() async throws {
        let r = try await explore(seed: 21, operations: 300, threads: 3)
        #expect(r.failures.map(\.description) == [])
        #expect(r.images > 1000)
    }

    @Test(arguments: [CrashMode.eadr, .process])
    func otherCrashModesHaveNoViolation(mode: CrashMode) async throws {
        let r = try await explore(seed: 31, operations: 200, mode: mode)
        #expect(r.failures.map(\.description) == [])
    }

    @Test(arguments: [BrokenStep.flush, .fence, .tagFlush, .ownerFlush, .ownerChangeFlush, .zeroFlush, .punchSync])
    func removingAPersistenceStepIsFound(step: BrokenStep) async throws {
        var config = ExplorerConfig()
        config.seed = 41
        config.operations = 300
        config.broken = step
        // Debug builds shrink slowly; a generous budget keeps the bound below machine-independent.
        config.shrinkSeconds = 30
        switch step {
        case .punchSync:
            // The seeded mix keeps the small pool fragmented, so the zeroer seldom finds a whole
            // free child to reclaim; a written, freed and reclaimed frame is scripted instead.
            config.script = Step.script("g0f p0 z1 g0f@1")
        case .zeroFlush:
            // Found by the seeded mix too (`sim --quick --break zero-flush` in .ci/run), but late
            // enough that shrinking it in a loaded debug build outlasts any fixed budget: a frame
            // written, freed and got by another owner.
            config.script = Step.script("g0f p0 g0f@1")
        default:
            break
        }
        let r = try await run(config)
        let f = try #require(r.failures.first, "the harness missed a removed \(step)")
        // Shrinking left a short script that still fails.
        // (A dropped owner-table flush, or fence, can fail while the owners are created, before
        // any step.)
        #expect((!f.steps.isEmpty || step == .ownerFlush || step == .fence) && f.steps.count <= 10, "\(f)")
        // The failure replays exactly from what it prints.
        var again = ExplorerConfig()
        again.seed = f.seed
        again.script = f.steps
        again.broken = step
        again.replay = (f.event, f.image)
        let replayed = try await run(again)
        #expect(replayed.failures.first?.violations == f.violations)
        #expect(replayed.images <= 2)
        #expect(f.replay.contains("--script '\(f.steps.map(\.description).joined(separator: " "))'"))
    }

    @Test func stepsRoundTripThroughText() {
        let steps: [Step] = [.get(order: 3, kind: .movable), .getAt(frame: 4096, order: 9), .put(held: 7),
                             .split(held: 2, order: 1, slot: 33), .doubleFree(frame: 5), .drain,
                             .get(order: 0, kind: .huge, owner: 3), .getAt(frame: 8, order: 2, owner: 1),
                             .wrongPut(held: 4, other: 1), .setRoot(owner: 2, value: 99), .setQuota(owner: 1, value: 200_000),
                             .churn(slot: 2), .zero(from: 13)]
        #expect(Step.script(steps.map(\.description).joined(separator: " ")) == steps)
        #expect(Step.script("g3q") == nil)
        #expect(Step.script("g3f@x") == nil)
    }

    @Test func reportsWastedPersistenceWork() async throws {
        let r = try await explore(seed: 51, operations: 200)
        #expect(r.fences > 0 && r.flushes > 0)
        // One fence per operation at most, plus format and open.
        #expect(r.fences <= 2 * 200 + 64)
    }

    @Test func fieldsOutOfRangeAreRefusedAtConstruction() {
        var config = ExplorerConfig()
        config.pointStride = 0
        #expect(throws: ExplorerError.invalidConfig(field: "pointStride", value: "0", allowed: "at least 1")) { try Explorer(config: config) }
        config = ExplorerConfig()
        config.imagesPerPoint = 0
        #expect(throws: ExplorerError.self) { try Explorer(config: config) }
        config = ExplorerConfig()
        config.threads = 2
        config.script = [.drain]
        #expect(throws: ExplorerError.self) { try Explorer(config: config) }
        config = ExplorerConfig()
        config.frames = 0
        #expect(throws: ExplorerError.self) { try Explorer(config: config) }
    }
}
