/// The ligature substitutions of a font's `GSUB` table: how a sequence of
/// glyphs (one per code point of an emoji sequence: skin tones, ZWJ
/// sequences, regional-indicator flags, keycaps, tag sequences) becomes one
/// glyph.
///
/// Reads every lookup of type 4 (ligature substitution, format 1), directly
/// or through a type 7 extension lookup, that a feature of the FeatureList
/// refers to (all ligature lookups when the font has no features), in
/// LookupList order. `apply` runs them like a shaper would for a single run
/// of glyphs: each lookup in turn, left to right, the first ligature of a set
/// whose components follow wins. Lookup flags (ignore marks etc.) and
/// contextual lookups are not applied; emoji fonts use neither for their
/// sequences (Noto Color Emoji's contextual lookups only map unsupported
/// flag sequences to a fallback glyph).
public struct GSUBLigatures: Sendable {
    /// One ligature: the glyph after the first, and the result.
    public struct Ligature: Sendable, Equatable {
        /// Component glyphs after the first one.
        public var components: [UInt16]
        /// The glyph that replaces the whole sequence.
        public var glyph: UInt16
    }

    /// One ligature lookup: ligatures by their first glyph, in the font's order.
    typealias Lookup = [UInt16: [Ligature]]

    private(set) var lookups: [Lookup] = []

