import FuzzSupport
import TPMEngine
import TPMWire
import VTPMHost

// State import: TPM(environment:permanentState:volatileState:) with hostile blobs must throw,
// never trap; a state it accepts must work (a probe of commands that read every object, index
// and session it holds) and export/import to the same bytes.
//
// Input: mode (u8), permanent length (u16), permanent, volatile (the rest).
//   mode bit 0: the permanent field is version (u32) + body, sealed here (header and SHA-256);
//   bit 1: the same for the volatile field; bit 2: the first 32 bytes of the volatile body are
//   replaced by the digest the permanent blob ends with (the binding the loader checks);
//   bit 3: no volatile part at all. Sealing here lets the fuzzer reach the decoders behind
//   the integrity digest.

let world = FuzzWorld()

func encodeInput(permanent: [UInt8], volatile: [UInt8]?) -> [UInt8] {
    let p = StateCheck.unseal(permanent)
    var out: [UInt8] = [volatile == nil ? 0x09 : 0x07]
    let pfield = [UInt8(p.version >> 24), UInt8(p.version >> 16 & 0xFF), UInt8(p.version >> 8 & 0xFF), UInt8(p.version & 0xFF)] + p.body
    out += [UInt8(pfield.count >> 8), UInt8(pfield.count & 0xFF)] + pfield
    if let volatile {
        let v = StateCheck.unseal(volatile)
        out += [UInt8(v.version >> 24), UInt8(v.version >> 16 & 0xFF), UInt8(v.version >> 8 & 0xFF), UInt8(v.version & 0xFF)] + v.body
    }
    return out
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    var out = [(name: String, bytes: [UInt8])]()
    for (name, setup) in [("started", Setups.started), ("loaded", Setups.loaded)] as [(String, (FuzzWorld) -> TPM)] {
        world.reset()
        let tpm = setup(world)
        let s = SavedTPM(tpm)
        out.append((name + "-running", encodeInput(permanent: s.permanent, volatile: s.volatile)))
        out.append((name + "-permanent-only", encodeInput(permanent: s.permanent, volatile: nil)))
        _ = tpm.execute(command: Wire.command(.shutdown, [0, 1]))
        let after = SavedTPM(tpm)
        out.append((name + "-shutdown-state", encodeInput(permanent: after.permanent, volatile: nil)))
        tpm.powerOff()
        let off = SavedTPM(tpm)
        out.append((name + "-powered-off", encodeInput(permanent: off.permanent, volatile: off.volatile)))
    }
    return out
}

func field(_ bytes: [UInt8], part: UInt32, seal: Bool) -> [UInt8] {
    guard seal else { return bytes }
    var c = InputCursor(bytes)
    let version = c.u32()
    return StateCheck.seal(part: part, version: version, body: c.rest())
}

