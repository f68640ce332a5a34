import Foundation

/// A bounded map from a word's UTF-8 to its BPE ids, shared by threads under
/// a lock. When full it is emptied, which keeps memory bounded without
/// bookkeeping per hit.
final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    private let capacity: Int
    /// Longest word (in bytes) worth caching.
    static let maximumWordLength = 256

    init(capacity: Int) { self.capacity = max(0, capacity) }

    func lookup(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return entries[key]
    }

    func insert(_ key: [UInt8], _ value: [Int32]) {
        guard capacity > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.count
    }
}
