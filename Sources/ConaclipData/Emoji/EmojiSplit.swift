/// One of the three parts of the emoji benchmark.
public enum EmojiSplitName: String, Sendable, Equatable, CaseIterable, Codable {
    case train, val, test
}

/// Why an emoji is held out of training (see `EmojiSplit`).
public enum EmojiHoldoutReason: String, Sendable, Equatable, CaseIterable, Codable {
    /// (a) An unseen pairing of a family with a skin tone.
    case skinTone = "skin-tone"
    /// (b) An unseen pairing of a colour with a shape ("green square").
    case colourShape = "colour-shape"
    /// (c) A whole family (base emoji with all its variants) unseen.
    case family
}

/// Why an emoji that a rule chose to hold out was put back into training.
public enum EmojiReturnReason: String, Sendable, Equatable, CaseIterable, Codable {
    /// A word of its caption occurs in no training caption.
    case vocabulary
    /// A training emoji has the byte-identical picture.
    case sameImage = "same-image"
    /// A skin-toned emoji whose family would otherwise have no training emoji.
    case needsTrainingExample = "needs-training-example"
}

/// What the split needs to know about one emoji.
public struct EmojiSplitItem: Sendable, Equatable {
    /// Stable id (code points in hex joined by "-").
    public var id: String
    public var codePoints: [UInt32]
    /// The English caption whose words must be seen in training.
    public var caption: String
    public var group: String
    public var subgroup: String
    /// Emoji with equal keys have byte-identical pictures (nil: unique).
    public var imageKey: Int?

    public init(id: String, codePoints: [UInt32], caption: String, group: String, subgroup: String, imageKey: Int? = nil) {
        self.id = id
        self.codePoints = codePoints
        self.caption = caption
        self.group = group
        self.subgroup = subgroup
        self.imageKey = imageKey
    }
}

/// The split of one emoji and why.
public struct EmojiSplitDecision: Sendable, Equatable {
    public var split: EmojiSplitName
    /// The rule that holds it out (nil in training).
    public var reason: EmojiHoldoutReason?
    /// Set when a rule chose it but a check put it back into training.
    public var returned: EmojiReturnReason?
    /// Its family: the code points without skin-tone modifiers and U+FE0F.
    public var family: String
}

/// The knobs of the split. The defaults give 75.8 / 11.5 / 12.7 % (2,770 /
/// 420 / 465) on the 3,655 fully-qualified Emoji 15.0 emoji drawn by Debian's
/// Noto Color Emoji 2.042 with CLDR 41 names.
public struct EmojiSplitRules: Sendable, Equatable {
    /// Share of families (outside flags) held out whole, rule (c).
    public var familyFraction: Double = 0.07
    /// Share of skin-toned emoji (in families not held out) held out, rule (a).
    public var skinToneFraction: Double = 0.42
    /// Share of eligible colour x shape emoji held out, rule (b).
    public var colourShapeFraction: Double = 0.35
    /// Share of held-out emoji that go to test rather than val.
    public var testShare: Double = 0.5
    /// Mixed into every hash: change it to draw a different split.
    public var salt: String = "conaclip-emoji-split-v1"

    public init() {}

    /// A number in [0, 1) drawn from `key`: 64-bit FNV-1a over the UTF-8
    /// bytes of "salt/purpose/key", then MurmurHash3's 64-bit finaliser
    /// (FNV-1a alone barely changes its high bits when only the last
    /// characters differ, as in "1f600" and "1f601"). Stable across runs,
    /// processes and platforms, unlike `hashValue`, which Swift seeds randomly.
    public func fraction(_ purpose: String, _ key: String) -> Double {
        Double(EmojiSplit.mix64(EmojiSplit.fnv1a64("\(salt)/\(purpose)/\(key)")) >> 11) / Double(1 << 53)
    }
}

