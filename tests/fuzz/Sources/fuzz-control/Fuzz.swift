import FuzzSupport
import Glibc
import TPMEngine
import TPMWire
import VTPMHost

// The swtpm control channel: ControlFramer fed the input as a sequence of reads (swtpm's
// reads delimit requests; input: u16 length + bytes per read, a malformed tail is one last
// read), each request answered by ControlChannel.handle on an instance whose state
// directory is in /dev/shm. Every input starts from the same stored TPM, powered on.
// Afterwards the instance must still answer a data-channel command with a well-formed
// response when it is running.

let world = FuzzWorld()

let instance: Instance = {
    let template = "/dev/shm/vtpm-fuzz-control.XXXXXX"
    var path = Array(template.utf8CString)
    guard mkdtemp(&path) != nil else { fuzzFailure("mkdtemp failed") }
    let dir = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    do {
        let store = try StateStore(directory: dir)
        return Instance(store: store, environment: world.environment, log: .discard)
    } catch { fuzzFailure("cannot open the state store: \(error)") }
}()

let initialState: [UInt8] = {
    world.reset()
    return Setups.loaded(world).exportPermanentState()
}()

func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

func reads(_ rs: [[UInt8]]) -> [UInt8] { rs.flatMap { [UInt8($0.count >> 8), UInt8($0.count & 0xFF)] + $0 } }

/// Seeds: each request as QEMU, libvirt and swtpm_ioctl send it, and the migration and
/// suspend sequences (FUZZ_WRITE_SEEDS).
func seeds() -> [(name: String, bytes: [UInt8])] {
    let permanent = initialState
    let single: [(String, [UInt8])] = [
        ("get-capability", u32(1)), ("init", u32(2) + u32(0)), ("init-delete-volatile", u32(2) + u32(1)),
        ("shutdown", u32(3)), ("get-established", u32(4)), ("set-locality-3", u32(5) + [3]),
        ("set-locality-padded", u32(5) + [4, 0, 0, 0]), ("hash-start", u32(6)), ("hash-data", u32(7) + u32(4) + [1, 2, 3, 4]),
        ("cancel", u32(9)), ("store-volatile", u32(10)), ("reset-established", u32(11) + [3]),
        ("get-stateblob-permanent", u32(12) + u32(0) + u32(1) + u32(0)),
        ("get-stateblob-volatile", u32(12) + u32(0) + u32(2) + u32(0)),
        ("get-stateblob-offset", u32(12) + u32(0) + u32(1) + u32(100)),
        ("stop", u32(14)), ("get-config", u32(15)), ("set-buffersize-query", u32(17) + u32(0)),
        ("set-buffersize", u32(17) + u32(4096)), ("get-info", u32(18) + u32(0) + u32(0) + u32(0)),
    ]
    var out = single.map { (name: $0.0, bytes: reads([$0.1])) }
    out.append(
        (
            "migrate-in",
            reads([
                u32(14), u32(13) + u32(0) + u32(1) + u32(UInt32(permanent.count)) + permanent,
                u32(13) + u32(0) + u32(3) + u32(0), u32(2) + u32(0), u32(4),
            ])
        ))
    out.append(("suspend-resume", reads([u32(10), u32(14), u32(2) + u32(0), u32(12) + u32(0) + u32(2) + u32(0)])))
    out.append(
        (
            "set-stateblob-split",
            reads([
                u32(14), u32(13) + u32(0) + u32(1) + u32(UInt32(permanent.count)), Array(permanent.prefix(100)),
                Array(permanent.dropFirst(100)), u32(2) + u32(0),
            ])
        ))
    out.append(("set-stateblob-empty-volatile", reads([u32(14), u32(13) + u32(0) + u32(2) + u32(0), u32(2) + u32(0)])))
    return out
}

public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    writeSeedsIfAsked(seeds())
    let input = fuzzInput(data, size)
    var c = InputCursor(input)
    var chunks = [[UInt8]]()
    while c.remaining > 0, chunks.count < 64 {
        if c.remaining < 2 {
            chunks.append(c.rest())
            break
        }
        chunks.append(c.take(Int(c.u16())))
    }
    let permanent = initialState
    world.reset()
    instance.sync { core in
        core.powerOff()
        do {
            try core.importState(.permanent, permanent)
            try core.importState(.volatile, [])
            try core.powerOn(resumeVolatile: false)
        } catch { fuzzFailure("reset of the instance failed: \(error)") }
        core.locality = 0
        var framer = ControlFramer()
        var open = true
        for chunk in chunks where open {
            framer.append(chunk)
            while open, let m = framer.next() {
                let (reply, disposition) = ControlChannel.handle(m, core: core)
                fuzzCheck(reply.count >= 4, "control reply shorter than a result word: \(hex(reply))")
                open = disposition == .keepOpen && !framer.isFailed
            }
        }
        if core.isRunning {
            let cmd = Wire.command(.pcrRead, [0, 0, 0, 1, 0, 0x0B, 3, 0xFF, 0xFF, 0xFF])
            Wire.checkResponse(core.execute(cmd), command: cmd)
        }
    }
    return 0
}
