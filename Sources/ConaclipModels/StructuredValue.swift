import Foundation

/// A parsed JSON or YAML document as a plain tree, so that safetensors
/// headers, `config.json` files and YAML presets can be checked key by key
/// with errors that name the offending key, instead of failing as a whole.
enum StructuredValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([StructuredValue])
    case object([String: StructuredValue])

    /// A short description of the kind of value, for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }

    var object: [String: StructuredValue]? {
        if case let .object(value) = self { return value }
        return nil
    }

    /// The value as an integer: integers, and numbers with no fractional part.
    var integer: Int? {
        switch self {
        case let .int(value): return value
        case let .double(value):
            guard value.rounded() == value, abs(value) < 9.0e15 else { return nil }
            return Int(value)
        default: return nil
        }
    }

    /// The value as a number; numeric strings (such as YAML's `1e-5`, which
    /// YAML 1.1 reads as a string) are accepted too.
    var number: Double? {
        switch self {
        case let .int(value): return Double(value)
        case let .double(value): return value
        case let .string(text): return Double(text.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// Parses a JSON document. Returns the parser's complaint on failure.
    static func parseJSON(_ data: Data) -> Result<StructuredValue, JSONSyntaxError> {
        do {
            return .success(try JSONDecoder().decode(StructuredValue.self, from: data))
        } catch let DecodingError.dataCorrupted(context) {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return .failure(JSONSyntaxError(reason: underlying ?? context.debugDescription))
        } catch {
            return .failure(JSONSyntaxError(reason: "\(error)"))
        }
    }
}

/// Why a document is not valid JSON.
struct JSONSyntaxError: Error {
    let reason: String
}

extension StructuredValue: Decodable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: StructuredValue].self) {
            self = .object(value)
        } else {
            self = .array(try container.decode([StructuredValue].self))
        }
    }
}
