// Owners against the real daemon on a real socket, read as a specification: every frame belongs
// to the owner whose connection got it; only that owner frees it; a persistent owner finds its
// runs and its root after the daemon restarts; an ephemeral owner's frames come back when its
// last connection closes or the daemon starts; release, removal, quota, reconciliation after a
// lost reply, version-1 clients, and llfree-ctl's owner verbs.

import Foundation
import LLFreeClient
import LLFreeProtocol
import LLFreeTestSupport
import Testing

@Suite(.serialized) struct OwnerTests {
    /// Frames of the 64 MiB pool every test here starts.
    static let frames: UInt64 = 64 * 256
    /// The owner a connection that never attached acts for: the tests' own uid.
    static let implicitOwner = "uid-\(getuid())"

    static func client(_ daemon: DaemonProcess, _ name: String, kind: WireOwnerKind = .persistent) -> BlockingLLFreeClient {
        BlockingLLFreeClient(socketPath: daemon.socket, owner: OwnerAttachment(name: name, kind: kind))
    }

    static func runs(_ frames: [UInt64], order: UInt8) -> [WireRun] {
        frames.map { WireRun(frame: $0, order: order) }
    }

    static func sorted(_ runs: [WireRun]) -> [WireRun] { runs.sorted { ($0.frame, $0.order) < ($1.frame, $1.order) } }

    static func refusal(_ body: () throws -> Void) -> ErrorCode? {
        do {
            try body()
            return nil
        } catch let ClientError.refused(error) {
            return error.code
        } catch {
            Issue.record("not a refusal: \(error)")
            return nil
        }
    }

    // MARK: Frames belong to their owner

