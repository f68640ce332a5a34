/// The merge table of a byte-level BPE model (`merges.txt` resolved to token
/// ids) and the merge procedure, ported step for step from the Rust
/// `tokenizers` library (`Word::merge_all`) so that ids match Hugging Face
/// even for unusual merge lists: pairs are merged lowest rank first, leftmost
/// first among equal ranks, and a queued merge is dropped when its pair no
/// longer produces the token it was queued for.
public struct BPEMerges: Sendable {
    /// (left id, right id) packed into 64 bits -> (rank << 32) | merged id.
    private var table: [UInt64: UInt64] = [:]

    /// Number of distinct pairs.
    public var count: Int { table.count }

    /// Builds the table from merges in rank order. If a pair appears twice,
    /// the later rank wins (as in `tokenizers`, which collects into a map).
    public init(_ merges: [(left: Int32, right: Int32, merged: Int32)]) {
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            table[Self.key(merge.left, merge.right)] = (UInt64(rank) << 32) | UInt64(UInt32(bitPattern: merge.merged))
        }
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: left)) << 32) | UInt64(UInt32(bitPattern: right))
    }

    /// The rank and merged id of a pair, if the pair merges.
    @inline(__always)
    public func lookup(_ left: Int32, _ right: Int32) -> (rank: UInt32, merged: Int32)? {
        guard let value = table[Self.key(left, right)] else { return nil }
        return (UInt32(truncatingIfNeeded: value >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
    }

    private struct Symbol {
        var id: Int32
        var prev: Int
        var next: Int
        var removed: Bool
    }

    private struct Candidate {
        var rank: UInt32
        var position: Int
        var merged: Int32
        /// Heap order: lowest rank first, then lowest position.
        @inline(__always)
        func precedes(_ other: Candidate) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    /// Merges the symbols of one word (ids of its bytes, the last one already
    /// carrying `</w>`) and returns the resulting token ids.
    public func merge(_ ids: [Int32]) -> [Int32] {
        let n = ids.count
        if n < 2 { return ids }
        var symbols = [Symbol]()
        symbols.reserveCapacity(n)
        for (i, id) in ids.enumerated() {
            symbols.append(Symbol(id: id, prev: i - 1, next: i + 1 < n ? i + 1 : -1, removed: false))
        }
        var heap = [Candidate]()
        heap.reserveCapacity(n)
        for i in 0..<(n - 1) {
            if let m = lookup(ids[i], ids[i + 1]) { push(&heap, Candidate(rank: m.rank, position: i, merged: m.merged)) }
        }
        while let top = pop(&heap) {
            let pos = top.position
            if symbols[pos].removed { continue }
            let nextPos = symbols[pos].next
            if nextPos < 0 { continue }
            let right = symbols[nextPos]
            // Skip a stale entry: the pair here must still produce the queued token.
            guard let current = lookup(symbols[pos].id, right.id), current.merged == top.merged else { continue }
            symbols[pos].id = top.merged
            symbols[pos].next = right.next
            symbols[nextPos].removed = true
            if right.next >= 0 { symbols[right.next].prev = pos }
            let prev = symbols[pos].prev
            if prev >= 0, let m = lookup(symbols[prev].id, top.merged) {
                push(&heap, Candidate(rank: m.rank, position: prev, merged: m.merged))
            }
            let next = symbols[pos].next
            if next >= 0, let m = lookup(top.merged, symbols[next].id) {
                push(&heap, Candidate(rank: m.rank, position: pos, merged: m.merged))
            }
        }
        var out = [Int32]()
        out.reserveCapacity(n)
        for symbol in symbols where !symbol.removed { out.append(symbol.id) }
        return out
    }

    private func push(_ heap: inout [Candidate], _ item: Candidate) {
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func pop(_ heap: inout [Candidate]) -> Candidate? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return first }
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= count { break }
            var best = left
            if left + 1 < count && heap[left + 1].precedes(heap[left]) { best = left + 1 }
            guard heap[best].precedes(heap[parent]) else { break }
            heap.swapAt(best, parent)
            parent = best
        }
        return first
    }
}
