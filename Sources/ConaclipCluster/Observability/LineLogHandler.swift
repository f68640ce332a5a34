import Foundation
import Logging

/// A swift-log handler writing one plain line per record to standard error:
/// `TIME LABEL LEVEL: message key=value ...` (UTC time with milliseconds,
/// metadata sorted by key). Used by the coordinator, the workers and the
/// launcher so their logs interleave readably in one terminal or file.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { key, value in
            let text = "\(value)"
            return text.contains(" ") || text.isEmpty ? "\(key)=\"\(text)\"" : "\(key)=\(text)"
        }
        let line = "\(Self.timestamp()) \(label) \(event.level): \(event.message)"
            + (fields.isEmpty ? "" : " " + fields.joined(separator: " ")) + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// A logger for `label` writing through this handler.
    public static func logger(label: String, level: Logger.Level = .info) -> Logger {
        Logger(label: label) { label in LineLogHandler(label: label, level: level) }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(now.tv_nsec / 1_000_000))
    }
}
