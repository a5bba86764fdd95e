/// The tests' one seeded generator (SplitMix64), so every random case is reproducible from its seed.
package struct SeededRNG: RandomNumberGenerator {
    package var state: UInt64
    /// A generator for `seed` (spread, so nearby seeds start far apart).
    package init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    /// A generator whose internal state is `state`.
    package init(state: UInt64) { self.state = state }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
