// The paper's user-space benchmarks (LLFree, ATC '23, section 5), as the harness runs them.

/// One benchmark of the paper.
enum BenchKind: String, CaseIterable, Sendable {
    /// Each thread gets its share of half the memory, then puts it all back (last first); get and
    /// put are timed separately.
    case bulk
    /// With half the memory allocated, each thread gets and puts the same frame again and again;
    /// one time per get+put pair.
    case `repeat`
    /// Each thread gets its share of half the memory; all frames are shuffled across threads; each
    /// thread puts its part of the shuffled frames (mostly frames another core allocated).
    case rand
}