/// Assigns each emoji to train, val or test so that val and test measure
/// generalisation to unseen combinations, not memory.
///
/// Rules, in order (each draw is `EmojiSplitRules.fraction`, a stable hash):
/// 1. Flags (group "Flags") always train.
/// 2. Family holdout (c): a family is an emoji's code points without
///    skin-tone modifiers U+1F3FB...U+1F3FF and without U+FE0F, so "waving
///    hand" and its five tones are one family. `familyFraction` of families
///    are held out whole (one draw per family; the family goes to val or to
///    test as a whole).
/// 3. Skin tone (a): of the skin-toned emoji in families still in play,
///    `skinToneFraction` are held out (one draw per emoji). The family keeps
///    its other members in training and every tone stays in training with
///    other families, so what is tested is the unseen (family, tone) pairing.
/// 4. Colour x shape (b): emoji outside flags, without skin tones and
///    without ":" in the name, whose name holds exactly one colour word
///    (`EmojiSplit.colours`) are split into colour and shape ("large orange
///    diamond" -> "orange", "large diamond"). A pairing is eligible when its
///    colour occurs with another shape and its shape with another colour.
///    In draw order, those drawing below `colourShapeFraction` are held out
///    while their colour and their shape each keep a training emoji.
/// 5. Checks, repeated until nothing changes (a fixed point): a held-out
///    emoji goes back to train when (i) a word of its caption (lower-cased,
///    split at anything but letters and digits) is in no training caption,
///    (ii) a training emoji has the byte-identical picture, or (iii) it is
///    the first (by id) skin-toned emoji of a family with no training emoji
///    left (rule a). Returning only adds
///    training words and pictures, so the loop ends.
/// Held-out emoji go to test or val by another draw (per family for rule
/// c, per emoji otherwise) with share `testShare` for test.
public enum EmojiSplit {
    /// Colour words of rule (b), longest first so "light blue" wins over "blue".
    public static let colours = ["light blue", "orange", "yellow", "purple", "green", "brown", "black", "white",
                                 "pink", "grey", "gray", "blue", "red"]

    /// The decisions for `items`, in the same order.
    public static func assign(_ items: [EmojiSplitItem], rules: EmojiSplitRules = EmojiSplitRules()) -> [EmojiSplitDecision] {
        let families = items.map { family(of: $0.codePoints) }
        let isFlag = items.map { $0.group == "Flags" }
        var decisions = items.indices.map {
            EmojiSplitDecision(split: .train, reason: nil, returned: nil, family: families[$0])
        }
        func hold(_ index: Int, _ reason: EmojiHoldoutReason, splitKey: String) {
            decisions[index].reason = reason
            decisions[index].split = rules.fraction("test", splitKey) < rules.testShare ? .test : .val
        }

        // (c) whole families.
        var heldFamilies = Set<String>()
        for index in items.indices where !isFlag[index] && rules.fraction("family", families[index]) < rules.familyFraction {
            heldFamilies.insert(families[index])
            hold(index, .family, splitKey: "family:" + families[index])
        }

        // (a) skin-tone pairings.
        for index in items.indices where !isFlag[index] && !heldFamilies.contains(families[index])
            && !skinTones(in: items[index].codePoints).isEmpty
            && rules.fraction("skin-tone", items[index].id) < rules.skinToneFraction {
            hold(index, .skinTone, splitKey: items[index].id)
        }

        // (b) colour x shape pairings.
        var colourShape: [Int: (colour: String, shape: String)] = [:]
        for index in items.indices where !isFlag[index] && decisions[index].reason == nil
            && skinTones(in: items[index].codePoints).isEmpty && !items[index].caption.contains(":") {
            if let pair = colourAndShape(items[index].caption) { colourShape[index] = pair }
        }
        var shapesOfColour: [String: Set<String>] = [:], coloursOfShape: [String: Set<String>] = [:]
        for pair in colourShape.values {
            shapesOfColour[pair.colour, default: []].insert(pair.shape)
            coloursOfShape[pair.shape, default: []].insert(pair.colour)
        }
        var trainingWithColour: [String: Int] = [:], trainingWithShape: [String: Int] = [:]
        for pair in colourShape.values {
            trainingWithColour[pair.colour, default: 0] += 1
            trainingWithShape[pair.shape, default: 0] += 1
        }
        let candidates = colourShape.keys
            .map { (index: $0, draw: rules.fraction("colour-shape", items[$0].id)) }
            .sorted { ($0.draw, items[$0.index].id) < ($1.draw, items[$1.index].id) }
        for candidate in candidates where candidate.draw < rules.colourShapeFraction {
            guard let pair = colourShape[candidate.index],
                  (shapesOfColour[pair.colour]?.count ?? 0) >= 2, (coloursOfShape[pair.shape]?.count ?? 0) >= 2,
                  (trainingWithColour[pair.colour] ?? 0) >= 2, (trainingWithShape[pair.shape] ?? 0) >= 2 else { continue }
            trainingWithColour[pair.colour, default: 0] -= 1
            trainingWithShape[pair.shape, default: 0] -= 1
            hold(candidate.index, .colourShape, splitKey: items[candidate.index].id)
        }

        // Checks until a fixed point.
        let words = items.map { captionWords($0.caption) }
        let order = items.indices.sorted { items[$0].id < items[$1].id }
        var changed = true
        while changed {
            changed = false
            var vocabulary = Set<String>()
            var trainingImages = Set<Int>()
            var trainingFamilies = Set<String>()
            for index in items.indices where decisions[index].split == .train {
                vocabulary.formUnion(words[index])
                if let key = items[index].imageKey { trainingImages.insert(key) }
                trainingFamilies.insert(families[index])
            }
            func giveBack(_ index: Int, _ why: EmojiReturnReason) {
                decisions[index].split = .train
                decisions[index].returned = why
                vocabulary.formUnion(words[index])
                if let key = items[index].imageKey { trainingImages.insert(key) }
                trainingFamilies.insert(families[index])
                changed = true
            }
            for index in order where decisions[index].split != .train {
                if !words[index].allSatisfy(vocabulary.contains) {
                    giveBack(index, .vocabulary)
                } else if let key = items[index].imageKey, trainingImages.contains(key) {
                    giveBack(index, .sameImage)
                }
            }
            // Rule (a) promises the family is seen in training: give back its first member.
            for index in order where decisions[index].split != .train && decisions[index].reason == .skinTone
                && !trainingFamilies.contains(families[index]) {
                giveBack(index, .needsTrainingExample)
            }
        }
        return decisions
    }