/// Handles of one kind (TPM_CAP_HANDLES, Part 3, 30.2) as the instance lists them.
func handles(_ tpm: TPM, from first: UInt32) -> [UInt32] {
    var body = [UInt8]()
    for v in [UInt32(1), first, 64] { body += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    let cmd = Wire.command(.getCapability, body)
    let r = tpm.execute(command: cmd)
    Wire.checkResponse(r, command: cmd)
    guard Wire.responseCode(r) == 0 else { return [] }
    var c = InputCursor(Array(r.dropFirst(15)))
    let n = Int(c.u32())
    return (0..<min(n, 64)).map { _ in c.u32() }
}

func probe(_ tpm: TPM, input: [UInt8]) {
    func run(_ cmd: [UInt8]) {
        let r = tpm.execute(command: cmd)
        Wire.checkResponse(r, command: cmd)
        world.now += 1
    }
    if !tpm.poweredOn {
        tpm.powerOn()
        run(Wire.command(.startup, [0, 1]))
        run(Wire.command(.startup, [0, 0]))
    }
    run(Wire.command(.pcrRead, [0, 0, 0, 2, 0, 4, 3, 0xFF, 0xFF, 0xFF, 0, 0x0B, 3, 0xFF, 0xFF, 0xFF]))
    run(Wire.command(.readClock))
    run(Wire.command(.getCapability, [0, 0, 0, 6, 0, 0, 1, 0, 0, 0, 0, 64]))
    for kind: UInt32 in [0x8000_0000, 0x8100_0000] {
        for h in handles(tpm, from: kind) {
            let hb = [UInt8(h >> 24), UInt8(h >> 16 & 0xFF), UInt8(h >> 8 & 0xFF), UInt8(h & 0xFF)]
            run(Wire.command(.readPublic, hb))
            run(Wire.command(.contextSave, hb))
            // Sign with an empty password: reaches the private part of any signing key.
            let digest = [UInt8](repeating: 0x42, count: 32)
            let params = [0, 32] + digest + [0, 0x10] + [0x80, 0x24, 0x40, 0x00, 0x00, 0x07, 0, 0]
            run(Wire.command(.sign, tag: .sessions, Wire.withPasswords(handles: [h], passwords: [[]], params: params)))
        }
    }
    for h in handles(tpm, from: 0x0100_0000) {
        let hb = [UInt8(h >> 24), UInt8(h >> 16 & 0xFF), UInt8(h >> 8 & 0xFF), UInt8(h & 0xFF)]
        run(Wire.command(.nvReadPublic, hb))
        run(Wire.command(.nvRead, tag: .sessions, Wire.withPasswords(handles: [h, h], passwords: [[]], params: [0, 8, 0, 0])))
    }
    for kind: UInt32 in [0x0200_0000, 0x0300_0000] {
        for h in handles(tpm, from: kind) {
            let hb = [UInt8(h >> 24), UInt8(h >> 16 & 0xFF), UInt8(h >> 8 & 0xFF), UInt8(h & 0xFF)]
            run(Wire.command(.policyGetDigest, hb))
            run(Wire.command(.contextSave, hb))
        }
    }
    StateCheck.roundTrip(tpm, world: world, input: input)
}

/// The host's encrypted state and migration blobs (`--key`, `--migration-key`): AES-GCM under a
/// key the fuzzer does not know, so a hostile blob must be refused (a forged one opening would
/// be a bug), and any octets sealed under a role open under that role only.
let cipher: StateCipher = {
    do { return try StateCipher(key: [UInt8](repeating: 0x5A, count: 32)) } catch { fuzzFailure("state cipher: \(error)") }
}()

func checkCipher(_ input: [UInt8]) {
    if (try? cipher.open(input, role: "permanent")) != nil { fuzzFailure("a hostile encrypted state blob opened", input: input) }
    do {
        let sealed = try cipher.seal(input, role: "volatile")
        fuzzCheck(StateCipher.isEncrypted(sealed), "a sealed blob is not recognized as encrypted")
        fuzzCheck(try cipher.open(sealed, role: "volatile") == input, "open(seal(x)) != x")
        fuzzCheck((try? cipher.open(sealed, role: "permanent")) == nil, "a blob sealed for one role opened as another")
    } catch {
        fuzzFailure("state cipher round trip: \(error)")
    }
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    checkCipher(input)
    var c = InputCursor(input)
    let mode = c.u8()
    let permanent = field(c.take(Int(c.u16())), part: 1, seal: mode & 1 != 0)
    var volatile: [UInt8]? = nil
    if mode & 8 == 0 {
        var v = c.rest()
        if mode & 4 != 0, permanent.count >= 32, v.count >= 36 {
            v.replaceSubrange(4..<36, with: permanent.suffix(32))
        }
        volatile = field(v, part: 2, seal: mode & 2 != 0)
    }
    world.reset()
    guard let tpm = try? TPM(environment: world.environment, permanentState: permanent, volatileState: volatile) else { return 0 }
    StateCheck.roundTrip(tpm, world: world, input: input)
    probe(tpm, input: input)
    return 0
}
