import ArgumentParser
import ConaclipCluster
import Foundation

/// `conaclip data`: builds the project's datasets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Build the project's datasets.",
        subcommands: [EmojiDataCommand.self])
}

/// `conaclip data emoji --out DIR`: the emoji image-text benchmark, built from
/// Debian's Noto Color Emoji font, Unicode emoji-test.txt and CLDR annotations.
struct EmojiDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emoji",
        abstract: "Build the emoji benchmark: 64x64 and 32x32 pictures, English and Chinese captions, a split.",
        discussion: """
            Needs the Debian packages fonts-noto-color-emoji, unicode-data and unicode-cldr-core \
            (`apt-get install fonts-noto-color-emoji unicode-data unicode-cldr-core`). Writes \
            DIR/manifest.jsonl (one emoji per line: id, image, image_32, caption, caption_zh, keywords, \
            group, subgroup, split, same_image_as, ...), DIR/split-stats.json, DIR/images/{64,32}/ID.png, \
            DIR/contact-sheet.png and DIR/contact-sheet.txt. Val and test hold out unseen skin-tone \
            pairings, unseen colour x shape pairings and whole families; flags stay in training. \
            The output is deterministic: running twice gives identical files.
            """)

    @Option(help: ArgumentHelp("Output directory (created if needed).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("The colour emoji font (CBDT/CBLC bitmaps).", valueName: "file"))
    var font = EmojiDatasetBuilder.Inputs().font

    @Option(help: ArgumentHelp("Unicode's emoji-test.txt.", valueName: "file"))
    var emojiTest = EmojiDatasetBuilder.Inputs().emojiTest

    @Option(help: ArgumentHelp("CLDR's common directory (with annotations/ and annotationsDerived/).", valueName: "dir"))
    var cldr = EmojiDatasetBuilder.Inputs().cldrCommon

    @Flag(help: "Print no progress.")
    var quiet = false

    func run() throws {
        let inputs = EmojiDatasetBuilder.Inputs(font: font, emojiTest: emojiTest, cldrCommon: cldr)
        let missing = inputs.missing()
        if !missing.isEmpty {
            var message = "missing input files:\n"
            for item in missing { message += "  \(item.path) (from Debian package \(item.package))\n" }
            message += "install them with:\n  \(EmojiDataError.installCommand(for: missing))"
            throw EmojiInputsMissing(description: message)
        }
        let quiet = self.quiet
        let summary = try EmojiDatasetBuilder.build(inputs: inputs, into: out) { done, total in
            if !quiet && (done % 500 == 0 || done == total) {
                FileHandle.standardError.write(Data("emoji: \(done)/\(total) pictures\n".utf8))
            }
        }
        let splits = EmojiSplitName.allCases.map { "\($0.rawValue) \(summary.splits[$0] ?? 0)" }.joined(separator: ", ")
        print("emoji: \(summary.written) of \(summary.fullyQualified) fully-qualified emoji written to \(out)")
        print("emoji: \(summary.withChineseCaption) with Chinese names; split: \(splits)")
        if !summary.skipped.isEmpty {
            print("emoji: \(summary.skipped.count) without a glyph in the font: \(summary.skipped.prefix(10).joined(separator: ", "))")
        }
    }
}

/// The emoji inputs are not installed; the message lists them and the apt-get command.
struct EmojiInputsMissing: Error, CustomStringConvertible {
    let description: String
}
