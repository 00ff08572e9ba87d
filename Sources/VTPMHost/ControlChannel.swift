import TPMEngine
import TPMWire

/// swtpm's control channel (swtpm's tpm_ioctl.h "ptm" protocol, used by QEMU's
/// `-tpmdev emulator`, libvirt, swtpm_ioctl and tpm2-tss's swtpm TCTI): a big-endian u32
/// command word, a command-specific request, and a response that starts with a u32 result
/// (0 = success, otherwise a TPM 1.2 style TPM_RESULT).
public enum PTM {
    /// Command words (CMD_*).
    public enum Command: UInt32, Sendable, CaseIterable {
        case getCapability = 1
        case initialize = 2
        case shutdown = 3
        case getTPMEstablished = 4
        case setLocality = 5
        case hashStart = 6
        case hashData = 7
        case hashEnd = 8
        case cancelTPMCommand = 9
        case storeVolatile = 10
        case resetTPMEstablished = 11
        case getStateBlob = 12
        case setStateBlob = 13
        case stop = 14
        case getConfig = 15
        case setDataFD = 16
        case setBufferSize = 17
        case getInfo = 18
        case lockStorage = 19
    }

    /// Result codes (TPM 1.2 TPM_RESULT values, as swtpm answers them).
    public enum Result {
        public static let success: UInt32 = 0
        public static let badParameter: UInt32 = 0x03
        public static let fail: UInt32 = 0x09
        public static let badOrdinal: UInt32 = 0x0A
        public static let badLocality: UInt32 = 0x3D
        /// TPM_IOERROR: SET_DATAFD while a data channel is already attached (as swtpm).
        public static let ioError: UInt32 = 0x1F
        /// TPM_RETRY (non-fatal): a state blob that does not exist. QEMU treats results
        /// with this bit as "nothing to transfer".
        public static let retry: UInt32 = 0x800
    }

    /// GET_CAPABILITY bits: bit n is set when the command it names is implemented.
    public struct Capabilities: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let initialize = Capabilities(rawValue: 1 << 0)
        public static let shutdown = Capabilities(rawValue: 1 << 1)
        public static let getTPMEstablished = Capabilities(rawValue: 1 << 2)
        public static let setLocality = Capabilities(rawValue: 1 << 3)
        public static let hashing = Capabilities(rawValue: 1 << 4)
        public static let cancelTPMCommand = Capabilities(rawValue: 1 << 5)
        public static let storeVolatile = Capabilities(rawValue: 1 << 6)
        public static let resetTPMEstablished = Capabilities(rawValue: 1 << 7)
        public static let getStateBlob = Capabilities(rawValue: 1 << 8)
        public static let setStateBlob = Capabilities(rawValue: 1 << 9)
        public static let stop = Capabilities(rawValue: 1 << 10)
        public static let getConfig = Capabilities(rawValue: 1 << 11)
        public static let setDataFD = Capabilities(rawValue: 1 << 12)
        public static let setBufferSize = Capabilities(rawValue: 1 << 13)
        public static let getInfo = Capabilities(rawValue: 1 << 14)
        /// The data channel accepts the TCG send-command prefix.
        public static let sendCommandHeader = Capabilities(rawValue: 1 << 15)
        public static let lockStorage = Capabilities(rawValue: 1 << 16)

