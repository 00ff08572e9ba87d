import Crypto
import TPMEngine
import TPMWire

/// Saved states and the export/import round trip.
public struct SavedTPM {
    public var permanent: [UInt8]
    public var volatile: [UInt8]

    public init(_ tpm: TPM) {
        permanent = tpm.exportPermanentState()
        volatile = tpm.exportVolatileState()
    }

    /// A new instance in exactly this state (any failure is a bug: the blobs are our own).
    public func load(_ world: FuzzWorld) -> TPM {
        do {
            return try TPM(environment: world.environment, permanentState: permanent, volatileState: volatile)
        } catch {
            fuzzFailure("a state the engine exported does not load: \(error)")
        }
    }
}

public enum StateCheck {
    /// The instance's state exports, loads into a new instance, and that instance exports the
    /// same bytes (docs/state-format.md: any state loads or throws; our own states load).
    public static func roundTrip(_ tpm: TPM, world: FuzzWorld, input: [UInt8]) {
        let first = SavedTPM(tpm)
        let copy: TPM
        do {
            copy = try TPM(environment: world.environment, permanentState: first.permanent, volatileState: first.volatile)
        } catch {
            fuzzFailure("exported state does not re-import: \(error)", input: input)
        }
        let second = SavedTPM(copy)
        if second.permanent != first.permanent {
            fuzzFailure(
                "permanent state differs after export/import (\(first.permanent.count) vs \(second.permanent.count) bytes)",
                input: input)
        }
        if second.volatile != first.volatile {
            fuzzFailure(
                "volatile state differs after export/import (\(first.volatile.count) vs \(second.volatile.count) bytes)",
                input: input)
        }
    }

    /// The framing of docs/state-format.md: magic "vTPM", version, part (1 permanent,
    /// 2 volatile), body length, body, SHA-256 of everything before it. Lets the state-import
    /// target reach the decoders behind the integrity digest.
    public static func seal(part: UInt32, version: UInt32, body: [UInt8]) -> [UInt8] {
        var w = TPMWriter(capacity: body.count + 48)
        w.u32(0x7654_504D)
        w.u32(version)
        w.u32(part)
        w.u32(UInt32(clamping: body.count))
        w.bytes(body)
        w.bytes(Array(SHA256.hash(data: w.bytes)))
        return w.bytes
    }

    /// (version, body) of a blob that `seal` made or the engine exported.
    public static func unseal(_ blob: [UInt8]) -> (version: UInt32, body: [UInt8]) {
        guard blob.count >= 48 else { return (0, []) }
        let version = UInt32(blob[4]) << 24 | UInt32(blob[5]) << 16 | UInt32(blob[6]) << 8 | UInt32(blob[7])
        return (version, Array(blob[16..<(blob.count - 32)]))
    }
}