    /// The skin-tone modifiers U+1F3FB...U+1F3FF in `codePoints`, in order.
    public static func skinTones(in codePoints: [UInt32]) -> [UInt32] {
        codePoints.filter { (0x1F3FB...0x1F3FF).contains($0) }
    }

    /// The family id: code points without skin tones and U+FE0F, in hex joined by "-".
    public static func family(of codePoints: [UInt32]) -> String {
        EmojiTestFile.id(for: codePoints.filter { !(0x1F3FB...0x1F3FF).contains($0) && $0 != EmojiFont.variationSelector16 })
    }

    /// The words of a caption: lower-cased runs of letters and digits.
    public static func captionWords(_ caption: String) -> [String] {
        caption.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// (colour, shape) when the caption holds exactly one colour word, e.g.
    /// "large orange diamond" -> ("orange", "large diamond").
    public static func colourAndShape(_ caption: String) -> (colour: String, shape: String)? {
        let words = captionWords(caption)
        var found: [(colour: String, start: Int, length: Int)] = []
        var position = 0
        while position < words.count {
            var matched = false
            for colour in colours {
                let parts = colour.split(separator: " ").map(String.init)
                if position + parts.count <= words.count, Array(words[position..<(position + parts.count)]) == parts {
                    found.append((colour, position, parts.count))
                    position += parts.count
                    matched = true
                    break
                }
            }
            if !matched { position += 1 }
        }
        guard found.count == 1, let hit = found.first else { return nil }
        var rest = words
        rest.removeSubrange(hit.start..<(hit.start + hit.length))
        guard !rest.isEmpty else { return nil }
        return (hit.colour, rest.joined(separator: " "))
    }

    /// MurmurHash3's fmix64: spreads every input bit over all output bits.
    public static func mix64(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x = x &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x = x &* 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }

    /// 64-bit FNV-1a of the UTF-8 bytes of `text`.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
