import Testing
@testable import ConaclipData

/// The split rules on synthetic emoji lists built to exercise each rule.
@Suite struct EmojiSplitTests {
    static let tones: [(UInt32, String)] = [(0x1F3FB, "light skin tone"), (0x1F3FC, "medium-light skin tone"),
                                            (0x1F3FD, "medium skin tone"), (0x1F3FE, "medium-dark skin tone"),
                                            (0x1F3FF, "dark skin tone")]

    static func item(_ codePoints: [UInt32], _ caption: String, group: String = "People & Body",
                     subgroup: String = "s", imageKey: Int? = nil) -> EmojiSplitItem {
        EmojiSplitItem(id: EmojiTestFile.id(for: codePoints), codePoints: codePoints, caption: caption,
                       group: group, subgroup: subgroup, imageKey: imageKey)
    }

    /// People families (neutral + five tones) whose words all recur across families.
    static func people() -> [EmojiSplitItem] {
        var items: [EmojiSplitItem] = []
        let people: [(UInt32, String)] = [(0x1F9D1, "person"), (0x1F468, "man"), (0x1F469, "woman")]
        let actions: [(UInt32, String)] = [(0x1F3C3, "running"), (0x1F6B6, "walking"), (0x1F3CA, "swimming"),
                                           (0x1F6B4, "biking"), (0x1F3C4, "surfing"), (0x1F9D7, "climbing")]
        for (who, whoName) in people {
            for (what, whatName) in actions {
                let base: [UInt32] = [what, 0x200D, who]
                items.append(item(base, "\(whoName) \(whatName)"))
                for (tone, toneName) in tones {
                    items.append(item([what, tone, 0x200D, who], "\(whoName) \(whatName): \(toneName)"))
                }
            }
        }
        return items
    }

    static func flags() -> [EmojiSplitItem] {
        (0..<20).map { i in
            item([0x1F1E6 + UInt32(i), 0x1F1E6 + UInt32(19 - i)], "flag: country \(i)", group: "Flags", subgroup: "country-flag")
        }
    }

    static func colourShapes() -> [EmojiSplitItem] {
        var items: [EmojiSplitItem] = []
        var next: UInt32 = 0x1F7E0
        for colour in ["red", "green", "blue", "yellow"] {
            for shape in ["circle", "square", "heart"] {
                items.append(item([next], "\(colour) \(shape)", group: "Symbols", subgroup: "geometric"))
                next += 1
            }
        }
        items.append(item([0x1F536], "large orange diamond", group: "Symbols", subgroup: "geometric"))
        items.append(item([0x1F538], "small orange diamond", group: "Symbols", subgroup: "geometric"))
        items.append(item([0x1F537], "large blue diamond", group: "Symbols", subgroup: "geometric"))
        items.append(item([0x1F957], "green salad", group: "Food & Drink", subgroup: "food"))
        return items
    }

    /// Every word of every held-out caption occurs in some training caption.
    func expectVocabularyClosed(_ items: [EmojiSplitItem], _ decisions: [EmojiSplitDecision]) {
        var vocabulary = Set<String>()
        for (item, decision) in zip(items, decisions) where decision.split == .train {
            vocabulary.formUnion(EmojiSplit.captionWords(item.caption))
        }
        for (item, decision) in zip(items, decisions) where decision.split != .train {
            let unseen = EmojiSplit.captionWords(item.caption).filter { !vocabulary.contains($0) }
            #expect(unseen.isEmpty, "\(item.caption) is held out with unseen words \(unseen)")
        }
    }

    @Test func hashIsFNV1aAndStable() {
        // FNV-1a 64 reference vectors (Fowler/Noll/Vo test suite).
        #expect(EmojiSplit.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(EmojiSplit.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(EmojiSplit.fnv1a64("foobar") == 0x85944171f73967e8)
        #expect(EmojiSplit.mix64(0) == 0)
        let rules = EmojiSplitRules()
        let a = rules.fraction("skin-tone", "1f44b-1f3fd")
        #expect(a == rules.fraction("skin-tone", "1f44b-1f3fd"))
        #expect(a >= 0 && a < 1)
        #expect(a != rules.fraction("skin-tone", "1f44b-1f3fe"))
        var other = rules
        other.salt = "another"
        #expect(a != other.fraction("skin-tone", "1f44b-1f3fd"))
        // Neighbouring ids spread over [0, 1): the finaliser fixes FNV-1a's weak high bits.
        let draws = (0..<1000).map { rules.fraction("x", String(0x1F600 + $0, radix: 16)) }
        #expect(draws.filter { $0 < 0.25 }.count > 200 && draws.filter { $0 < 0.25 }.count < 300)
    }

