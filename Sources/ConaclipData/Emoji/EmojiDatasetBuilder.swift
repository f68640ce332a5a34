import Foundation

/// Builds the project's emoji benchmark: every fully-qualified emoji of
/// Unicode's emoji-test.txt drawn from the Noto Color Emoji font at 64x64
/// and 32x32 (RGB, composited on white), captioned in English (emoji-test
/// names, CLDR keywords) and Chinese (CLDR names and keywords), and split
/// into train / val / test by `EmojiSplit`.
///
/// Output, all deterministic (a second run gives byte-identical files):
/// `manifest.jsonl`, `split-stats.json`, `images/64/ID.png`,
/// `images/32/ID.png`, `contact-sheet.png` and `contact-sheet.txt` (the
/// sheet's captions in grid order).
public enum EmojiDatasetBuilder {
    /// Where the inputs are; the defaults are where Debian packages put them.
    public struct Inputs: Sendable, Equatable {
        public var font: String
        public var emojiTest: String
        /// CLDR's `common` directory (holding annotations/ and annotationsDerived/).
        public var cldrCommon: String

        public init(font: String = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
                    emojiTest: String = "/usr/share/unicode/emoji/emoji-test.txt",
                    cldrCommon: String = "/usr/share/unicode/cldr/common") {
            self.font = font
            self.emojiTest = emojiTest
            self.cldrCommon = cldrCommon
        }

        /// The CLDR annotation file of `language`, derived (sequences) or not.
        public func annotations(_ language: String, derived: Bool) -> String {
            "\(cldrCommon)/\(derived ? "annotationsDerived" : "annotations")/\(language).xml"
        }

        /// Every input file with the Debian package that provides it.
        public var required: [EmojiDataError.MissingInput] {
            var files = [EmojiDataError.MissingInput(path: font, package: "fonts-noto-color-emoji"),
                         EmojiDataError.MissingInput(path: emojiTest, package: "unicode-data")]
            for language in ["en", "zh"] {
                for derived in [false, true] {
                    files.append(EmojiDataError.MissingInput(path: annotations(language, derived: derived),
                                                             package: "unicode-cldr-core"))
                }
            }
            return files
        }

        /// The input files that do not exist.
        public func missing() -> [EmojiDataError.MissingInput] {
            required.filter { !FileManager.default.isReadableFile(atPath: $0.path) }
        }
    }

    /// Choices that are not inputs.
    public struct Options: Sendable, Equatable {
        public var rules = EmojiSplitRules()
        /// Pictures on the contact sheet per split (train, val, test).
        public var contactSheetSamples: [EmojiSplitName: Int] = [.train: 24, .val: 12, .test: 12]
        public var contactSheetColumns = 12
        public init() {}
    }

    /// What a build produced.
    public struct Summary: Sendable, Equatable {
        /// Fully-qualified emoji in emoji-test.txt.
        public var fullyQualified: Int
        /// Emoji written with pictures (the manifest's lines).
        public var written: Int
        public var withChineseCaption: Int
        public var splits: [EmojiSplitName: Int]
        /// Emoji skipped because the font draws them with no single bitmap, by id.
        public var skipped: [String]
        /// How the output's files are named, relative to the output directory.
        public var files: [String]
    }

    /// The sides of the written pictures: `image` and `image_32`.
    public static let sizes = (large: 64, small: 32)

