import Foundation

/// A monotonic stopwatch for splitting a step's wall time into phases.
public struct StepClock: Sendable {
    private var last: UInt64

    public init() { last = DispatchTime.now().uptimeNanoseconds }

    /// Seconds since the previous lap (or since creation), and starts a new lap.
    public mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}