        /// Exactly what `ControlChannel.handle` implements. Not here: the H-CRTM hash
        /// sequence (no _TPM_Hash_* in the engine); SET_DATAFD is added on Unix-socket control
        /// channels, which pass descriptors (UnixControlListener).
        public static let implemented: Capabilities = [
            .initialize, .shutdown, .getTPMEstablished, .setLocality, .cancelTPMCommand, .storeVolatile,
            .resetTPMEstablished, .getStateBlob, .setStateBlob, .stop, .getConfig, .setBufferSize,
            .getInfo, .sendCommandHeader, .lockStorage,
        ]
    }

    /// LOCK_STORAGE's retries are 10 ms apart and block the instance meanwhile: at most a
    /// minute (QEMU asks for 300, 3 s).
    public static let maxLockRetries: UInt32 = 6000
    /// INIT flag: delete the stored volatile state after reading it
    /// (PTM_INIT_FLAG_DELETE_VOLATILE).
    public static let initDeleteVolatile: UInt32 = 1
    /// State blob flag: the blob is encrypted (PTM_STATE_FLAG_ENCRYPTED). This host keeps
    /// no migration key, so it never sets it and refuses encrypted blobs.
    public static let stateFlagEncrypted: UInt32 = 2
    /// Blob types (PTM_BLOB_TYPE_*): permanent, volatile, and TPM 1.2's savestate, which a
    /// TPM 2.0 never has (Shutdown(STATE) data is part of our permanent state).
    public enum BlobType {
        public static let permanent: UInt32 = 1
        public static let volatile: UInt32 = 2
        public static let savestate: UInt32 = 3
    }

    /// swtpm reads a request into a buffer this large: the command word plus the largest
    /// request (HASH_DATA: u32 length and 4096 data bytes).
    public static let requestBufferSize = 4 + 4 + 4096
    /// SET_BUFFERSIZE: the engine works with one buffer size, MAX_COMMAND_SIZE, which is
    /// therefore also the minimum and the maximum.
    public static let bufferSize = UInt32(TPMLimits.maxCommandSize)
}

/// One control-channel request as swtpm delimits it.
public struct ControlMessage: Equatable, Sendable {
    public var code: UInt32
    /// Everything after the command word that arrived with it.
    public var body: [UInt8]
    /// A SET_STATEBLOB whose reads brought more bytes than its length field announced.
    public var overrun = false
}

/// Delimits control-channel requests the way swtpm does (swtpm ctrlchannel.c): it reads
/// until it has the bytes the command needs, and everything received by then is the
/// request (up to its buffer). Extra bytes that came along are part of the request, so
/// QEMU's requests padded to the size of the C union (SET_LOCALITY as 8 bytes where
/// swtpm needs 5) are read as one request. Most commands check the request length
/// exactly and answer TPM_BAD_PARAMETER otherwise.
///
/// Feed it what each read() returned: `append` then `next` until nil. A request that stays
/// incomplete gets no answer; the server closes such a connection after
/// `ControlFramer.timeout`, as swtpm does after 500 ms.
public struct ControlFramer: Sendable {
    /// How long swtpm waits for the rest of a request.
    public static let timeoutMilliseconds: Int64 = 500

    private var buffer = ByteQueue()
    /// Whether the bytes pending arrived in the read that `next` is looking at (only these
    /// belong to the request being completed).
    private var failed = false

    public init() {}

    /// Adds the bytes of one read.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard !failed else { return }
        buffer.append(bytes)
        if buffer.count > PTM.requestBufferSize + StateStore.maxBlobSize + 16 { failed = true }
    }

    /// The bytes a request with this command word needs before swtpm processes it.
    private func needed() -> Int? {
        guard let code = buffer.u32(at: 0) else { return nil }
        switch PTM.Command(rawValue: code) {
        case .initialize: return 8
        case .setLocality, .resetTPMEstablished: return 5
        case .getStateBlob: return 16
        case .hashData:
            guard let n = buffer.u32(at: 4) else { return 8 }
            return 8 + Int(n)
        case .setStateBlob:
            guard let n = buffer.u32(at: 12) else { return 16 }
            return 16 + Int(n)
        default: return 4
        }
    }

    /// The next complete request. `nil` means: wait for more bytes.
    public mutating func next() -> ControlMessage? {
        guard !failed, let needed = needed(), let code = buffer.u32(at: 0) else { return nil }
        if code == PTM.Command.setStateBlob.rawValue {
            // The blob is read to its announced length; bytes beyond it in the same read
            // make the request invalid (and are consumed with it).
            guard needed <= 16 + StateStore.maxBlobSize else {
                failed = true
                buffer.removeAll()
                return ControlMessage(code: code, body: [], overrun: true)
            }
            guard buffer.count >= needed else { return nil }
            let overrun = buffer.count > needed
            var all = buffer.take(buffer.count)
            all.removeLast(all.count - needed)
            return ControlMessage(code: code, body: Array(all.dropFirst(4)), overrun: overrun)
        }
        // swtpm stops reading when the request is complete or its buffer is full.
        guard buffer.count >= min(needed, PTM.requestBufferSize) else { return nil }
        let bytes = buffer.take(PTM.requestBufferSize)
        return ControlMessage(code: code, body: Array(bytes.dropFirst(4)))
    }

    /// Part of a request has arrived and the rest has not.
    public var hasPartialMessage: Bool { !failed && !buffer.isEmpty }
    /// A state blob too large to accept: the server answers and closes.
    public var isFailed: Bool { failed }
}