    /// Number of ligature lookups read.
    public var lookupCount: Int { lookups.count }
    /// Number of ligatures over all lookups.
    public var ligatureCount: Int { lookups.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } } }

    /// A table with no ligatures (a font without `GSUB`).
    public init() {}

    /// Reads the `GSUB` table of `font`; a font without one has no ligatures.
    public init(font: OpenTypeFont) throws(EmojiFontError) {
        guard font.tables["GSUB"] != nil else { self.init(); return }
        try self.init(table: font.table("GSUB"))
    }

    init(table: FontSlice) throws(EmojiFontError) {
        let major = try table.u16(0, "the GSUB major version")
        guard major == 1 else {
            throw EmojiFontError(.unsupported, table: "GSUB", "GSUB version \(major) (only 1.x is supported)")
        }
        let featureListOffset = Int(try table.u16(6, "the FeatureList offset"))
        let lookupListOffset = Int(try table.u16(8, "the LookupList offset"))
        guard lookupListOffset != 0 else { return }
        let lookupList = try table.slice(lookupListOffset, "the LookupList")
        let lookupCount = Int(try lookupList.u16(0, "the lookup count"))
        try lookupList.check(2, lookupCount * 2, "\(lookupCount) lookup offsets")

        // Lookups some feature refers to; nil means "all of them".
        var used: Set<Int>?
        if featureListOffset != 0 {
            let featureList = try table.slice(featureListOffset, "the FeatureList")
            let featureCount = Int(try featureList.u16(0, "the feature count"))
            try featureList.check(2, featureCount * 6, "\(featureCount) feature records")
            if featureCount > 0 {
                var indices = Set<Int>()
                for record in 0..<featureCount {
                    let offset = Int(try featureList.u16(2 + record * 6 + 4))
                    let feature = try featureList.slice(offset, "feature \(record)")
                    let count = Int(try feature.u16(2, "the lookup index count of feature \(record)"))
                    for i in 0..<count { indices.insert(Int(try feature.u16(4 + 2 * i, "a lookup index"))) }
                }
                used = indices
            }
        }

        var setCache: [Int: [Ligature]] = [:]
        for index in 0..<lookupCount {
            if let used, !used.contains(index) { continue }
            let lookupOffset = Int(try lookupList.u16(2 + 2 * index))
            let lookup = try lookupList.slice(lookupOffset, "lookup \(index)")
            let type = try lookup.u16(0, "the type of lookup \(index)")
            guard type == 4 || type == 7 else { continue }
            let subtableCount = Int(try lookup.u16(4, "the subtable count of lookup \(index)"))
            var ligatures: Lookup = [:]
            var isLigatureLookup = type == 4
            for s in 0..<subtableCount {
                var subtable = try lookup.slice(Int(try lookup.u16(6 + 2 * s)), "subtable \(s) of lookup \(index)")
                if type == 7 {
                    let format = try subtable.u16(0, "the extension format")
                    guard format == 1 else {
                        throw EmojiFontError(.unsupported, table: "GSUB", "extension subtable format \(format) in lookup \(index)")
                    }
                    guard try subtable.u16(2, "the extension lookup type") == 4 else { break }
                    isLigatureLookup = true
                    subtable = try subtable.slice(Int(try subtable.u32(4, "the extension offset")), "extended subtable")
                }
                try Self.readLigatureSubtable(subtable, lookup: index, into: &ligatures, cache: &setCache)
            }
            if isLigatureLookup { lookups.append(ligatures) }
        }
    }

    /// The glyphs after applying every ligature lookup to `glyphs`.
    public func apply(_ glyphs: [UInt16]) -> [UInt16] {
        var current = glyphs
        var next: [UInt16] = []
        next.reserveCapacity(glyphs.count)
        for lookup in lookups {
            next.removeAll(keepingCapacity: true)
            var position = 0
            while position < current.count {
                let first = current[position]
                var consumed = 1
                var output = first
                if let candidates = lookup[first] {
                    for ligature in candidates {
                        let n = ligature.components.count
                        guard position + 1 + n <= current.count else { continue }
                        if current[(position + 1)..<(position + 1 + n)].elementsEqual(ligature.components) {
                            consumed = 1 + n
                            output = ligature.glyph
                            break
                        }
                    }
                }
                next.append(output)
                position += consumed
            }
            swap(&current, &next)
        }
        return current
    }

    private static func readLigatureSubtable(_ subtable: FontSlice, lookup: Int, into ligatures: inout Lookup,
                                             cache: inout [Int: [Ligature]]) throws(EmojiFontError) {
        let format = try subtable.u16(0, "the ligature subtable format")
        guard format == 1 else {
            throw EmojiFontError(.unsupported, table: "GSUB", "ligature subtable format \(format) in lookup \(lookup)")
        }
        let coverage = try subtable.slice(Int(try subtable.u16(2, "the coverage offset")), "the coverage table")
        let setCount = Int(try subtable.u16(4, "the ligature set count"))
        try subtable.check(6, setCount * 2, "\(setCount) ligature set offsets")
        for (glyph, coverageIndex) in try readCoverage(coverage, limit: setCount) {
            let setOffset = Int(try subtable.u16(6 + 2 * coverageIndex))
            let key = subtable.base + setOffset
            let set: [Ligature]
            if let cached = cache[key] {
                set = cached
            } else {
                set = try readLigatureSet(try subtable.slice(setOffset, "ligature set \(coverageIndex)"))
                cache[key] = set
            }
            // Earlier subtables take precedence, as in a shaper.
            ligatures[glyph, default: []].append(contentsOf: set)
        }
    }

    private static func readLigatureSet(_ set: FontSlice) throws(EmojiFontError) -> [Ligature] {
        let count = Int(try set.u16(0, "the ligature count"))
        try set.check(2, count * 2, "\(count) ligature offsets")
        var result: [Ligature] = []
        result.reserveCapacity(count)
        for i in 0..<count {
            let ligature = try set.slice(Int(try set.u16(2 + 2 * i)), "ligature \(i)")
            let glyph = try ligature.u16(0, "the ligature glyph")
            let componentCount = Int(try ligature.u16(2, "the component count"))
            guard componentCount >= 1 else {
                throw EmojiFontError(.malformed, table: "GSUB", "a ligature with 0 components")
            }
            try ligature.check(4, 2 * (componentCount - 1), "\(componentCount - 1) ligature components")
            var components: [UInt16] = []
            components.reserveCapacity(componentCount - 1)
            for c in 0..<(componentCount - 1) { components.append(try ligature.u16(4 + 2 * c)) }
            result.append(Ligature(components: components, glyph: glyph))
        }
        return result
    }

    /// (glyph, coverage index) pairs of a coverage table, keeping indices below `limit`.
    static func readCoverage(_ coverage: FontSlice, limit: Int) throws(EmojiFontError) -> [(UInt16, Int)] {
        let format = try coverage.u16(0, "the coverage format")
        var pairs: [(UInt16, Int)] = []
        switch format {
        case 1:
            let count = Int(try coverage.u16(2, "the coverage glyph count"))
            try coverage.check(4, 2 * count, "\(count) coverage glyphs")
            for i in 0..<min(count, limit) { pairs.append((try coverage.u16(4 + 2 * i), i)) }
        case 2:
            let count = Int(try coverage.u16(2, "the coverage range count"))
            try coverage.check(4, 6 * count, "\(count) coverage ranges")
            var previousEnd = -1
            for i in 0..<count {
                let start = Int(try coverage.u16(4 + 6 * i))
                let end = Int(try coverage.u16(4 + 6 * i + 2))
                let startIndex = Int(try coverage.u16(4 + 6 * i + 4))
                guard start <= end, start > previousEnd else {
                    throw EmojiFontError(.malformed, table: "GSUB", "coverage range \(i) (\(start)...\(end)) is empty or unsorted")
                }
                previousEnd = end
                for glyph in start...end {
                    let index = startIndex + (glyph - start)
                    if index >= limit { break }
                    pairs.append((UInt16(glyph), index))
                }
            }
        default:
            throw EmojiFontError(.malformed, table: "GSUB", "coverage format \(format)")
        }
        return pairs
    }
}