    @Test func anotherOwnerCannotFreeTheFrames() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let a = Self.client(daemon, "a"), b = Self.client(daemon, "b")
        defer { a.close(); b.close() }
        let frames = try a.get(order: 2, count: 5).frames
        #expect(frames.count == 5)
        let put = try b.put(order: 2, frames: frames)
        #expect(put.freed == 0)
        #expect(put.results == Array(repeating: .notOwner, count: 5))
        for frame in frames { #expect(try !b.isFree(frame, order: 2)) }
        #expect(try a.ownerInfo().held == 20)
        #expect(try a.put(order: 2, frames: frames).freed == 5)
        for frame in frames { #expect(try a.isFree(frame, order: 2)) }
        #expect(try a.ownerInfo().held == 0)
    }

    // MARK: Persistent owners survive restarts

    @Test(arguments: [false, true])
    func aRestartedClientFindsItsFramesAndRootByName(killed: Bool) throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        var got = [WireRun]()
        let root = RootValue(word: 0xC0FFEE)
        do {
            let store = Self.client(daemon, "store")
            defer { store.close() }
            got += Self.runs(try store.get(order: 0, count: 7).frames, order: 0)
            got += Self.runs(try store.get(order: 3, count: 4).frames, order: 3)
            got += Self.runs(try store.get(order: 9, count: 1, kind: .huge).frames, order: 9)
            #expect(got.count == 12)
            #expect(try store.compareAndSetRoot(expected: .zero, new: root) == RootSwap(swapped: true, current: root))
        }
        if killed { daemon.crash() } else { #expect(daemon.terminate() == 0) }
        try daemon.start()
        let store = Self.client(daemon, "store")
        defer { store.close() }
        #expect(Self.sorted(try store.runs()) == Self.sorted(got))
        #expect(try store.ownerInfo().held == 7 + 32 + 512)
        #expect(try store.root() == root)
        // A compare-and-set from a stale value fails and says what the root is.
        let swap = try store.compareAndSetRoot(expected: .zero, new: RootValue(word: 1))
        #expect(swap == RootSwap(swapped: false, current: root))
        #expect(try store.root() == root)
    }

    // MARK: Ephemeral owners

    @Test func anEphemeralOwnersFramesComeBackWhenItsLastConnectionCloses() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let first = Self.client(daemon, "scratch", kind: .ephemeral), second = Self.client(daemon, "scratch", kind: .ephemeral)
        let observer = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { observer.close() }
        let frames = try first.get(order: 1, count: 6).frames
        try second.connect()
        #expect(try observer.ownerInfo("scratch").connections == 2)
        first.close()
        // One connection is left: the frames stay.
        let seen = waitUntil { (try? observer.ownerInfo("scratch").connections) == 1 }
        #expect(seen, "the first close was not seen")
        for frame in frames { #expect(try !observer.isFree(frame, order: 1)) }
        second.close()
        let freed = waitUntil { (try? observer.stats().freeFrames) == Self.frames }
        #expect(freed, "the ephemeral owner's frames did not come back after its last connection closed")
        for frame in frames { #expect(try observer.isFree(frame, order: 1)) }
        #expect(try observer.ownerInfo("scratch").held == 0)
    }

    @Test func anEphemeralOwnersFramesComeBackAfterTheDaemonIsKilled() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let scratch = Self.client(daemon, "scratch", kind: .ephemeral), store = Self.client(daemon, "store")
        defer { scratch.close(); store.close() }
        let lost = try scratch.get(order: 0, count: 40).frames
        let kept = try store.get(order: 0, count: 3).frames
        daemon.crash()
        try daemon.start()
        let observer = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { observer.close() }
        // Tags settle in the background after ready; the ephemeral frames are freed then.
        let freed = waitUntil(timeout: .seconds(30)) { (try? observer.stats().freeFrames) == Self.frames - 3 }
        #expect(freed, "the ephemeral owner's frames did not come back after a restart")
        for frame in lost { #expect(try observer.isFree(frame)) }
        for frame in kept { #expect(try !observer.isFree(frame)) }
        #expect(Self.sorted(try observer.runs(owner: "store")) == Self.sorted(Self.runs(kept, order: 0)))
    }

    // MARK: Release, removal, listing

    @Test func releaseFreesEverythingAndRemovalWaitsForIt() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let admin = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { admin.close() }
        do {
            let a = Self.client(daemon, "a"), b = Self.client(daemon, "b")
            defer { a.close(); b.close() }
            _ = try a.get(order: 0, count: 10)
            _ = try a.get(order: 4, count: 2)
            _ = try b.get(order: 2, count: 3)
        }
        let owners = try admin.owners()
        let byName = Dictionary(owners.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in
            Issue.record("two entries for \(first.name)")
            return first
        })
        #expect(owners.count == byName.count)
        #expect(byName["a"]?.held == 42 && byName["b"]?.held == 12)
        #expect(byName["a"]?.kind == .persistent && byName["b"]?.kind == .persistent)

        // The closes are seen asynchronously; removal also refuses while connected.
        let detached = waitUntil { (try? admin.ownerInfo("a").connections) == 0 && (try? admin.ownerInfo("b").connections) == 0 }
        #expect(detached, "the closes of a and b were not seen")
        #expect(Self.refusal { try admin.removeOwner("a") } == .ownerBusy)
        #expect(try admin.ownerInfo("a").held == 42)
        #expect(try admin.release(owner: "a") == ReleaseResult(runs: 12, frames: 42))
        #expect(try admin.ownerInfo("a").held == 0)
        #expect(try admin.release(owner: "a") == ReleaseResult(runs: 0, frames: 0))
        try admin.removeOwner("a")
        #expect(Self.refusal { _ = try admin.ownerInfo("a") } == .unknownOwner)
        let left = try admin.owners()
        #expect(!left.contains { $0.name == "a" } && left.first { $0.name == "b" }?.held == 12)
        #expect(try admin.stats().freeFrames == Self.frames - 12)
    }

    // MARK: Quota

    @Test func aGetBeyondTheQuotaIsServedUpToIt() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        // The tests run as the daemon's uid, an administrator by default.
        let admin = BlockingLLFreeClient(socketPath: daemon.socket)
        let limited = Self.client(daemon, "limited")
        defer { admin.close(); limited.close() }
        try limited.connect()
        #expect(try admin.setQuota("limited", quota: 10).quota == 10)
        let got = try limited.get(order: 0, count: 25)
        #expect(got.frames.count == 10 && got.shortfall == .quotaExceeded)
        let none = try limited.get(order: 0, count: 1)
        #expect(none.frames.isEmpty && none.shortfall == .quotaExceeded)
        #expect(try limited.ownerInfo().held == 10)
        #expect(try limited.put(order: 0, frames: Array(got.frames.prefix(4))).freed == 4)
        let more = try limited.get(order: 1, count: 3)
        #expect(more.frames.count == 2 && more.shortfall == .quotaExceeded)
        #expect(try admin.setQuota("limited", quota: nil).quota == nil)
        #expect(try limited.get(order: 0, count: 5).shortfall == nil)
    }

    // MARK: Reconciliation after a lost reply