    /// Builds the benchmark into `directory` (created if needed). `progress`
    /// is called with (done, total) as pictures are written.
    public static func build(inputs: Inputs, into directory: String, options: Options = Options(),
                             progress: ((Int, Int) -> Void)? = nil) throws(EmojiDataError) -> Summary {
        let missing = inputs.missing()
        guard missing.isEmpty else { throw EmojiDataError.missingInputs(missing) }

        let entries = try EmojiTestFile.parse(readText(inputs.emojiTest), file: inputs.emojiTest)
            .filter { $0.qualification == .fullyQualified }
        guard !entries.isEmpty else { throw EmojiDataError.empty("\(inputs.emojiTest) lists no fully-qualified emoji") }
        let english = try annotations(inputs, language: "en")
        let chinese = try annotations(inputs, language: "zh")
        let font: EmojiFont
        do { font = try EmojiFont(contentsOfFile: inputs.font) } catch { throw EmojiDataError.font(error) }

        try makeDirectory(directory + "/images/\(sizes.large)")
        try makeDirectory(directory + "/images/\(sizes.small)")

        // Pictures.
        struct Drawn {
            var entry: EmojiTestEntry
            var glyph: UInt16
            var match: EmojiFont.Match
            var png: [UInt8]
        }
        var drawn: [Drawn] = []
        var skipped: [String] = []
        var workspace = ResamplingWorkspace()
        for (done, entry) in entries.enumerated() {
            guard let found = font.glyph(for: entry.codePoints) else {
                skipped.append(entry.id)
                continue
            }
            let square: RGBImage
            do {
                square = try squarePicture(font.bitmaps.pngData(glyph: found.glyph), id: entry.id)
            } catch let error as EmojiFontError {
                throw EmojiDataError.font(error)
            } catch let error as EmojiDataError {
                throw error
            } catch {
                throw EmojiDataError.image(id: entry.id, detail: "\(error)")
            }
            let large = ImageResampling.resizeBicubic(square, width: sizes.large, height: sizes.large, workspace: &workspace)
            let small = ImageResampling.resizeBicubic(square, width: sizes.small, height: sizes.small, workspace: &workspace)
            let largePNG = try encode(large, id: entry.id)
            try write(largePNG, to: directory + "/" + imagePath(entry.id, side: sizes.large))
            try write(try encode(small, id: entry.id), to: directory + "/" + imagePath(entry.id, side: sizes.small))
            drawn.append(Drawn(entry: entry, glyph: found.glyph, match: found.match, png: largePNG))
            progress?(done + 1, entries.count)
        }
        guard !drawn.isEmpty else { throw EmojiDataError.empty("the font draws none of the \(entries.count) emoji") }

        // Byte-identical pictures.
        var imageKeys: [[UInt8]: Int] = [:]
        var idsByKey: [Int: [String]] = [:]
        let keys = drawn.map { item -> Int in
            let key = imageKeys[item.png] ?? imageKeys.count
            imageKeys[item.png] = key
            idsByKey[key, default: []].append(item.entry.id)
            return key
        }

        // Split and records.
        let decisions = EmojiSplit.assign(drawn.indices.map { i in
            EmojiSplitItem(id: drawn[i].entry.id, codePoints: drawn[i].entry.codePoints, caption: drawn[i].entry.name,
                           group: drawn[i].entry.group, subgroup: drawn[i].entry.subgroup,
                           imageKey: (idsByKey[keys[i]]?.count ?? 0) > 1 ? keys[i] : nil)
        }, rules: options.rules)
        var records: [EmojiManifestRecord] = []
        for (i, item) in drawn.enumerated() {
            let entry = item.entry
            let en = english.lookup(entry.codePoints)
            let zh = chinese.lookup(entry.codePoints)
            records.append(EmojiManifestRecord(
                id: entry.id, codePoints: entry.codePoints,
                image: imagePath(entry.id, side: sizes.large), image32: imagePath(entry.id, side: sizes.small),
                caption: entry.name, captionZh: zh?.tts, captionCLDR: en?.tts,
                keywords: en?.keywords ?? [], keywordsZh: zh?.keywords ?? [],
                group: entry.group, subgroup: entry.subgroup,
                split: decisions[i].split, heldOutReason: decisions[i].split == .train ? nil : decisions[i].reason,
                returnedToTrain: decisions[i].returned, family: decisions[i].family,
                sameImageAs: (idsByKey[keys[i]] ?? []).filter { $0 != entry.id }.sorted(),
                version: entry.version, glyph: Int(item.glyph), glyphMatch: item.match))
        }
        records = EmojiManifest.sorted(records)

        try write(Array(EmojiManifest.jsonl(records).utf8), to: directory + "/manifest.jsonl")
        let extra: [(String, OrderedJSON)] = [
            ("fully_qualified_in_emoji_test", .int(entries.count)),
            ("skipped_without_glyph", .array(skipped.map(OrderedJSON.string))),
            ("font_ppem", .int(font.bitmaps.ppem)),
            ("matched_without_fe0f", .int(records.filter { $0.glyphMatch == .withoutVariationSelector }.count)),
            ("image_sizes", .array([.int(sizes.large), .int(sizes.small)])),
            ("rules", .object([
                ("family_fraction", .fixed(options.rules.familyFraction, decimals: 4)),
                ("skin_tone_fraction", .fixed(options.rules.skinToneFraction, decimals: 4)),
                ("colour_shape_fraction", .fixed(options.rules.colourShapeFraction, decimals: 4)),
                ("test_share", .fixed(options.rules.testShare, decimals: 4)),
                ("salt", .string(options.rules.salt)),
            ])),
        ]
        let stats = EmojiManifest.statistics(records, extra: extra).serialized(pretty: true) + "\n"
        try write(Array(stats.utf8), to: directory + "/split-stats.json")

        // Contact sheet: samples of each split, train first, in draw order.
        var sheetRecords: [EmojiManifestRecord] = []
        for split in EmojiSplitName.allCases {
            let count = options.contactSheetSamples[split] ?? 0
            sheetRecords += records.filter { $0.split == split }
                .sorted { (options.rules.fraction("sheet", $0.id), $0.id) < (options.rules.fraction("sheet", $1.id), $1.id) }
                .prefix(count)
        }
        var sheetImages: [RGBImage] = []
        var sheetText = ""
        let columns = max(1, options.contactSheetColumns)
        for (index, record) in sheetRecords.enumerated() {
            guard let position = drawn.firstIndex(where: { $0.entry.id == record.id }) else { continue }
            do { sheetImages.append(try PNGCodec.decode(drawn[position].png)) } catch {
                throw EmojiDataError.image(id: record.id, detail: "re-reading its picture: \(error)")
            }
            sheetText += "row \(index / columns + 1) col \(index % columns + 1)\t\(record.split.rawValue)\t\(record.id)\t"
                + "\(record.caption)\t\(record.captionZh ?? "")\n"
        }
        let sheet = ContactSheet(columns: columns, cellSize: sizes.large, spacing: 4)
        let sheetPNG: [UInt8]
        do { sheetPNG = try sheet.renderPNG(sheetImages) } catch {
            throw EmojiDataError.image(id: "contact-sheet", detail: "\(error)")
        }
        try write(sheetPNG, to: directory + "/contact-sheet.png")
        try write(Array(sheetText.utf8), to: directory + "/contact-sheet.txt")

        var splits: [EmojiSplitName: Int] = [:]
        for record in records { splits[record.split, default: 0] += 1 }
        return Summary(fullyQualified: entries.count, written: records.count,
                       withChineseCaption: records.filter { $0.captionZh != nil }.count, splits: splits,
                       skipped: skipped,
                       files: ["manifest.jsonl", "split-stats.json", "contact-sheet.png", "contact-sheet.txt",
                               "images/\(sizes.large)/", "images/\(sizes.small)/"])
    }