/// What the server does after answering a control request.
public enum ControlDisposition: Equatable, Sendable {
    case keepOpen
    /// SHUTDOWN: answer, then terminate the process.
    case terminate
    /// The request stream cannot be followed any further.
    case close
}

/// The behaviour of each control command, byte for byte as swtpm 0.7 answers it (the
/// expected values in ControlChannelTests were recorded from a real swtpm 0.7.1).
public enum ControlChannel {
    public struct Options: Sendable {
        /// `--locality reject-locality-4`.
        public var rejectLocality4 = false
        /// The channel can receive the data socket (SET_DATAFD): a Unix-socket control channel.
        public var descriptorPassing = false
        public init(rejectLocality4: Bool = false, descriptorPassing: Bool = false) {
            self.rejectLocality4 = rejectLocality4
            self.descriptorPassing = descriptorPassing
        }

        /// The GET_CAPABILITY word of a channel with these options.
        public var capabilities: PTM.Capabilities {
            descriptorPassing ? PTM.Capabilities.implemented.union(.setDataFD) : PTM.Capabilities.implemented
        }
    }

    static func result(_ r: UInt32) -> [UInt8] { MSSim.u32(r) }

    /// Answers one request. Runs on the instance's queue.
    public static func handle(_ m: ControlMessage, core: InstanceCore, options: Options = Options()) -> ([UInt8], ControlDisposition) {
        let n = m.body.count
        core.touch()
        guard let command = PTM.Command(rawValue: m.code) else {
            core.log.error("unknown control command 0x\(String(m.code, radix: 16))")
            return (result(PTM.Result.badOrdinal), .keepOpen)
        }
        switch command {
        case .getCapability:
            // 64-bit capability word (result 0 in the upper half in newer swtpm headers).
            var w = TPMWriter(capacity: 8)
            w.u64(UInt64(options.capabilities.rawValue))
            return (w.bytes, .keepOpen)

        case .initialize:
            guard n == 4 else { return (result(PTM.Result.badParameter), .keepOpen) }
            let flags = UInt32(m.body[0]) << 24 | UInt32(m.body[1]) << 16 | UInt32(m.body[2]) << 8 | UInt32(m.body[3])
            do {
                // swtpm (tpmlib_start) loads a stored volatile state in any case; the flag only
                // deletes the file after reading it. QEMU sets it when resuming after a
                // migration, so the state set by SET_STATEBLOB must be used. We delete a
                // resumed volatile state always (InstanceCore.powerOn), so the flag changes
                // nothing here.
                _ = flags & PTM.initDeleteVolatile
                try core.powerOn(resumeVolatile: true)
                return (result(PTM.Result.success), .keepOpen)
            } catch {
                core.log.error("Could not initialize the TPM: \(error)")
                return (result(PTM.Result.fail), .keepOpen)
            }

        case .stop:
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            core.powerOff()
            return (result(PTM.Result.success), .keepOpen)

        case .shutdown:
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            do { try core.flush() } catch { core.log.error("cannot save the TPM state: \(error)") }
            core.powerOff()
            return (result(PTM.Result.success), .terminate)

        case .getTPMEstablished:
            guard core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            return (result(PTM.Result.success) + [core.tpmEstablished ? 1 : 0, 0, 0, 0], .keepOpen)

        case .resetTPMEstablished:
            guard core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            guard n >= 1 else { return (result(PTM.Result.badParameter), .keepOpen) }
            let ok = m.body[0] <= 4 && core.resetEstablished(locality: m.body[0])
            return (result(ok ? PTM.Result.success : PTM.Result.badLocality), .keepOpen)

        case .setLocality:
            guard n >= 1 else { return (result(PTM.Result.badParameter), .keepOpen) }
            let locality = m.body[0]
            if locality > 4 || (locality == 4 && options.rejectLocality4) {
                return (result(PTM.Result.badLocality), .keepOpen)
            }
            core.locality = locality
            return (result(PTM.Result.success), .keepOpen)

        case .cancelTPMCommand:
            guard core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            // Commands run to completion one at a time on the instance's queue, so by the
            // time this runs none is in progress: there is nothing to cancel (libtpms, too,
            // only flags the request for long-running operations).
            return (result(PTM.Result.success), .keepOpen)

        case .storeVolatile:
            guard core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            do {
                try core.storeVolatile()
                return (result(PTM.Result.success), .keepOpen)
            } catch {
                core.log.error("cannot store the volatile state: \(error)")
                return (result(PTM.Result.fail), .keepOpen)
            }

        case .getStateBlob:
            guard core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            guard n >= 12 else { return (result(PTM.Result.badParameter), .keepOpen) }
            var r = TPMReader(m.body)
            _ = try? r.u32()  // state_flags: only "decrypted", and nothing here is encrypted
            let type = (try? r.u32()) ?? 0
            let offset = Int((try? r.u32()) ?? 0)
            let reply = stateBlobReply(type: type, offset: offset, core: core)
            // QEMU fetches permanent, volatile, then savestate: after the last one the
            // destination may take the state (swtpm `--migration release-lock-outgoing`).
            if type == PTM.BlobType.savestate { core.releaseStorageAfterOutgoingMigration() }
            return (reply, .keepOpen)

        case .setStateBlob:
            guard !core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            // The state arrives: this side owns it from now on (swtpm takes the lock deferred
            // by `--migration incoming` here, and answers TPM_IOERROR when it cannot).
            guard core.ensureStorageLocked() else { return (result(PTM.Result.ioError), .keepOpen) }
            return (result(setStateBlob(m, core: core)), .keepOpen)

        case .lockStorage:
            // {u32 retries} -> {result}: lock the state directory, retrying every 10 ms while
            // another process holds it; allowed in any power state (swtpm 0.8).
            guard n >= 4 else { return (result(PTM.Result.badParameter), .keepOpen) }
            let retries = UInt32(m.body[0]) << 24 | UInt32(m.body[1]) << 16 | UInt32(m.body[2]) << 8 | UInt32(m.body[3])
            let locked = core.lockStorage(retries: min(retries, PTM.maxLockRetries))
            return (result(locked ? PTM.Result.success : PTM.Result.fail), .keepOpen)

        case .getConfig:
            guard n == 0 else { return (result(PTM.Result.badParameter), .keepOpen) }
            // PTM_CONFIG_FLAG_FILE_KEY (1), PTM_CONFIG_FLAG_MIGRATION_KEY (2).
            let config: UInt32 = (core.store.cipher != nil ? 1 : 0) | (core.migrationCipher != nil ? 2 : 0)
            return (result(PTM.Result.success) + result(config), .keepOpen)

        case .setBufferSize:
            guard n >= 4 else { return (result(PTM.Result.badParameter), .keepOpen) }
            let requested = UInt32(m.body[0]) << 24 | UInt32(m.body[1]) << 16 | UInt32(m.body[2]) << 8 | UInt32(m.body[3])
            // A size may only be set while the TPM is stopped; 0 only asks.
            guard requested == 0 || !core.isRunning else { return (result(PTM.Result.badOrdinal), .keepOpen) }
            let size = PTM.bufferSize
            return (result(PTM.Result.success) + result(size) + result(size) + result(size), .keepOpen)

        case .getInfo:
            // {u64 flags, u32 offset, u32 pad} -> {result, totlength, length, JSON from offset};
            // the JSON is NUL-terminated and the NUL counts, as swtpm sends it.
            guard n >= 16 else { return (result(PTM.Result.badParameter), .keepOpen) }
            var r = TPMReader(m.body)
            let flags = (try? r.u64()) ?? 0
            let offset = Int((try? r.u32()) ?? 0)
            let json = Array(info(flags: flags).utf8) + [0]
            let data = offset < json.count ? Array(json[offset...]) : []
            return (result(PTM.Result.success) + result(UInt32(json.count)) + result(UInt32(data.count)) + data, .keepOpen)

        case .hashStart, .hashData, .hashEnd, .setDataFD:
            // Not implemented (and not in the capability word): answered like an unknown
            // command. SET_DATAFD is answered by UnixControlListener before it gets here.
            return (result(PTM.Result.badOrdinal), .keepOpen)
        }
    }