    @Test func reconcileConfirmsKnownRunsAndAdoptsThoseWhoseReplyWasLost() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        var known = [WireRun]()
        var lost = [WireRun]()
        do {
            let store = Self.client(daemon, "store")
            defer { store.close() }
            known = Self.runs(try store.get(order: 0, count: 5).frames, order: 0)
            // A get whose reply the client never saw: sent on another connection of the same
            // owner, served, and the daemon killed right after.
            let raw = try RawConnection(daemon.socket)
            guard case .reply(let attached) = raw.roundTrip(RequestMessage(id: 1, .attach(name: "store", kind: .persistent, create: false, quota: 0))),
                  case .attach = attached.reply else { Issue.record("raw attach failed"); return }
            guard case .reply(let got) = raw.roundTrip(RequestMessage(id: 2, .get(order: 2, count: 3, kind: .fixed))),
                  case .get(let result) = got.reply else { Issue.record("raw get failed"); return }
            lost = Self.runs(result.frames, order: 2)
            daemon.crash()
        }
        try daemon.start()
        let store = Self.client(daemon, "store")
        defer { store.close() }
        let gone = WireRun(frame: Self.frames - 1, order: 0)
        let result = try store.reconcile(known: known + [gone])
        #expect(Self.sorted(result.confirmed) == Self.sorted(known))
        #expect(Self.sorted(result.adopted) == Self.sorted(lost))
        #expect(result.missing == [gone])
    }

    // MARK: Version-1 clients

    @Test func aVersionOneClientActsForItsUidOwner() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        var got = [WireRun]()
        // With hello 1...1, and with no hello at all.
        for hello in [true, false] {
            let raw = try RawConnection(daemon.socket)
            if hello {
                guard case .reply(let r) = raw.roundTrip(RequestMessage(id: 1, .hello(minVersion: 1, maxVersion: 1))),
                      case .hello(let info) = r.reply else { Issue.record("hello failed"); return }
                #expect(info.version == 1)
                // A version-2 operation on a version-1 connection is unknown.
                guard case .reply(let refused) = raw.roundTrip(RequestMessage(id: 2, .list(owner: "", from: 0, limit: 10))),
                      case .error(_, let error) = refused.reply else { Issue.record("list on version 1 accepted"); return }
                #expect(error.code == .unknownOperation)
            }
            guard case .reply(let r) = raw.roundTrip(RequestMessage(id: 3, .get(order: 1, count: 2, kind: .fixed))),
                  case .get(let result) = r.reply, result.frames.count == 2 else { Issue.record("get failed"); return }
            got += Self.runs(result.frames, order: 1)
        }
        let observer = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { observer.close() }
        #expect(Self.sorted(try observer.runs(owner: Self.implicitOwner)) == Self.sorted(got))
        let entries = try observer.owners().filter { $0.name == Self.implicitOwner }
        #expect(entries.count == 1 && entries.first?.held == 8 && entries.first?.kind == .persistent)
        // A client that does not attach acts for the same owner.
        #expect(try observer.put(order: 1, frames: got.map(\.frame)).freed == 4)
    }

    // MARK: llfree-ctl

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: CtlTests.ctl), "llfree-ctl is built next to llfreed"))
    func ctlListsShowsAndReleasesOwners() throws {
        let daemon = try DaemonProcess()
        defer { daemon.remove() }
        let socket = ["--socket", daemon.socket]
        let (getStatus, getOutput) = try CtlTests.run(["get", "--count", "3", "--order", "1", "--owner", "tool"] + socket)
        #expect(getStatus == 0, "\(getOutput)")
        let frames = getOutput.split(separator: "\n").compactMap { UInt64($0) }
        #expect(frames.count == 3, "\(getOutput)")

        let (ownersStatus, ownersOutput) = try CtlTests.run(["owners"] + socket)
        #expect(ownersStatus == 0, "\(ownersOutput)")
        let lines = ownersOutput.split(separator: "\n").filter { $0.hasPrefix("tool\t") }
        #expect(lines.count == 1 && lines.first?.contains("\t6 frames\t") == true, "\(ownersOutput)")

        let (showStatus, showOutput) = try CtlTests.run(["owner", "show", "tool"] + socket)
        #expect(showStatus == 0, "\(showOutput)")
        #expect(showOutput.contains("owner:       tool") && showOutput.contains("held:        6 frames")
                && showOutput.contains("kind:        persistent"), "\(showOutput)")

        let (runsStatus, runsOutput) = try CtlTests.run(["owner", "runs", "tool"] + socket)
        #expect(runsStatus == 0, "\(runsOutput)")
        #expect(Set(runsOutput.split(separator: "\n").map(String.init)) == Set(frames.map { "\($0) 1" }), "\(runsOutput)")

        let (releaseStatus, releaseOutput) = try CtlTests.run(["owner", "release", "tool"] + socket)
        #expect(releaseStatus == 0 && releaseOutput.contains("released 6 frames in 3 runs of tool"), "\(releaseOutput)")
        let client = BlockingLLFreeClient(socketPath: daemon.socket)
        defer { client.close() }
        for frame in frames { #expect(try client.isFree(frame, order: 1)) }
        #expect(try client.ownerInfo("tool").held == 0)

        // Unknown owners are refused (exit 1).
        let (unknownStatus, unknownOutput) = try CtlTests.run(["owner", "show", "nobody"] + socket)
        #expect(unknownStatus == 1, "\(unknownOutput)")
    }
}