    /// The relative path of an emoji's picture of side `side`.
    public static func imagePath(_ id: String, side: Int) -> String {
        "images/\(side)/\(id).png"
    }

    /// Decodes a glyph's PNG (alpha composited on white) and centres it on a
    /// white square as large as its longer side, so resizing keeps the aspect.
    public static func squarePicture(_ png: [UInt8], id: String) throws(EmojiDataError) -> RGBImage {
        let decoded: RGBImage
        do { decoded = try PNGCodec.decode(png) } catch {
            throw EmojiDataError.image(id: id, detail: "its bitmap is not a readable PNG: \(error)")
        }
        if decoded.width == decoded.height { return decoded }
        let side = max(decoded.width, decoded.height)
        var square = RGBImage(width: side, height: side)
        square.paste(decoded, x: (side - decoded.width) / 2, y: (side - decoded.height) / 2)
        return square
    }

    private static func annotations(_ inputs: Inputs, language: String) throws(EmojiDataError) -> CLDRAnnotations {
        let primaryPath = inputs.annotations(language, derived: false)
        let derivedPath = inputs.annotations(language, derived: true)
        var primary = try CLDRAnnotations(xml: readBytes(primaryPath), file: primaryPath)
        primary.merge(try CLDRAnnotations(xml: readBytes(derivedPath), file: derivedPath))
        return primary
    }

    private static func readBytes(_ path: String) throws(EmojiDataError) -> [UInt8] {
        do { return try ImageCodec.readFile(path) } catch {
            throw EmojiDataError.unreadable(path: path, detail: error.detail)
        }
    }

    private static func readText(_ path: String) throws(EmojiDataError) -> String {
        let bytes = try readBytes(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EmojiDataError.unreadable(path: path, detail: "not UTF-8 text")
        }
        return text
    }

    private static func encode(_ image: RGBImage, id: String) throws(EmojiDataError) -> [UInt8] {
        do { return try PNGCodec.encode(image) } catch {
            throw EmojiDataError.image(id: id, detail: "PNG encoding failed: \(error)")
        }
    }

    private static func write(_ bytes: [UInt8], to path: String) throws(EmojiDataError) {
        do { try ImageCodec.writeFile(bytes, to: path) } catch {
            throw EmojiDataError.unwritable(path: path, detail: error.detail)
        }
    }

    private static func makeDirectory(_ path: String) throws(EmojiDataError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw EmojiDataError.unwritable(path: path, detail: error.localizedDescription)
        }
    }
}
