// What the benchmark needs of a persistence type besides the core's protocol: a way to make
// one without arguments, to read its call counts and to release what it allocated. The
// volatile persistence conforms trivially, so the adapter stays one generic type.

import LLFree

/// A ``Persistence`` the benchmark can create, inspect and dispose of.
protocol BenchPersistence: Persistence, Sendable {
    /// A fresh instance with zeroed counts.
    static func make() -> Self
    /// Label for the result table ("volatile", "counting").
    static var label: String { get }
    /// Call counts so far, or nil when the type keeps none.
    func counts() -> PersistenceCounts?
    /// Frees whatever `make()` allocated.
    func destroy()
}

extension VolatilePersistence: BenchPersistence {
    static func make() -> VolatilePersistence { VolatilePersistence() }
    static var label: String { "volatile" }
    func counts() -> PersistenceCounts? { nil }
    func destroy() {}
}