    @Test func flagsStayInTraining() {
        var rules = EmojiSplitRules()
        rules.familyFraction = 1
        rules.skinToneFraction = 1
        rules.colourShapeFraction = 1
        let items = Self.flags() + Self.people()
        let decisions = EmojiSplit.assign(items, rules: rules)
        for (item, decision) in zip(items, decisions) where item.group == "Flags" {
            #expect(decision.split == .train && decision.reason == nil, "\(item.caption)")
        }
    }

    @Test func skinToneHoldoutKeepsFamilyAndToneInTraining() {
        var rules = EmojiSplitRules()
        rules.familyFraction = 0
        rules.skinToneFraction = 0.5
        let items = Self.people()
        let decisions = EmojiSplit.assign(items, rules: rules)
        let heldOut = zip(items, decisions).filter { $0.1.split != .train }
        #expect(heldOut.count > 20 && heldOut.count < 70, "held out \(heldOut.count) of 90 toned emoji")
        #expect(heldOut.contains { $0.1.split == .val } && heldOut.contains { $0.1.split == .test })
        var trainingFamilies = Set<String>(), trainingTones = [UInt32: Set<String>]()
        for (item, decision) in zip(items, decisions) where decision.split == .train {
            trainingFamilies.insert(decision.family)
            for tone in EmojiSplit.skinTones(in: item.codePoints) { trainingTones[tone, default: []].insert(decision.family) }
        }
        for (item, decision) in heldOut {
            #expect(decision.reason == .skinTone)
            let tones = EmojiSplit.skinTones(in: item.codePoints)
            #expect(!tones.isEmpty)
            #expect(trainingFamilies.contains(decision.family), "family of \(item.caption) unseen in training")
            for tone in tones {
                // The tone is seen in training, but only with other families.
                let families = trainingTones[tone] ?? []
                #expect(!families.subtracting([decision.family]).isEmpty)
            }
        }
        expectVocabularyClosed(items, decisions)
    }

    @Test func aFamilyOfOnlyTonedEmojiKeepsOneInTraining() {
        var rules = EmojiSplitRules()
        rules.familyFraction = 0
        rules.skinToneFraction = 1
        // "kiss: person, person, <tone>, <tone>" has no untoned member with the same code points
        // (the untoned kiss is U+1F48F, another family).
        var items = Self.people() + [Self.item([0x1F48F], "kiss")]
        for (a, first) in Self.tones {
            for (b, second) in Self.tones where a != b {
                items.append(Self.item([0x1F9D1, a, 0x200D, 0x1F48B, 0x200D, 0x1F9D1, b],
                                       "kiss: person, person, \(first), \(second)"))
            }
        }
        let decisions = EmojiSplit.assign(items, rules: rules)
        let kisses = zip(items, decisions).filter { $0.0.caption.hasPrefix("kiss:") }
        let training = kisses.filter { $0.1.split == .train }
        #expect(training.count == 1)
        #expect(training.first?.1.returned == .needsTrainingExample)
        #expect(kisses.count == 20)
    }

    @Test func colourShapeHoldoutKeepsColourAndShapeInTraining() {
        var rules = EmojiSplitRules()
        rules.colourShapeFraction = 1
        rules.familyFraction = 0
        let items = Self.colourShapes()
        let decisions = EmojiSplit.assign(items, rules: rules)
        var trainingColours = Set<String>(), trainingShapes = Set<String>(), trainingPairs = Set<String>()
        for (item, decision) in zip(items, decisions) where decision.split == .train {
            if let pair = EmojiSplit.colourAndShape(item.caption) {
                trainingColours.insert(pair.colour)
                trainingShapes.insert(pair.shape)
                trainingPairs.insert(pair.colour + "|" + pair.shape)
            }
        }
        let heldOut = zip(items, decisions).filter { $0.1.split != .train }
        #expect(heldOut.count >= 4, "only \(heldOut.count) colour-shape pairings held out")
        for (item, decision) in heldOut {
            #expect(decision.reason == .colourShape)
            guard let pair = EmojiSplit.colourAndShape(item.caption) else { Issue.record("\(item.caption)"); continue }
            #expect(trainingColours.contains(pair.colour), "\(item.caption): colour unseen")
            #expect(trainingShapes.contains(pair.shape), "\(item.caption): shape unseen")
            #expect(!trainingPairs.contains(pair.colour + "|" + pair.shape))
        }
        // A shape with only one colour cannot be an unseen pairing.
        let salad = zip(items, decisions).first { $0.0.caption == "green salad" }
        #expect(salad?.1.split == .train)
        expectVocabularyClosed(items, decisions)
    }

