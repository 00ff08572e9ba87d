import TPMWire

/// Errors loading a saved state.
public enum StateError: Error, Sendable, Equatable {
    case malformed(String)
    case unsupportedVersion(UInt32)
    case authenticationFailed
}

extension TPM {
    /// The permanent (NV) part of the instance's state. PENDING(helper state): format.
    public func exportPermanentState() -> [UInt8] { [] }

    /// The volatile part (empty when powered off). PENDING(helper state): format.
    public func exportVolatileState() -> [UInt8] { [] }

    /// Recreates an instance from exported state; with `volatileState` it continues where it
    /// stopped (no power cycle), otherwise it is powered off. PENDING(helper state).
    public convenience init(environment: TPMEnvironment, permanentState: [UInt8], volatileState: [UInt8]? = nil) throws {
        throw StateError.malformed("not implemented")
    }

    /// The host has made the permanent state durable.
    public func acknowledgeNVWrite() { nvChanged = false }
}
