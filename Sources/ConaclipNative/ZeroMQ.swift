import CZeroMQ

/// Facts about the linked libzmq. The messaging layer itself lives in the
/// cluster module, built on these bindings.
public enum ZeroMQ {
    /// libzmq's version as "major.minor.patch".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }

    /// Whether this libzmq was built with CURVE encryption.
    public static var hasCurve: Bool { zmq_has("curve") != 0 }
}