    @Test func colourAndShapeParsing() {
        #expect(EmojiSplit.colourAndShape("large orange diamond")! == ("orange", "large diamond"))
        #expect(EmojiSplit.colourAndShape("light blue heart")! == ("light blue", "heart"))
        #expect(EmojiSplit.colourAndShape("black medium-small square")! == ("black", "medium small square"))
        #expect(EmojiSplit.colourAndShape("grinning face") == nil)
        #expect(EmojiSplit.colourAndShape("red and white") == nil)   // two colours
        #expect(EmojiSplit.colourAndShape("green") == nil)           // no shape
    }

    @Test func familyHoldoutTakesWholeFamilies() {
        var rules = EmojiSplitRules()
        rules.familyFraction = 0.5
        rules.skinToneFraction = 0
        let items = Self.people()
        let decisions = EmojiSplit.assign(items, rules: rules)
        var byFamily: [String: [EmojiSplitDecision]] = [:]
        for decision in decisions { byFamily[decision.family, default: []].append(decision) }
        let held = byFamily.filter { $0.value.contains { $0.reason == .family } }
        #expect(held.count >= 2 && held.count < byFamily.count, "\(held.count) of \(byFamily.count) families held out")
        for (family, members) in held {
            #expect(members.count == 6)
            #expect(members.allSatisfy { $0.reason == .family && $0.split != .train }, "\(family) partly in training")
            #expect(Set(members.map(\.split)).count == 1, "\(family) split across val and test")
        }
        expectVocabularyClosed(items, decisions)
    }

    @Test func unseenWordsAndSeenPicturesGoBackToTraining() {
        var rules = EmojiSplitRules()
        rules.familyFraction = 1
        // Everything is a held-out family at first; closure must bring back what is needed.
        let items = Self.people() + [Self.item([0x1F993], "zebra", group: "Animals & Nature")]
        let decisions = EmojiSplit.assign(items, rules: rules)
        let zebra = decisions.last
        #expect(zebra?.split == .train && zebra?.returned == .vocabulary)
        #expect(decisions.contains { $0.split != .train })
        expectVocabularyClosed(items, decisions)

        // Five tones drawn the same as the neutral picture (Noto's snowboarder).
        var tonesOnly = EmojiSplitRules()
        tonesOnly.familyFraction = 0
        tonesOnly.skinToneFraction = 0.5
        var same = Self.people()
        same.append(Self.item([0x1F3C2], "snowboarder", imageKey: 7))
        for (tone, name) in Self.tones { same.append(Self.item([0x1F3C2, tone], "snowboarder: \(name)", imageKey: 7)) }
        let sameDecisions = EmojiSplit.assign(same, rules: tonesOnly)
        var returned = 0
        for (item, decision) in zip(same, sameDecisions) where item.caption.hasPrefix("snowboarder") {
            #expect(decision.split == .train)
            if decision.reason != nil {
                #expect(decision.returned == .sameImage)
                returned += 1
            }
        }
        #expect(returned > 0, "no snowboarder tone drew below 0.5: the test no longer tests anything")
        expectVocabularyClosed(same, sameDecisions)
    }

    @Test func inputOrderDoesNotMatter() {
        let items = Self.flags() + Self.people() + Self.colourShapes()
        let forward = EmojiSplit.assign(items)
        let backward = EmojiSplit.assign(items.reversed())
        var byID: [String: EmojiSplitDecision] = [:]
        for (item, decision) in zip(items.reversed(), backward) { byID[item.id] = decision }
        for (item, decision) in zip(items, forward) {
            #expect(byID[item.id] == decision, "\(item.caption)")
        }
    }
}
