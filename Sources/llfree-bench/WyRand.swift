// A small, fast, seeded random generator (wyrand), so that shuffles are the same in every run
// and every build.

/// The wyrand generator.
struct WyRand: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }

    /// Fisher-Yates shuffle of `count` values at `base`.
    mutating func shuffle(_ base: UnsafeMutablePointer<UInt64>, count: Int) {
        var i = count - 1
        while i > 0 {
            let j = Int(next() % UInt64(i + 1))
            let value = base[i]
            base[i] = base[j]
            base[j] = value
            i -= 1
        }
    }
}