    /// GET_INFO's JSON for the flags asked (SWTPM_INFO_TPMSPECIFICATION 1,
    /// SWTPM_INFO_TPMATTRIBUTES 2, SWTPM_INFO_TPMFEATURES 4), in swtpm's shape with our values.
    static func info(flags: UInt64) -> String {
        var parts: [String] = []
        if flags & 1 != 0 { parts.append(#""TPMSpecification":{"family":"2.0","level":0,"revision":159}"#) }
        if flags & 2 != 0 {
            let hex = { (v: UInt32) in String(v, radix: 16, uppercase: true).leftPadded(8) }
            parts.append(
                #""TPMAttributes":{"manufacturer":"id:\#(hex(TPMIdentityInfo.manufacturer))","#
                    + #""version":"id:\#(hex(TPMIdentityInfo.firmwareVersion1))","model":"vtpm"}"#)
        }
        if flags & 4 != 0 { parts.append(#""TPMFeatures":{"RSAKeySizes":[1024,2048,3072,4096]}"#) }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// GET_STATEBLOB's answer: {result, state_flags, totlength, length, data}, the whole
    /// blob from `offset` in one answer as swtpm sends it.
    static func stateBlobReply(type: UInt32, offset: Int, core: InstanceCore) -> [UInt8] {
        let blob: StateStore.Blob
        switch type {
        case PTM.BlobType.permanent: blob = .permanent
        case PTM.BlobType.volatile: blob = .volatile
        default:
            // savestate (and unknown types): no such blob.
            return result(PTM.Result.retry) + result(0) + result(0) + result(0)
        }
        var bytes: [UInt8]
        var flags: UInt32 = 0
        do {
            bytes = try core.exportState(blob)
            if let cipher = core.migrationCipher {
                bytes = try cipher.seal(bytes, role: "migration-" + blob.rawValue)
                flags = PTM.stateFlagEncrypted
            }
        } catch {
            core.log.error("cannot get the \(blob.rawValue) state: \(error)")
            return result(PTM.Result.fail) + result(0) + result(0) + result(0)
        }
        let data = offset < bytes.count ? Array(bytes[offset...]) : []
        return result(PTM.Result.success) + result(flags) + result(UInt32(data.count)) + result(UInt32(data.count)) + data
    }

    /// SET_STATEBLOB: {state_flags, type, length, data}.
    static func setStateBlob(_ m: ControlMessage, core: InstanceCore) -> UInt32 {
        guard !m.overrun, m.body.count >= 12 else { return PTM.Result.badParameter }
        var r = TPMReader(m.body)
        let flags = (try? r.u32()) ?? 0
        let type = (try? r.u32()) ?? 0
        let length = Int((try? r.u32()) ?? 0)
        guard r.remaining == length else { return PTM.Result.badParameter }
        var data = r.rest()
        // With a migration key only encrypted blobs are taken (a plain one could be a
        // downgrade); without one, encrypted blobs cannot be read.
        if let cipher = core.migrationCipher, !data.isEmpty {
            guard flags & PTM.stateFlagEncrypted != 0 else {
                core.log.error("SET_STATEBLOB: a migration key is configured and the blob is not encrypted")
                return PTM.Result.badParameter
            }
            let role = "migration-" + (type == PTM.BlobType.permanent ? "vtpm-permanent" : "vtpm-volatile")
            do { data = try cipher.open(data, role: role) } catch {
                core.log.error("SET_STATEBLOB: \(error)")
                return PTM.Result.badParameter
            }
        } else if flags & PTM.stateFlagEncrypted != 0 {
            core.log.error("SET_STATEBLOB: the blob is encrypted and no migration key is configured")
            return PTM.Result.badParameter
        }
        let blob: StateStore.Blob
        switch type {
        case PTM.BlobType.permanent: blob = .permanent
        case PTM.BlobType.volatile: blob = .volatile
        case PTM.BlobType.savestate:
            // A TPM 2.0 has no savestate: an empty one (what QEMU sends) is accepted.
            return data.isEmpty ? PTM.Result.success : PTM.Result.badParameter
        default:
            return PTM.Result.badParameter
        }
        do {
            try core.importState(blob, data)
            return PTM.Result.success
        } catch {
            core.log.error("cannot set the \(blob.rawValue) state: \(error)")
            if case .load = error { return PTM.Result.badParameter }
            return PTM.Result.fail
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
